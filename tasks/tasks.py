"""Celery tasks. Task bodies stay thin: they call plain functions that tests can run directly.

Celery's autodiscovery imports this module as `tasks.tasks` (the app is named `tasks`, like the module
every app keeps its Celery tasks in).
"""

import os
import socket
import time

from celery import shared_task


@shared_task(name="tasks.ping")
def ping():
    """A no-op used to check that a worker is consuming from the broker."""
    return "pong"


@shared_task(name="tasks.whoami", bind=True)
def whoami(self, hold=0):
    """Return which worker ran this task: its node name, host name and pool process id.

    *hold* keeps the task running that many seconds first, so a test can catch it mid-run.
    """
    time.sleep(hold)
    return {"worker": self.request.hostname, "host": socket.gethostname(), "pid": os.getpid()}
