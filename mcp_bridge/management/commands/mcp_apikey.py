"""Issue, list and revoke MCP API keys."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mcp_bridge.models import ApiKey


class Command(BaseCommand):
    help = "Manage MCP API keys: create (printed once), list, revoke."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a key for a user; the key is printed once.")
        create.add_argument("--user", required=True, help="Username the key acts as.")
        create.add_argument("--name", default="", help="What the key is for.")
        create.add_argument(
            "--expires-days", type=int, default=None, help="Days until the key expires (default: never)."
        )
        listing = sub.add_parser("list", help="List keys (never the secrets).")
        listing.add_argument("--user", default=None)
        revoke = sub.add_parser("revoke", help="Revoke a key by its prefix.")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **options):
        return getattr(self, f"handle_{action}")(**options)

    def handle_create(self, user, name, expires_days, **options):
        try:
            owner = get_user_model()._meta.default_manager.get_by_natural_key(user)
        except get_user_model().DoesNotExist:
            raise CommandError(
                f"No user named {user!r}. Create it first (manage.py createsuperuser or the admin)."
            ) from None
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        api_key, raw_key = ApiKey.issue(owner, name or f"key for {user}", expires_at=expires_at)
        # The explanation goes to stderr and the key alone to stdout (`KEY=$(manage.py mcp_apikey create ...)`);
        # flushed in that order, so a combined log (2>&1) reads explanation first, whatever the buffering.
        self.stderr.write(f"Issued API key {api_key.prefix} for {user}; store it now, it is not shown again:")
        self.stderr.flush()
        self.stdout.write(raw_key)
        self.stdout.flush()

    def handle_list(self, user, **options):
        keys = ApiKey.objects.select_related("user")
        if user:
            keys = keys.filter(user__username=user)
        for key in keys:
            state = (
                "revoked"
                if key.revoked_at
                else ("expired" if key.expires_at and key.expires_at <= timezone.now() else "active")
            )
            self.stdout.write(
                f"{key.prefix}  {key.user.get_username():<20} {state:<8} {key.name}  last used: {key.last_used_at or 'never'}"
            )

    def handle_revoke(self, prefix, **options):
        key = ApiKey.objects.filter(prefix=prefix).first()
        if key is None:
            raise CommandError(f"No API key with prefix {prefix!r}; see `manage.py mcp_apikey list`.")
        key.revoke()
        self.stdout.write(f"Revoked {prefix}.")
