"""The ASGI application: Django for every path, the MCP endpoint at MCP_BRIDGE['PATH'].

The MCP path skips Django's middleware stack (MCP clients are not browsers: no sessions, CSRF or
cookies) but keeps what matters from it: Host and Origin are checked against ALLOWED_HOSTS, and
the caller is authenticated by MCP_BRIDGE['AUTHENTICATION_CLASSES'] before the SDK sees the request
(401 with the first class's challenge if none accepts it; 403 insufficient_scope for a tool call an
OAuth token's scopes do not cover). The endpoint, job status URLs and OAuth endpoints answer CORS
(mcp_bridge.cors).

A project's asgi.py imports this module before Django is set up, so it imports nothing that needs
the app registry at module level: those imports happen when the application is built or called.
"""

import io
import json
import logging
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

from django.conf import settings
from django.core.asgi import get_asgi_application as get_django_asgi_application
from django.core.handlers.asgi import ASGIRequest
from django.http.request import split_domain_port, validate_host
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from .availability import is_service_failure
from .conf import mcp_settings
from .cors import is_cors_path, with_cors
from .exceptions import ServiceUnavailable
from .gc_freeze import freeze_startup_objects
from .principals import CREDENTIAL_REFUSED_SCOPE_KEY, PRINCIPAL_SCOPE_KEY

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
        self.mcp_with_cors = with_cors(self.handle_mcp)
        self.django_with_cors = with_cors(django_app)
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
            await self.mcp_with_cors(scope, receive, send)
        elif scope["type"] == "http" and is_cors_path(scope["path"]):
            await self.django_with_cors(scope, receive, send)
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
        await flush_audit()  # what the audit recorder still holds, before the process goes
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
        if scope["method"] == "OPTIONS":  # not a CORS preflight (with_cors answers those)
            await _json_response(send, 405, {"error": "method_not_allowed"}, [("allow", "GET, POST, DELETE")])
            return
        scope = dict(scope, headers=raw_headers)
        try:
            principal, remembered = await self.authenticate(scope, headers)
        except Exception as exc:
            if not is_service_failure(exc):
                raise
            logger.error("Could not check an MCP bearer token: a backing service failed", exc_info=exc)
            await self.service_unavailable(send, exc if isinstance(exc, ServiceUnavailable) else ServiceUnavailable())
            return
        if isinstance(principal, Refusal):
            await _json_response(send, *principal)
            return
        if remembered and scope["method"] == "POST":
            send = _answering_refused_credential(scope, send, headers["authorization"])
        if principal.scopes is not None and scope["method"] == "POST":
            refusal, receive = await self.check_tool_scope(scope, headers, principal, receive)
            if refusal is not None:
                await _json_response(send, *refusal)
                return
        if self.streaming is None:
            logger.error("MCP request before the ASGI lifespan started: run the server with lifespan on")
            description = "The MCP endpoint is not running: the server was started without the ASGI lifespan."
            await _json_response(send, 500, {"error": "server_error", "error_description": description})
            return
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

    async def authenticate(self, scope, headers):
        """Return (the request's Principal or the Refusal to answer it with, whether it was remembered).

        A credential verified in the last few seconds is remembered under its Authorization header
        (authentication.remembered_principal): a warm request needs no thread hop, and the call's own
        unit of work re-checks the credential (`_answering_refused_credential`). Otherwise the
        authentication classes run on a worker thread, given a Django request built from the scope.
        """
        from .authentication import remember_principal, remembered_principal  # need the app registry
        from .unit_of_work import run_in_worker

        authorization = headers.get("authorization")
        if authorization and not scope.get("query_string"):
            principal = remembered_principal(authorization)
            if principal is not None:
                return principal, True
        principal = await run_in_worker(lambda: _authenticate_in_request(scope))
        if not isinstance(principal, Refusal) and authorization:
            remember_principal(authorization, principal)
        return principal, False

    async def check_tool_scope(self, scope, headers, principal, receive):
        """Return (a 403 insufficient_scope Refusal or None, the receive to pass on).

        A tools/call whose tool needs a scope the token lacks is refused here, before the SDK, since
        only an HTTP status and challenge let the client ask the user for more (step-up). That is
        only offered if the user's Django permissions allow the tool: otherwise more scope would not
        help, and the call goes on to get the same answer as a tool that does not exist.
        """
        from .unit_of_work import run_in_worker  # needs the app registry

        registry = self.bridge.site.registry
        if registry.required_scopes <= principal.scopes:
            return None, receive  # nothing to refuse: no need to look at the body
        tools = registry.tools
        method = headers.get("mcp-method")
        if method is not None:  # 2026-07-28: the method and tool name travel in headers
            name = headers.get("mcp-name") if method == "tools/call" else None
        else:
            body, receive = await _read_body(receive)
            name = _called_tool_name(body)
        tool = tools.get(name) if name else None
        if tool is None or principal.allows_scope(tool.required_scope):
            return None, receive
        refusal = await run_in_worker(lambda: _insufficient_scope(scope, principal, tool))
        if refusal is not None and refusal[0] == 403:
            _record_scope_refusal(headers, principal, tool, refusal[1]["error_description"])
        return refusal, receive

    async def service_unavailable(self, send, busy):
        """503 with Retry-After: the credential could not be checked now; the client should retry."""
        await _json_response(
            send,
            503,
            {"error": "temporarily_unavailable", "error_description": busy.message},
            [("retry-after", str(busy.retry_after))],
        )


