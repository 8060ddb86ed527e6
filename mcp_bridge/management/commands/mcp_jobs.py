"""manage.py mcp_jobs sweep: delete expired report jobs and queue again those whose worker was lost (for cron)."""

from django.core.management.base import BaseCommand, CommandError

from mcp_bridge import jobs


class Command(BaseCommand):
    help = "Delete expired report jobs and their results; queue again running jobs whose worker was lost."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["sweep"], help="sweep: what Celery beat runs every minute.")

    def handle(self, *args, action, **options):
        try:
            deleted, requeued = jobs.sweep()
        except Exception as exc:
            raise CommandError(f"The sweep failed: {exc}") from exc
        self.stdout.write(f"{deleted} expired job(s) deleted, {requeued} job(s) queued again.")
