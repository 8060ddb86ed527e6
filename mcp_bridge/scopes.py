"""OAuth scopes: what each tool needs, the hierarchy between scopes, and where the resource lives.

A tool needs one scope (`McpTool.required_scope`): reports and their job tools need `mcp:reports`,
read-only tools `mcp:read`, every other tool `mcp:write`. Broader scopes imply narrower ones
(MCP_BRIDGE['OAUTH_SCOPE_HIERARCHY']). Credentials without scopes (API keys, stdio) are not limited by
them: their user's Django permissions alone decide.
"""

from .conf import mcp_settings

READ, WRITE, REPORTS = "mcp:read", "mcp:write", "mcp:reports"


def expand(scopes):
    """Return *scopes* with every scope they imply, as a frozenset."""
    hierarchy = mcp_settings.OAUTH_SCOPE_HIERARCHY
    granted, pending = set(), list(scopes)
    while pending:
        scope = pending.pop()
        if scope not in granted:
            granted.add(scope)
            pending.extend(hierarchy.get(scope, ()))
    return frozenset(granted)


def known_scopes(scopes):
    """The scopes of *scopes* this server defines (a token may carry others, which mean nothing here)."""
    return [scope for scope in scopes if scope in mcp_settings.OAUTH_SCOPES]


def allows(granted, scope):
    """True if the expanded scope set *granted* (None: not limited by scopes) includes *scope*."""
    return granted is None or scope is None or scope in granted


def step_up_scopes(granted, scope):
    """Every scope a caller holding *granted* must ask for to also use what needs *scope*, space-separated.

    RFC 6750 and the MCP spec: one challenge names all the scopes the operation needs, kept with those
    already granted, so a client's new authorization does not lose what it had.
    """
    held = [s for s in mcp_settings.OAUTH_SCOPES if s in (granted or ())]
    return " ".join(sorted({*held, scope}, key=_scope_order))


def _scope_order(scope):
    order = list(mcp_settings.OAUTH_SCOPES)
    return order.index(scope) if scope in order else len(order)


def canonical_resource(request):
    """The URI tokens for this server must name as their resource (RFC 8707), e.g. https://host/mcp."""
    configured = mcp_settings.OAUTH_RESOURCE
    if configured:
        return configured.rstrip("/")
    return request.build_absolute_uri("/" + mcp_settings.PATH.strip("/"))


def resource_metadata_url(request):
    """The protected resource metadata of the MCP endpoint (RFC 9728, the path-inserted form)."""
    resource = canonical_resource(request)
    scheme, _, rest = resource.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}/.well-known/oauth-protected-resource" + (f"/{path}" if path else "")
