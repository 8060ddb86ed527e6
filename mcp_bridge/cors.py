"""CORS for browser-based MCP clients: the endpoint, job status URLs and the OAuth endpoints they call.

Starlette's CORSMiddleware (a dependency of the MCP SDK) answers preflights and adds the headers.
Any origin may call: credentials are bearer tokens, which a browser never sends on its own, so no
cookie-borne authority is exposed (Access-Control-Allow-Credentials stays off). Only the request
headers MCP and OAuth use are allowed, and only WWW-Authenticate and Mcp-Session-Id are exposed. The
MCP endpoint still refuses an Origin outside ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS (DNS rebinding).
Pages a person uses (login, consent, the admin) get no CORS headers.
"""

from django.urls import Resolver404, resolve
from starlette.middleware.cors import CORSMiddleware

ALLOWED_HEADERS = [
    "Accept",
    "Authorization",
    "Content-Type",
    "Last-Event-ID",
    "Mcp-Method",
    "Mcp-Name",
    "Mcp-Protocol-Version",
    "Mcp-Session-Id",
]
EXPOSED_HEADERS = ["WWW-Authenticate", "Mcp-Session-Id"]

#: Django URL names (namespace, name) browser-based clients call besides the well-known documents.
CORS_URL_NAMES = frozenset(
    {
        ("oauth2_provider", "token"),
        ("oauth2_provider", "revoke-token"),
        ("oauth2_provider", "dcr-register"),
        ("oauth2_provider", "dcr-register-management"),
        ("mcp_bridge", "job"),
        ("mcp_bridge", "job-result"),
        ("mcp_bridge", "job-file"),
    }
)


def with_cors(app):
    """Wrap the ASGI *app* in CORS for browser-based MCP clients."""
    return CORSMiddleware(
        lowercase_header_names(app),
        allow_origins=["*"],
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )


def is_cors_path(path):
    """True for the Django paths browser-based clients call: OAuth metadata, registration, token,
    revocation, and report job status URLs."""
    if path.startswith("/.well-known/"):
        return True
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return any((namespace, match.url_name) in CORS_URL_NAMES for namespace in match.namespaces)


def lowercase_header_names(app):
    """Wrap the ASGI *app* so its response header names are lowercase, as ASGI asks.

    Django sends names as views set them ("Access-Control-Allow-Origin"); CORSMiddleware replaces a
    header only when its name matches in lowercase, so a view's own CORS header (DOT's metadata views
    set one) would be sent twice, and browsers refuse such a response.
    """

    async def lowercased(scope, receive, send):
        async def send_lowercased(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [(name.lower(), value) for name, value in message.get("headers", [])]}
            await send(message)

        await app(scope, receive, send_lowercased)

    return lowercased
