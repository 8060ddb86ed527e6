"""Celery tasks. Task bodies stay thin: they call plain functions that tests can run directly."""

from celery import shared_task


@shared_task(name="tasks.ping")
def ping():
    """A no-op used to check that a worker is consuming from the broker."""
    return "pong"
