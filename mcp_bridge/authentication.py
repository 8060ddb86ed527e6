"""Who is calling: bearer credentials resolved to a Django user.

An authentication class turns a bearer token into a `Principal` (or None: "not my kind of
token"); the principal then loads the user inside each call's unit of work. The verified
credential and its user are remembered in the process under the access generation, which every
change saved to users, permissions or credentials replaces (see `permissions`): a revoked key or a
deactivated user is refused on the very next call, in every process, without a credential query
per call.
"""

import hmac
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, router
from django.utils import timezone

from .conf import mcp_settings
from .exceptions import AuthenticationFailed
from .models import ApiKey, hash_api_key
from .process_cache import ProcessCache


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: which user, through which credential."""

    kind: str  # "api_key", "local" (stdio and in-process), or an authentication class's own kind
    user_id: Any
    credential_id: Any = None
    label: str = ""
    expires_at: Any = None
    authenticator: Any = field(default=None, compare=False, repr=False)

    def load_user(self, generation=None):
        """Return the user for this call, with the credential re-checked.

        Under an access *generation* the check is remembered for CREDENTIAL_CACHE_TIMEOUT seconds
        (a fresh user instance is built for each call); without one, it is a database query.
        """
        if self.expires_at is not None and self.expires_at <= timezone.now():
            raise AuthenticationFailed("The credential has expired: issue a new one.")
        timeout = mcp_settings.CREDENTIAL_CACHE_TIMEOUT
        if generation is None or not timeout:
            user = self._load_user_now()
        else:
            key = (generation, self.session_identity)
            remembered = _remembered_users.get(key)
            if remembered is not None:
                user = remembered.build()
            else:
                user = self._load_user_now()
                _remembered_users.set(key, UserSnapshot.of(user), ttl=timeout)
        if self.authenticator is not None and hasattr(self.authenticator, "record_use"):
            self.authenticator.record_use(self)
        return user

    def _load_user_now(self):
        if self.authenticator is not None:
            return self.authenticator.load_user(self)
        return load_active_user(self.user_id)

    @property
    def session_identity(self):
        """A stable id of the credential; a handshake-era session is bound to it."""
        return f"{self.kind}:{self.credential_id or self.user_id}"


@dataclass(frozen=True)
class UserSnapshot:
    """A user's field values: each `build()` is a fresh instance (nothing shared across threads, and
    none of what backends cached on the original)."""

    model: Any
    db: str
    values: tuple

    @classmethod
    def of(cls, user):
        # The database the instance came from, through the router's public API (which, unless a
        # router says otherwise, answers with the instance's own database).
        db = router.db_for_read(type(user), instance=user)
        return cls(type(user), db, tuple(getattr(user, f.attname) for f in user._meta.concrete_fields))

    def build(self):
        return self.model.from_db(self.db, None, self.values)


#: Credentials, users and last-used records a process remembers at most (least recently used go first).
REMEMBERED_CREDENTIALS = 10_000
_remembered_users = ProcessCache(maxsize=REMEMBERED_CREDENTIALS)


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
    #: Saving or deleting one of these replaces the access generation (forgets remembered credentials).
    credential_models = (ApiKey,)

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
        api_key = ApiKey.objects.usable().select_related("user").filter(pk=principal.credential_id).first()
        if api_key is None:
            raise AuthenticationFailed("The API key is revoked or expired, or its user is inactive.")
        return api_key.user

    def record_use(self, principal):
        """Write the key's last-used time, at most once per API_KEY_LAST_USED_INTERVAL per process."""
        interval = mcp_settings.API_KEY_LAST_USED_INTERVAL
        with _recorded_lock:  # check and set as one step: concurrent calls write once
            if _recorded_uses.get(principal.credential_id) is not None:
                return
            _recorded_uses.set(principal.credential_id, True, ttl=interval)
        moment = timezone.now()
        # Other processes record the same key; the condition keeps it to one write per interval.
        ApiKey.objects.filter(pk=principal.credential_id).filter(
            models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=moment - timedelta(seconds=interval))
        ).update(last_used_at=moment)


_recorded_lock = threading.Lock()
_recorded_uses = ProcessCache(maxsize=REMEMBERED_CREDENTIALS)


# Bearer tokens already verified, so a warm HTTP request needs no thread hop before the SDK sees it;
# each call still loads its user through `Principal.load_user` in its own unit of work.
PRINCIPAL_CACHE_SECONDS = 30
_principals = ProcessCache(maxsize=REMEMBERED_CREDENTIALS, ttl=PRINCIPAL_CACHE_SECONDS)


def remembered_principal(token):
    """The principal verified for *token* in the last PRINCIPAL_CACHE_SECONDS, unless it has expired since."""
    principal = _principals.get(token)
    if principal is None or (principal.expires_at is not None and principal.expires_at <= timezone.now()):
        return None
    return principal


def remember_principal(token, principal):
    _principals.set(token, principal)


def forget_credentials(**kwargs):
    """Drop what this process remembers of credentials (connected to saves of credentials and users)."""
    _principals.clear()
    _remembered_users.clear()
    _recorded_uses.clear()


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
