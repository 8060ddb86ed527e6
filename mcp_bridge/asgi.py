"""The ASGI application: Django for every path, the MCP endpoint at MCP_BRIDGE['PATH'].

The MCP path skips Django's middleware stack (MCP clients are not browsers: no sessions, CSRF or
cookies) but keeps what matters from it: Host and Origin are checked against ALLOWED_HOSTS, and
the caller is authenticated before the SDK sees the request.

A project's asgi.py imports this module before Django is set up, so it imports nothing that needs
the app registry at module level: those imports happen when the application is built or called.
"""

import json
import logging
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

from django.conf import settings
from django.core.asgi import get_asgi_application as get_django_asgi_application
from django.http.request import split_domain_port, validate_host
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from .availability import is_service_failure
from .conf import mcp_settings
from .exceptions import AuthenticationFailed, ServiceUnavailable
from .gc_freeze import freeze_startup_objects
from .principals import PRINCIPAL_SCOPE_KEY

logger = logging.getLogger(__name__)

#: 2026-07-28 methods whose handlers never send a notification while they run: one JSON response.
NEVER_NOTIFY = frozenset(
    {
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "completion/complete",
        "tasks/get",
        "tasks/update",
        "tasks/cancel",
    }
)


def get_asgi_application(*, site=None):
    """Set Django up and return its ASGI application with the MCP endpoint mounted beside it.

    The counterpart of `django.core.asgi.get_asgi_application` for a project's asgi.py.
    """
    return McpAsgiApp(get_django_asgi_application(), site=site)


