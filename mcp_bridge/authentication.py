"""Who is calling: authentication classes shaped like DRF's, resolving a request to a Django user.

Each class in MCP_BRIDGE['AUTHENTICATION_CLASSES'] has `authenticate(request)`, which returns
`(user, principal)` for a credential it accepts, None for one that is not its kind, and raises
AuthenticationFailed for one of its kind that is bad; and `authenticate_header(request)`, the
challenge sent with a 401 (the first class's is used, as in DRF). API keys (here) and OAuth access
tokens (`mcp_bridge.oauth.authentication`) are two such classes; a project adds its own.

The `Principal` then loads the user inside each call's unit of work. The verified credential and its
user are remembered in the process under the access generation, which every change saved to users,
permissions or credentials replaces (see `permissions`): a revoked credential or a deactivated user is
refused on the very next call, in every process, without a credential query per call.
"""

import hmac
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, router
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from . import scopes
from .conf import mcp_settings
from .exceptions import AuthenticationFailed
from .models import ApiKey, hash_api_key
from .process_cache import ProcessCache


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: which user, through which credential."""

    kind: str  # "api_key", "oauth", "local" (stdio and in-process), or an authentication class's own kind
    user_id: Any
    credential_id: Any = None
    label: str = ""
    expires_at: Any = None
    authenticator: Any = field(default=None, compare=False, repr=False)
    #: What stays the same when the credential is renewed (an OAuth client acting for a user: refreshing
    #: the token changes credential_id, not this); None: the credential itself.
    identity: Any = None
    #: The OAuth scopes granted, with those they imply (mcp_bridge.scopes.expand); None: not limited by
    #: scopes (API keys, stdio), the user's Django permissions alone decide.
    scopes: frozenset | None = None

    def allows_scope(self, scope):
        return scopes.allows(self.scopes, scope)

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
            key = (generation, self.kind, self.credential_id or self.user_id)
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
        return load_active_user(self.user_id)  # a local principal: stdio and in-process

    @property
    def session_identity(self):
        """A stable id of the caller's credential, kept across renewals: a handshake-era session is bound
        to it, and rate limits and request state are counted and kept under it."""
        return f"{self.kind}:{self.identity or self.credential_id or self.user_id}"


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
    user = get_user_model()._meta.default_manager.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise AuthenticationFailed("The user this connection acts as does not exist or is inactive.")
    return user


def local_principal(user):
    """A principal for a trusted local transport (stdio, in-process) that acts as *user*."""
    return Principal(kind="local", user_id=user.pk, label=user.get_username())


def bearer_token(request):
    """The bearer token of *request*'s Authorization header, or None if it carries none."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        return parts[1].decode()
    except UnicodeDecodeError:
        raise AuthenticationFailed("The bearer token is not valid: it must be ASCII.") from None


class McpAuthentication(BaseAuthentication):
    """Base of mcp_bridge's authentication classes: DRF's interface, plus what the MCP endpoint needs.

    `authenticate(request)` returns `(user, Principal)`. `credential_models`: saving or deleting one of
    these replaces the access generation (forgets remembered credentials everywhere).
    `remember_by_authorization`: the principal may be remembered for PRINCIPAL_CACHE_SECONDS under the
    request's Authorization header, so a warm request needs no thread hop; a class that reads other
    headers (a gateway's signed header) sets it False. `load_user(principal)` re-checks the credential
    for each call (its result is remembered per access generation).
    """

    kind = ""
    credential_models: tuple = ()
    remember_by_authorization = True

    def authenticate_header(self, request):
        return bearer_challenge({"realm": "mcp", **getattr(request, "oauth2_error", {})})

    def load_user(self, principal):
        return load_active_user(principal.user_id)


class ApiKeyAuthentication(McpAuthentication):
    """Bearer API keys issued in the Django admin or with `manage.py mcp_apikey create`."""

    kind = "api_key"
    credential_models = (ApiKey,)

    def authenticate(self, request):
        token = bearer_token(request)
        prefix = ApiKey.parse_prefix(token) if token else None
        if prefix is None:
            return None
        api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
        if api_key is None or not _digest_matches(api_key.key_hash, token):
            raise AuthenticationFailed("The API key is not valid.")
        if not api_key.is_usable():
            raise AuthenticationFailed("The API key is revoked or expired, or its user is inactive.")
        return api_key.user, Principal(
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


# Credentials already verified, so a warm HTTP request needs no thread hop before the SDK sees it;
# each call still loads its user through `Principal.load_user` in its own unit of work.
PRINCIPAL_CACHE_SECONDS = 30
_principals = ProcessCache(maxsize=REMEMBERED_CREDENTIALS, ttl=PRINCIPAL_CACHE_SECONDS)


def remembered_principal(authorization):
    """The principal verified for the Authorization header value *authorization* in the last
    PRINCIPAL_CACHE_SECONDS, unless it has expired since."""
    principal = _principals.get(authorization)
    if principal is None or (principal.expires_at is not None and principal.expires_at <= timezone.now()):
        return None
    return principal


def remember_principal(authorization, principal):
    if getattr(principal.authenticator, "remember_by_authorization", True):
        _principals.set(authorization, principal)


def forget_principal(authorization):
    """Forget the principal remembered for *authorization* (its credential was refused since)."""
    _principals.pop(authorization)


def forget_credentials(**kwargs):
    """Drop what this process remembers of credentials (connected to saves of credentials and users)."""
    _principals.clear()
    _remembered_users.clear()
    _recorded_uses.clear()


def _digest_matches(stored_digest, token):
    return hmac.compare_digest(stored_digest, hash_api_key(token))


def get_authenticators():
    return [cls() for cls in mcp_settings.AUTHENTICATION_CLASSES]


def authenticate(request):
    """Return the Principal of *request*'s credential; raise AuthenticationFailed if no class accepts it.

    Unlike DRF, a class that refuses the credential does not end the search: a token one class does not
    know (an API key, to the OAuth class) may be another's. If none accepts it, the last refusal is
    raised: the class listed later knows the narrower kind of credential and says more.
    """
    if "access_token" in request.GET:  # RFC 6750 section 5.3, RFC 9700: URLs end up in logs and histories
        raise AuthenticationFailed(
            "Send the access token in the Authorization header, never in the URL.", error="invalid_request", status=400
        )
    refusal = None
    for authenticator in get_authenticators():
        try:
            accepted = authenticator.authenticate(request)
        except AuthenticationFailed as exc:
            refusal = exc
            continue
        if accepted is not None:
            return accepted[1]
    if refusal is not None:
        raise refusal
    if get_authorization_header(request):
        raise AuthenticationFailed("The bearer token is not a credential this server accepts.")
    raise AuthenticationFailed(
        "Authentication required: send 'Authorization: Bearer <token>' (an OAuth access token or an API key).",
        error=None,
    )


def challenge(request, failure):
    """The WWW-Authenticate value answering *failure* (AuthenticationFailed): the first class's challenge.

    The error travels as DOT's and DRF's OAuth classes expect it, in `request.oauth2_error`.
    """
    authenticators = get_authenticators()
    if not authenticators:
        return None
    request.oauth2_error = {"error": failure.error, "error_description": failure.message} if failure.error else {}
    return authenticators[0].authenticate_header(request)


def bearer_challenge(params):
    """Render `Bearer k="v", ...` (RFC 6750 section 3), values escaped for a quoted-string."""
    rendered = ", ".join(f'{key}="{_quoted(value)}"' for key, value in params.items() if value)
    return f"Bearer {rendered}" if rendered else "Bearer"


def _quoted(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
