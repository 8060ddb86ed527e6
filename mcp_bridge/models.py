"""API keys for remote callers, and the tool registry that per-tool grants hang on."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

API_KEY_PREFIX = "mcpb"


def hash_api_key(raw_key):
    """Return the stored digest of *raw_key*.

    Keys are 256-bit random secrets, so one SHA-256 pass is enough: there is nothing to brute-force
    that a slow password hash would protect.
    """
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, now=None):
        """Keys that are neither revoked nor expired, of active users."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A bearer credential that lets an MCP client act as one Django user.

    Only a digest is stored: the key itself is shown once, when it is issued.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mcp_api_keys",
        verbose_name=_("user"),
        help_text=_("The MCP client acts as this user, with exactly this user's permissions."),
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("What the key is for, e.g. 'Claude Desktop on Ana's laptop'.")
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key digest"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, help_text=_("Leave empty for no expiry."))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({API_KEY_PREFIX}_{self.prefix}_…)"

    @classmethod
    def generate(cls):
        """Return a new (prefix, raw_key) pair; the prefix is the key's public, indexed id."""
        prefix = secrets.token_hex(6)
        raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        return prefix, raw_key

    @classmethod
    def issue(cls, user, name, expires_at=None):
        """Create a key for *user*; return (api_key, raw_key). The raw key cannot be recovered later."""
        prefix, raw_key = cls.generate()
        api_key = cls.objects.create(
            user=user, name=name, prefix=prefix, key_hash=hash_api_key(raw_key), expires_at=expires_at
        )
        return api_key, raw_key

    @staticmethod
    def parse_prefix(raw_key):
        """Return the prefix of a well-formed key, or None."""
        parts = raw_key.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
            return None
        return parts[1]

    def is_usable(self, now=None):
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now) and self.user.is_active

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class Tool(models.Model):
    """One registered MCP tool; its `call_<name>` permission is the per-tool grant.

    Rows and permissions are kept in step with the registry after every migrate, so admins grant
    tools to users and groups with Django's own permission widgets.
    """

    name = models.CharField(_("name"), max_length=128, unique=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("MCP tool")
        verbose_name_plural = _("MCP tools")
        ordering = ["name"]
        default_permissions = ()

    def __str__(self):
        return self.name

    @staticmethod
    def permission_codename(tool_name):
        return f"call_{tool_name}"

    @classmethod
    def permission_name(cls, tool_name):
        """The full 'app_label.codename' string checked with user.has_perm()."""
        return f"{cls._meta.app_label}.{cls.permission_codename(tool_name)}"


class AccessGeneration(models.Model):
    """The access generation in the database: one row, a new value on every change to who may do what.

    Processes whose MCP cache is their own (LocMemCache, DummyCache) read it here on every call, so
    a grant or a revocation saved in any other process reaches them on the next call.
    """

    value = models.CharField(_("value"), max_length=32)

    class Meta:
        verbose_name = _("access generation")
        default_permissions = ()

    def __str__(self):
        return self.value
