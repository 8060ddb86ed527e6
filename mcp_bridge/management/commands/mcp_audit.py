"""manage.py mcp_audit cleanup: delete audit rows past MCP_BRIDGE['AUDIT_RETENTION_DAYS'] (for cron)."""

from django.core.management.base import BaseCommand, CommandError

from mcp_bridge import audit
from mcp_bridge.conf import mcp_settings


class Command(BaseCommand):
    help = "Delete MCP audit trail rows older than MCP_BRIDGE['AUDIT_RETENTION_DAYS'], in chunks."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["cleanup"], help="cleanup: what the Celery beat task runs daily.")
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days instead of AUDIT_RETENTION_DAYS (at least 1).",
        )

    def handle(self, *args, action, days, **options):
        if days is not None and days < 1:
            raise CommandError(f"--days must be at least 1 (got {days}); use a larger number to keep more.")
        keep = mcp_settings.AUDIT_RETENTION_DAYS if days is None else days
        if keep is None:
            self.stdout.write("AUDIT_RETENTION_DAYS is None: audit rows are kept for ever; nothing deleted.")
            return
        try:
            deleted = audit.cleanup(keep)
        except Exception as exc:
            raise CommandError(f"The audit cleanup failed: {exc}") from exc
        self.stdout.write(f"{deleted} audit row(s) older than {keep} day(s) deleted.")
