"""Who is calling: bearer credentials resolved to a Django user.

An authentication class turns a bearer token into a `Principal` (or None: "not my kind of
token"); the principal then loads the user inside each call's database unit of work, so a revoked
key or a deactivated user is refused on the very next call.
"""

import hmac
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from .conf import mcp_settings
from .exceptions import AuthenticationFailed
from .models import ApiKey, hash_api_key


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: which user, through which credential."""

    kind: str  # "api_key", "local" (stdio and in-process), or an authentication class's own kind
    user_id: Any
    credential_id: Any = None
    label: str = ""
    expires_at: Any = None
    authenticator: Any = field(default=None, compare=False, repr=False)

    def load_user(self):
        """Return the user for this call, re-checking the credential (one query)."""
        if self.authenticator is not None:
            return self.authenticator.load_user(self)
        return load_active_user(self.user_id)

    @property
    def session_identity(self):
        """A stable id of the credential; a handshake-era session is bound to it."""
        return f"{self.kind}:{self.credential_id or self.user_id}"


def load_active_user(user_id):
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise AuthenticationFailed("The user this connection acts as does not exist or is inactive.")
    return user


def local_principal(user):
    """A principal for a trusted local transport (stdio, in-process) that acts as *user*."""
    return Principal(kind="local", user_id=user.pk, label=user.get_username())


class ApiKeyAuthentication:
    """Bearer API keys issued in the Django admin or with `manage.py mcp_apikey create`."""

    kind = "api_key"

    def authenticate(self, token):
        prefix = ApiKey.parse_prefix(token)
        if prefix is None:
            return None
        api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
        if api_key is None or not _digest_matches(api_key.key_hash, token):
            raise AuthenticationFailed("The API key is not valid.")
        if not api_key.is_usable():
            raise AuthenticationFailed("The API key is revoked or expired, or its user is inactive.")
        return Principal(
            kind=self.kind,
            user_id=api_key.user_id,
            credential_id=api_key.pk,
            label=f"{api_key.user.get_username()} via API key {api_key.name!r}",
            expires_at=api_key.expires_at,
            authenticator=self,
        )

    def load_user(self, principal):
        now = timezone.now()
        api_key = ApiKey.objects.usable(now).select_related("user").filter(pk=principal.credential_id).first()
        if api_key is None:
            raise AuthenticationFailed("The API key is revoked or expired, or its user is inactive.")
        interval = mcp_settings.API_KEY_LAST_USED_INTERVAL
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() >= interval:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.user


def _digest_matches(stored_digest, token):
    return hmac.compare_digest(stored_digest, hash_api_key(token))


def get_authenticators():
    return [cls() for cls in mcp_settings.AUTHENTICATION_CLASSES]


def authenticate_token(token):
    """Return the Principal for a bearer *token*; raise AuthenticationFailed if nobody accepts it."""
    for authenticator in get_authenticators():
        principal = authenticator.authenticate(token)
        if principal is not None:
            return principal
    raise AuthenticationFailed("The bearer token is not a credential this server accepts.")
