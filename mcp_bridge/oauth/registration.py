"""Dynamic client registration policy: which redirect URIs a client may register, and how often.

Registration at /o/register/ is open (MCP clients register themselves), so two limits apply on top of
django-oauth-toolkit's own validation:

* Redirect URIs (the MCP authorization spec): https anywhere, http only to this computer's loopback
  (localhost, 127.0.0.1, [::1]; any port), or a private-use scheme of a known native client
  (MCP_BRIDGE['OAUTH_NATIVE_REDIRECT_SCHEMES'], e.g. cursor:// and vscode://). The same policy holds for
  clients described by a Client ID Metadata Document (`MetadataFetcher`, OAUTH2_PROVIDER's
  CIMD_METADATA_FETCHER).
* A rate per client IP address (MCP_BRIDGE['OAUTH_REGISTRATION_RATE']), counted in fixed windows in the
  MCP cache (MCP_BRIDGE['CACHE_ALIAS']), so every process shares the budget.
"""

import logging
import math
import time
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher

from ..cache import shared_cache
from ..conf import mcp_settings
from ..throttling import PERIOD_WORDS, parse_rate

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(uri):
    """True if *uri* is an http(s) URI to this computer's loopback interface."""
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and (parts.hostname or "") in LOOPBACK_HOSTS


def redirect_uri_problem(uri):
    """Return why *uri* may not be registered as a redirect URI, or None if it may."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    native = [scheme.lower() for scheme in mcp_settings.OAUTH_NATIVE_REDIRECT_SCHEMES]
    if scheme == "https" and parts.hostname:
        return None
    if scheme == "http" and is_loopback(uri):
        return None
    if scheme in native:
        return None
    allowed = "https URIs, http URIs to localhost, 127.0.0.1 or [::1]"
    if native:
        allowed += f", or the native app schemes {', '.join(f'{name}://' for name in native)}"
    if scheme == "http":
        why = "http is allowed only to this computer's loopback interface"
    elif scheme == "https":
        why = "it names no host"
    elif scheme:
        why = f"the scheme {scheme}:// is not allowed"
    else:
        why = "it is not an absolute URI"
    return f"The redirect URI {uri!r} cannot be registered: {why}. Allowed: {allowed}."


def redirect_uris_problem(redirect_uris):
    """Return the problem of the first unacceptable URI of *redirect_uris* (a list of strings), or None.

    Anything that is not a list of strings is left to django-oauth-toolkit, which explains the expected shape.
    """
    if not isinstance(redirect_uris, list):
        return None
    for uri in redirect_uris:
        if isinstance(uri, str):
            problem = redirect_uri_problem(uri)
            if problem:
                return problem
    return None


class MetadataFetcher(SafeMetadataFetcher):
    """django-oauth-toolkit's SSRF-hardened CIMD fetcher, holding documents to the redirect URI policy.

    A document with a redirect URI registration would refuse describes no client: django-oauth-toolkit
    then treats the client_id as unknown (and backs off from fetching it again for a while).
    """

    def fetch(self, client_id):
        metadata, max_age = super().fetch(client_id)
        problem = redirect_uris_problem(metadata.get("redirect_uris") if isinstance(metadata, dict) else None)
        if problem:
            raise CIMDError(problem)
        return metadata, max_age


def registration_rate():
    """Return (registrations, period in seconds) allowed per client IP address, or (None, None) for no limit."""
    rate = mcp_settings.OAUTH_REGISTRATION_RATE
    try:
        return parse_rate(rate)
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            f"Invalid MCP_BRIDGE['OAUTH_REGISTRATION_RATE'] {rate!r}: use '<registrations>/<period>' with a whole "
            "number, at least 1, per s, min, hour or day, e.g. '20/hour', or None for no limit."
        ) from None


class RegistrationRateLimit:
    """A fixed-window limit of registrations per client IP address.

    `timer` is a class attribute so tests can move through windows without sleeping.
    """

    timer = time.time
    cache_format = "mcp_bridge:oauth:registrations:%(ident)s:%(window)d"

    def __init__(self):
        self.num_requests, self.duration = registration_rate()
        self.now = None

    def get_ident(self, request):
        """The client's IP address as the server sees it (run uvicorn or gunicorn with the proxy's address
        trusted, --forwarded-allow-ips, so it is the client's and not the proxy's)."""
        return request.META.get("REMOTE_ADDR") or "unknown"

    def allow_request(self, request):
        """Count this registration; return False if it is over the limit.

        A cache that fails does not refuse registrations (they are still validated): the failure is logged.
        """
        if self.num_requests is None:
            return True
        self.now = self.timer()
        key = self.cache_format % {"ident": self.get_ident(request), "window": int(self.now // self.duration)}
        try:
            count = self.count(key, self.duration + 1)  # a window's counter outlives the window by a second
        except Exception:  # any cache backend's error: a rate limit must not take registration down with it
            logger.warning(
                "Could not count a client registration in the cache %r; the registration rate limit is not applied.",
                mcp_settings.CACHE_ALIAS,
                exc_info=True,
            )
            return True
        return count <= self.num_requests

    @staticmethod
    def count(key, timeout):
        cache = shared_cache()
        if cache.add(key, 1, timeout):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # the window's counter expired between add and incr
            cache.set(key, 1, timeout)
            return 1

    def wait(self):
        """Whole seconds until the current window ends and registrations are allowed again."""
        return max(1, math.ceil(self.duration - self.now % self.duration))

    def get_message(self):
        period = PERIOD_WORDS.get(self.duration, f"{self.duration} s")
        return (
            f"Too many client registrations from this address: at most {self.num_requests} per {period}. "
            f"Try again in {self.wait()} s, or reuse the client_id of an earlier registration."
        )
