"""Sealing of 2026-07-28 multi-round-trip request state, bound to the caller that asked.

A tool that asks the client something (elicitation, sampling, roots) on 2026-07-28 ends its call
with state the client sends back on the retry. The SDK's RequestStateBoundary encrypts and
authenticates that state on its way out and checks it on its way in, under keys derived here from
SECRET_KEY (and SECRET_KEY_FALLBACKS, so a key rotation does not break calls in flight), and only
for the credential it was issued to.
"""

import hashlib

from django.conf import settings
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

from .principals import request_principal


def request_state_keys():
    """Return the keys that seal request state: one per SECRET_KEY, the current one first."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [hashlib.sha256(f"mcp_bridge.request_state:{secret}".encode()).digest() for secret in secrets]


def bound_identity(ctx):
    """Return the credential request state is bound to: state sealed for one caller is refused for another."""
    principal = request_principal(ctx)
    return principal.session_identity if principal is not None else None


def request_state_boundary(audience):
    """Return the SDK server middleware that seals and checks request state for *audience* (the server name)."""
    return RequestStateBoundary(
        RequestStateSecurity(keys=request_state_keys(), bind_principal=bound_identity),
        default_audience=audience,
    )
