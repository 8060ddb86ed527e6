"""manage.py mcp_oauth_cleanup: delete expired OAuth tokens and stale client registrations."""

from django.core.management.base import BaseCommand

from ...oauth.cleanup import clean_up

LABELS = {
    "access_tokens": "expired access tokens",
    "refresh_tokens": "revoked or expired refresh tokens",
    "grants": "expired authorization codes",
    "id_tokens": "expired ID tokens",
    "cimd_applications": "expired applications from client metadata documents",
    "abandoned_registrations": "dynamically registered applications never used",
}


class Command(BaseCommand):
    help = (
        "Delete expired OAuth tokens and codes (django-oauth-toolkit's cleartokens), expired applications "
        "from client metadata documents (clearcimdapplications), and applications registered dynamically "
        "more than MCP_BRIDGE['OAUTH_ABANDONED_REGISTRATION_DAYS'] days ago that never obtained a token."
    )

    def handle(self, *args, **options):
        for kind, deleted in clean_up().items():
            self.stdout.write(f"Deleted {deleted} {LABELS[kind]}.")