async def flush_audit():
    """Write the audit records still waiting in this process (on a worker thread; logs, never raises)."""
    from . import audit
    from .unit_of_work import run_in_worker

    def flush():
        try:
            audit.flush()
        finally:
            from django.db import connections

            connections.close_all()

    await run_in_worker(flush)


class Refusal(tuple):
    """(status, JSON body, extra headers) answering a request the endpoint refuses before the SDK."""


def _django_request(scope):
    """A Django request for the authentication classes: the MCP request's method, path and headers
    (its body is the SDK's to read)."""
    return ASGIRequest(scope, io.BytesIO())


def _authenticate_in_request(scope):
    from .authentication import authenticate  # needs the app registry
    from .exceptions import AuthenticationFailed
    from .unit_of_work import django_request

    with django_request(None):
        try:
            return authenticate(_django_request(scope))
        except AuthenticationFailed as failure:
            return _credential_refusal(scope, failure)


def _credential_refusal(scope, failure):
    """The 401 (or 400) answering *failure*, an AuthenticationFailed, with the endpoint's challenge."""
    from .authentication import challenge  # needs the app registry

    body = {"error": failure.error or "unauthorized", "error_description": failure.message}
    header = challenge(_django_request(scope), failure)
    return Refusal((failure.status, body, [("www-authenticate", header)] if header else []))


def _answering_refused_credential(scope, send, authorization):
    """Wrap *send* for a POST whose credential was remembered, not checked, before the SDK saw it.

    The call's unit of work re-checks the credential (unit_of_work.run_unit) and, if the credential
    was revoked meanwhile, notes the failure in the scope. The response then becomes the 401 and
    challenge any refused credential gets, not the SDK's JSON-RPC error, so that the client
    authorizes again (MCP authorization, RFC 6750). The response start is held until its first
    body: by then the unit of work has run (the SDK writes nothing for a request before its
    handler does, streamed or not).
    """
    from .authentication import forget_principal  # needs the app registry

    held_start = None
    refused = False

    async def send_or_refuse(message):
        nonlocal held_start, refused
        if refused:
            return  # the 401 is complete: the SDK's own answer goes nowhere
        if message["type"] == "http.response.start":
            held_start = message
            return
        if held_start is not None:
            failure = scope.get(CREDENTIAL_REFUSED_SCOPE_KEY)
            if failure is not None:
                refused = True
                forget_principal(authorization)
                await _json_response(send, *_credential_refusal(scope, failure))
                return
            start, held_start = held_start, None
            await send(start)
        await send(message)

    return send_or_refuse


def _insufficient_scope(scope, principal, tool):
    """The 403 refusal of a call of *tool* the token's scopes do not cover, or None if the user's Django
    permissions do not allow the tool either (or the 401 if the credential was revoked meanwhile)."""
    from . import scopes  # needs the app registry
    from .exceptions import AuthenticationFailed
    from .requests import McpRequest
    from .unit_of_work import django_request

    with django_request(None):
        try:
            user = principal.load_user()
        except AuthenticationFailed as failure:
            return _credential_refusal(scope, failure)
        if not tool.has_permission(McpRequest(user, principal=principal, tool_name=tool.name, scope=scope)):
            return None
        needed = scopes.step_up_scopes(principal.scopes, tool.required_scope)
        description = f"{tool.name} needs the OAuth scope {tool.required_scope}: authorize again with scope '{needed}'."
        header = principal.authenticator.insufficient_scope_header(_django_request(scope), needed, description)
        body = {"error": "insufficient_scope", "error_description": description, "scope": needed}
        return Refusal((403, body, [("www-authenticate", header)]))


def _record_scope_refusal(headers, principal, tool, description):
    """Send the call record of a tools/call refused here for a missing OAuth scope (before the SDK saw it).

    Other refusals at the transport (a missing or bad credential: 401) are not recorded: they name no
    caller, and recording them would let anyone fill the audit trail without a credential.
    """
    from django.utils import timezone

    from .call_records import REQUEST_ID_HEADER, CallRecord, describe_principal, new_request_id, send_record

    auth_kind, credential = describe_principal(principal, headers)
    send_record(
        CallRecord(
            kind="tool",
            name=tool.name,
            outcome="refused",
            duration_ms=0.0,
            request_id=(headers.get(REQUEST_ID_HEADER) or new_request_id())[:64],
            created=timezone.now(),
            user_id=principal.user_id,
            auth_kind=auth_kind,
            credential=credential,
            protocol_version=(headers.get("mcp-protocol-version") or "")[:32],
            session_id=(headers.get("mcp-session-id") or "")[:128],
            error=description,
        )
    )


async def _read_body(receive):
    """Read a request's whole body; return it and a receive that hands it on unchanged."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", _replaying(message, receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks), _replaying({"type": "http.request", "body": b"".join(chunks)}, receive)


def _replaying(first, receive):
    pending = [first]

    async def replay():
        return pending.pop() if pending else await receive()

    return replay


def _called_tool_name(body):
    """The tool a JSON-RPC tools/call body names, or None for any other body (or one that does not parse)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return name if isinstance(name, str) else None


async def _json_response(send, status, body, extra_headers=()):
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
