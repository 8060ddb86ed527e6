"""Housekeeping of the authorization server's tables: expired tokens, stale client registrations.

`clean_up()` runs django-oauth-toolkit's `cleartokens` and `clearcimdapplications` commands, then deletes
the applications that registered themselves (dynamic registration) more than
MCP_BRIDGE['OAUTH_ABANDONED_REGISTRATION_DAYS'] days ago and never obtained anything: open registration
lets anyone create them, and DOT never deletes them. Run it periodically: the `mcp_oauth_cleanup` command,
or the Celery task `mcp_bridge.oauth_cleanup` in the beat schedule.
"""

import io
from datetime import timedelta

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from ..conf import mcp_settings


def token_models():
    return {
        "access_tokens": get_access_token_model(),
        "refresh_tokens": get_refresh_token_model(),
        "grants": get_grant_model(),
        "id_tokens": get_id_token_model(),
    }


def clean_up():
    """Delete expired tokens and stale registrations; return the number of rows deleted, by kind.

    The token counts are the rows gone between before and after `cleartokens` (DOT reports none itself),
    so a token issued meanwhile makes them lower, never higher.
    """
    Application = get_application_model()
    before = {kind: model.objects.count() for kind, model in token_models().items()}
    call_command("cleartokens", stdout=io.StringIO(), stderr=io.StringIO())
    counts = {kind: max(0, before[kind] - model.objects.count()) for kind, model in token_models().items()}

    cimd = Application.objects.filter(registration_source=Application.RegistrationSource.CIMD)
    cimd_before = cimd.count()
    call_command("clearcimdapplications", stdout=io.StringIO())
    counts["cimd_applications"] = max(0, cimd_before - cimd.count())

    counts["abandoned_registrations"] = delete_abandoned_registrations()
    return counts


def delete_abandoned_registrations(now=None):
    """Delete dynamically registered applications older than the limit that never obtained a token or code.

    Their registration access token (RFC 7592) does not count: every registration has one. Returns how
    many were deleted.
    """
    Application = get_application_model()
    now = now or timezone.now()
    cutoff = now - timedelta(days=mcp_settings.OAUTH_ABANDONED_REGISTRATION_DAYS)
    candidates = Application.objects.filter(registration_source=Application.RegistrationSource.DCR, created__lt=cutoff)
    with transaction.atomic():
        # Locked so that a token issued meanwhile is either seen below or waits (its insert checks the
        # application row), and is never deleted with its application.
        abandoned = set(candidates.select_for_update().values_list("pk", flat=True))
        in_use = set()
        for kind, model in token_models().items():
            tokens = model.objects.filter(application_id__in=abandoned)
            if kind == "access_tokens":
                tokens = tokens.exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
            in_use.update(tokens.values_list("application_id", flat=True))
        abandoned -= in_use
        Application.objects.filter(pk__in=abandoned).delete()
    return len(abandoned)
