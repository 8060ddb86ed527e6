"""Who an MCP request acts for: the principal its transport authenticated before the SDK saw it.

Over HTTP, asgi.py authenticates the bearer credential and stores the Principal in the request's
ASGI scope, which the SDK hands to every handler (`ctx.request.scope`). Transports without HTTP
(stdio, the SDK's in-process client) set `current_principal` for the task that serves them.
"""

import contextvars

from mcp import types
from mcp.shared.exceptions import MCPError

#: The caller on transports without HTTP (stdio, in-process); HTTP requests carry their own.
current_principal = contextvars.ContextVar("mcp_bridge_principal", default=None)

#: Where asgi.py keeps an HTTP request's Principal in its ASGI scope.
PRINCIPAL_SCOPE_KEY = "mcp_bridge.principal"

#: Where a unit of work notes that the request's credential no longer holds (an AuthenticationFailed),
#: so that asgi.py answers with 401 and the challenge.
CREDENTIAL_REFUSED_SCOPE_KEY = "mcp_bridge.credential_refused"


def http_scope(ctx):
    """Return the ASGI scope of the HTTP request that carried this message; None on stdio and in-process."""
    return ctx.request.scope if ctx.request is not None else None


def request_principal(ctx):
    """Return the Principal of the request in *ctx*, or None if no transport authenticated one."""
    scope = http_scope(ctx)
    return scope.get(PRINCIPAL_SCOPE_KEY) if scope is not None else current_principal.get()


def principal_for(ctx):
    """Return the Principal of the request in *ctx*; raise INVALID_REQUEST if there is none."""
    principal = request_principal(ctx)
    if principal is None:
        raise MCPError(code=types.INVALID_REQUEST, message="Not authenticated: send a bearer credential.")
    return principal


def connection_key(ctx):
    """Return whose connection this is: (the caller's credential, its handshake-era session id or None).

    Stateless callers (and stdio) have no session, so the credential alone keys what they set
    (a log level): one client never changes what another credential's calls get.
    """
    session_id = ctx.request.headers.get("mcp-session-id") if ctx.request is not None else None
    return principal_for(ctx).session_identity, session_id
