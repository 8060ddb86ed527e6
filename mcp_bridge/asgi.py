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
from mcp.server.transport_security import TransportSecuritySettings

from .availability import is_service_failure
from .conf import mcp_settings
from .exceptions import AuthenticationFailed, ServiceUnavailable
from .gc_freeze import freeze_startup_objects
from .principals import PRINCIPAL_SCOPE_KEY

logger = logging.getLogger(__name__)


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
        self._mcp_app = None
        self.bridge.site.registry  # noqa: B018 - built at start-up: annotation errors stop the server, not a call

    def build_mcp_app(self):
        """Return a new SDK Streamable HTTP app for the endpoint, with the session manager it runs."""
        return self.bridge.server.streamable_http_app(
            streamable_http_path=self.path,
            stateless_http=mcp_settings.STATELESS_HTTP,
            json_response=mcp_settings.JSON_RESPONSE,
            # Host/Origin are checked here against ALLOWED_HOSTS, Django's own notation.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @property
    def mcp_app(self):
        if self._mcp_app is None:
            self._mcp_app = self.build_mcp_app()
        return self._mcp_app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self.lifespan(scope, receive, send)
        elif scope["type"] == "http" and scope["path"].rstrip("/") == self.path:
            await self.handle_mcp(scope, receive, send)
        else:
            await self.django_app(scope, receive, send)

    async def lifespan(self, scope, receive, send):
        """Run the SDK's session manager for one lifespan cycle (Django's handler has no lifespan).

        Each cycle gets a fresh manager, since one can run only once: servers such as Mangum on
        AWS Lambda run a startup/shutdown cycle per invocation. Start-up objects are frozen out of
        the garbage collector's reach if the project turned MCP_BRIDGE['FREEZE_GC_AT_STARTUP'] on.
        """
        message = await receive()
        if message["type"] != "lifespan.startup":  # pragma: no cover - protocol violation
            return
        async with AsyncExitStack() as stack:
            try:
                self._mcp_app = self.build_mcp_app()
                await stack.enter_async_context(self.bridge.server.session_manager.run())
            except Exception as exc:
                logger.exception("MCP session manager failed to start")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            freeze_startup_objects()
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})

    async def handle_mcp(self, scope, receive, send):
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
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
        scope = dict(scope)
        scope["path"] = self.path  # serve /mcp and /mcp/ alike, with no redirect
        scope["raw_path"] = self.path.encode()
        scope[PRINCIPAL_SCOPE_KEY] = principal
        # The SDK binds a handshake-era session to the credential that opened it.
        scope["user"] = AuthenticatedUser(
            AccessToken(token="", client_id=principal.session_identity, scopes=[], subject=str(principal.user_id))
        )
        await self.mcp_app(scope, receive, send)

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