class McpAsgiApp:
    """Wrap Django's ASGI handler and serve MCP beside it, with the ASGI lifespan handled.

    Build it after Django is set up (after `django.core.asgi.get_asgi_application()`).
    """

    def __init__(self, django_app, *, site=None):
        from .server import get_server  # needs the app registry

        self.django_app = django_app
        self.bridge = get_server(site)
        self.path = "/" + mcp_settings.PATH.strip("/")
        self.streaming = self.plain = None  # session managers, made for each lifespan cycle
        self.bridge.site.registry  # noqa: B018 - built at start-up: annotation errors stop the server, not a call

    def build_session_managers(self):
        """Return the SDK session managers of the endpoint: (streaming, plain).

        `streaming` serves everything the settings describe (2025-era sessions, SSE responses).
        `plain` answers, as one JSON response, the 2026-07-28 requests that cannot send a
        notification while they run (every generated tool, the listings, resource reads): it skips
        the SDK's work of holding an event stream open in case one comes. With JSON_RESPONSE on,
        both are the same manager.
        """
        # Host/Origin are checked here against ALLOWED_HOSTS, Django's own notation.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        streaming = StreamableHTTPSessionManager(
            app=self.bridge.server,
            json_response=mcp_settings.JSON_RESPONSE,
            stateless=mcp_settings.STATELESS_HTTP,
            security_settings=security,
        )
        if mcp_settings.JSON_RESPONSE:
            return streaming, streaming
        plain = StreamableHTTPSessionManager(
            app=self.bridge.server, json_response=True, stateless=True, security_settings=security
        )
        return streaming, plain

    def session_manager_for(self, headers):
        """The manager that answers a request: JSON for 2026-07-28 requests that send no notification."""
        version = headers.get("mcp-protocol-version")
        if version is None or version in HANDSHAKE_PROTOCOL_VERSIONS:
            return self.streaming  # the handshake era: its sessions live in one manager
        method = headers.get("mcp-method")
        if method in NEVER_NOTIFY:
            return self.plain
        if method == "tools/call":
            # The SDK rejects an Mcp-Name that differs from the body's tool name.
            tool = self.bridge.site.registry.tools.get(headers.get("mcp-name", ""))
            if tool is not None and not tool.sends_notifications:
                return self.plain
        return self.streaming

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self.lifespan(scope, receive, send)
        elif scope["type"] == "http" and scope["path"].rstrip("/") == self.path:
            await self.handle_mcp(scope, receive, send)
        else:
            await self.django_app(scope, receive, send)

    async def lifespan(self, scope, receive, send):
        """Run the SDK's session managers for one lifespan cycle (Django's handler has no lifespan).

        Each cycle gets fresh managers, since one can run only once: servers such as Mangum on
        AWS Lambda run a startup/shutdown cycle per invocation. Start-up objects are frozen out of
        the garbage collector's reach if the project turned MCP_BRIDGE['FREEZE_GC_AT_STARTUP'] on.
        """
        message = await receive()
        if message["type"] != "lifespan.startup":  # pragma: no cover - protocol violation
            return
        async with AsyncExitStack() as stack:
            try:
                self.streaming, self.plain = self.build_session_managers()
                for manager in {self.streaming, self.plain}:
                    await stack.enter_async_context(manager.run())
            except Exception as exc:
                logger.exception("MCP session manager failed to start")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            freeze_startup_objects()
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})

    async def handle_mcp(self, scope, receive, send):
        # RFC 9110 5.5: a field value excludes the whitespace around it. h11 strips it; httptools does
        # not, and the SDK compares values such as Mcp-Name with the body's as they come.
        raw_headers = [(name, value.strip(b" \t")) for name, value in scope.get("headers", [])]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        host_error = self.check_host_and_origin(headers)
        if host_error is not None:
            await _json_response(send, *host_error)
            return
        if scope["method"] == "OPTIONS":
            await _json_response(send, 405, {"error": "method_not_allowed"}, [("allow", "GET, POST, DELETE")])
            return
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await self.unauthorized(send, "Authentication required: send 'Authorization: Bearer <API key>'.")
            return
        try:
            principal = await self.authenticate(token.strip())
        except AuthenticationFailed as exc:
            await self.unauthorized(send, str(exc), error="invalid_token")
            return
        except Exception as exc:
            if not is_service_failure(exc):
                raise
            logger.error("Could not check an MCP bearer token: a backing service failed", exc_info=exc)
            await self.service_unavailable(send, exc if isinstance(exc, ServiceUnavailable) else ServiceUnavailable())
            return
        if self.streaming is None:
            logger.error("MCP request before the ASGI lifespan started: run the server with lifespan on")
            description = "The MCP endpoint is not running: the server was started without the ASGI lifespan."
            await _json_response(send, 500, {"error": "server_error", "error_description": description})
            return
        scope = dict(scope)
        scope["headers"] = raw_headers
        scope["path"] = self.path  # serve /mcp and /mcp/ alike, with no redirect
        scope["raw_path"] = self.path.encode()
        scope[PRINCIPAL_SCOPE_KEY] = principal
        # The SDK binds a handshake-era session to the credential that opened it.
        scope["user"] = AuthenticatedUser(
            AccessToken(token="", client_id=principal.session_identity, scopes=[], subject=str(principal.user_id))
        )
        await self.session_manager_for(headers).handle_request(scope, receive, send)

    def check_host_and_origin(self, headers):
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        domain, _ = split_domain_port(headers.get("host", ""))
        if not domain or not validate_host(domain, allowed):
            return 421, {"error": "invalid_host", "error_description": "The Host header is not in ALLOWED_HOSTS."}, []
        origin = headers.get("origin")
        if origin and origin != "null":
            origin_domain, _ = split_domain_port(urlsplit(origin).netloc)
            trusted = {urlsplit(o).netloc for o in getattr(settings, "CSRF_TRUSTED_ORIGINS", [])}
            if not (origin_domain and validate_host(origin_domain, allowed)) and urlsplit(origin).netloc not in trusted:
                return 403, {"error": "invalid_origin", "error_description": "The Origin header is not allowed."}, []
        return None

    async def authenticate(self, token):
        from .authentication import remember_principal, remembered_principal  # need the app registry
        from .unit_of_work import run_in_worker

        principal = remembered_principal(token)
        if principal is not None:
            return principal
        principal = await run_in_worker(lambda: _authenticate_in_request(token))
        remember_principal(token, principal)
        return principal

    async def unauthorized(self, send, description, error=None):
        challenge = 'Bearer realm="mcp"'
        if error:
            challenge += f', error="{error}", error_description="{_quote(description)}"'
        await _json_response(
            send,
            401,
            {"error": error or "unauthorized", "error_description": description},
            [("www-authenticate", challenge)],
        )

    async def service_unavailable(self, send, busy):
        """503 with Retry-After: the credential could not be checked now; the client should retry."""
        await _json_response(
            send,
            503,
            {"error": "temporarily_unavailable", "error_description": busy.message},
            [("retry-after", str(busy.retry_after))],
        )


def _authenticate_in_request(token):
    from .authentication import authenticate_token  # needs the app registry
    from .unit_of_work import django_request

    with django_request(None):
        return authenticate_token(token)


def _quote(text):
    return text.replace("\\", "\\\\").replace('"', "'")


async def _json_response(send, status, body, extra_headers=()):
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
