"""The Celery task of the OAuth housekeeping (`cleanup.clean_up`), for Celery beat.

Not an app's `tasks` module, so Celery's autodiscovery does not find it: list it in CELERY_IMPORTS.
"""

from celery import shared_task

from .cleanup import clean_up

CLEANUP_TASK = "mcp_bridge.oauth_cleanup"


@shared_task(name=CLEANUP_TASK, ignore_result=True)
def oauth_cleanup():
    """Delete expired tokens and stale client registrations; return the counts by kind."""
    return clean_up()
