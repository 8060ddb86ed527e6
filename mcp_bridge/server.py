"""The MCP protocol side: the SDK's low-level Server with handlers that run Django code.

This is the only module that speaks MCP types. Each request does its Django work in exactly one
thread hop, inside a fresh thread-sensitive context that also sends Django's request_started /
request_finished signals, so database connections are opened, pooled and closed as for a view.
"""

import contextlib
import contextvars
import gc
import hashlib
import json
import logging
import queue
import threading
import time
from concurrent.futures import Executor, Future

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from mcp import types
from mcp.server import Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from . import __version__
from .availability import is_service_failure
from .capacity import max_concurrent_requests
from .conf import mcp_settings
from .content import blocks, is_content, resource_contents
from .context import CallContext, InputRequired, MissingClientCapability
from .database import StatementTimeout, statement_budget
from .exceptions import AuthenticationFailed, ServiceUnavailable, ToolError
from .inputs import check_text
from .permissions import access_generation, prime_permissions
from .requests import McpRequest
from .search import check_search_terms
from .sites import site as default_site
from .throttling import RateLimited, enforce, limits_for
from .tools_list import encode_result
from .tools import ToolResult, to_json

logger = logging.getLogger(__name__)
call_logger = logging.getLogger("mcp_bridge.calls")

#: The caller on transports without HTTP (stdio, in-process); HTTP requests carry their own.
current_principal = contextvars.ContextVar("mcp_bridge_principal", default=None)

PRINCIPAL_SCOPE_KEY = "mcp_bridge.principal"
RESOURCE_NOT_FOUND = -32002  # handshake-era revisions; 2026-07-28 (SEP-2164) uses INVALID_PARAMS
#: Server-defined (JSON-RPC leaves -32000..-32099 to servers; MCP uses -32000..-32002, -32020..-32022
#: and -32042): a backing service failed or a request ran out of database time; `data.retryAfter`
#: says in how many seconds to retry. Never -32603, which says the server has a bug.
SERVER_BUSY = -32003


def resource_not_found_code(protocol_version):
    return types.INVALID_PARAMS if (protocol_version or "") >= "2026-07-28" else RESOURCE_NOT_FOUND


def resource_not_found(ctx, uri):
    return MCPError(code=resource_not_found_code(ctx.protocol_version), message=f"Resource not found: {uri}", data={"uri": uri})


def principal_for(ctx):
    request = ctx.request
    if request is not None:
        principal = request.scope.get(PRINCIPAL_SCOPE_KEY)
    else:
        principal = current_principal.get()
    if principal is None:
        raise MCPError(code=types.INVALID_REQUEST, message="Not authenticated: send a bearer credential.")
    return principal


def _http_scope(ctx):
    """The ASGI scope of the HTTP request that carried this message; None on stdio and in-process."""
    return ctx.request.scope if ctx.request is not None else None


def request_state_keys():
    """Keys for sealing request state, derived from SECRET_KEY (and its fallbacks, for rotation)."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [hashlib.sha256(f"mcp_bridge.request_state:{secret}".encode()).digest() for secret in secrets]


def _state_principal(ctx):
    request = ctx.request
    principal = request.scope.get(PRINCIPAL_SCOPE_KEY) if request is not None else current_principal.get()
    return principal.session_identity if principal is not None else None


class WorkerThreads(Executor):
    """Threads that run Django work, reused from call to call.

    Starting a thread per call, as a fresh ThreadSensitiveContext does, costs more than a small
    tool call. A thread is started only when none is idle, so there are as many threads as calls
    ever ran at once (up to *max_threads*; beyond that calls queue). Unlike ThreadPoolExecutor, a
    thread counts as idle *before* its result wakes the caller, so a caller that submits its next
    call at once reuses it instead of starting yet another thread: the count stays flat.
    """

    def __init__(self, max_threads, name="mcp_bridge"):
        self._max_threads = max_threads
        self._name = name
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        with self._lock:
            if self._idle:
                self._idle -= 1
            elif self._threads < self._max_threads:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self._name}_{self._threads}", daemon=True).start()
        self._queue.put((future, fn, args, kwargs))
        return future

    def _work(self):
        while True:
            future, fn, args, kwargs = self._queue.get()
            if not future.set_running_or_notify_cancel():
                with self._lock:
                    self._idle += 1
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                with self._lock:
                    self._idle += 1
                future.set_exception(exc)
            else:
                with self._lock:
                    self._idle += 1
                future.set_result(result)
            del future, fn, args, kwargs


_workers = None
_workers_lock = threading.Lock()


def worker_threads():
    """The process's WorkerThreads, as many as MAX_CONCURRENT_REQUESTS (see capacity.py)."""
    global _workers
    if _workers is None:
        with _workers_lock:
            if _workers is None:
                _workers = WorkerThreads(max_concurrent_requests())
    return _workers


X_MCP_HEADER_KEY = "x-mcp-header"
_TOOLS_LIST_CACHE_SIZE = 512
_listed_names = contextvars.ContextVar("mcp_bridge_listed_tool_names", default=None)


async def run_in_worker(unit):
    """Run the synchronous *unit* in a worker thread: the one thread hop of an MCP request.

    The unit sends Django's request_started/request_finished itself, so database connections are
    opened, pooled (or kept, with CONN_MAX_AGE) and closed per request exactly as for a view;
    contextvars are copied into the thread.
    """
    return await sync_to_async(unit, thread_sensitive=False, executor=worker_threads())()


_frozen = False


def freeze_startup_objects(collect=True):
    """Put everything allocated at start-up out of the garbage collector's reach, once per process.

    Django, the SDK's pydantic models and the tool registry leave ~170,000 tracked objects that
    live as long as the process; every full collection scanned them all, an ~80 ms stall of the
    event loop every few thousand calls (the p99 at one connection). Frozen, a full collection
    scans only what requests allocate (~1 ms). Off with MCP_BRIDGE['FREEZE_GC_AT_STARTUP'] = False.
    """
    global _frozen
    if _frozen or not mcp_settings.FREEZE_GC_AT_STARTUP:
        return
    _frozen = True
    if collect:
        gc.collect()  # ~80 ms: start-up garbage is freed rather than frozen
    gc.freeze()


@contextlib.contextmanager
def django_request(scope):
    """Django's request signals around one unit of work: connections are handled as for a view."""
    signals.request_started.send(sender=McpBridgeServer, scope=scope)  # as Django's ASGIHandler sends it
    try:
        yield
    finally:
        signals.request_finished.send(sender=McpBridgeServer)


def _mentions_key(schema, key):
    if isinstance(schema, dict):
        return key in schema or any(_mentions_key(value, key) for value in schema.values())
    if isinstance(schema, list):
        return any(_mentions_key(value, key) for value in schema)
    return False


class McpBridgeServer:
    """Builds the SDK Server for an McpSite and runs each request's Django work."""

    def __init__(self, site=None):
        self.site = site or default_site
        self.server = Server(
            mcp_settings.SERVER_NAME,
            version=mcp_settings.SERVER_VERSION or __version__,
            title=mcp_settings.SERVER_TITLE,
            instructions=mcp_settings.INSTRUCTIONS or None,
            get_tool_input_schema=self.tool_input_schema,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_list_resources=self.list_resources,
            on_list_resource_templates=self.list_resource_templates,
            on_read_resource=self.read_resource,
            on_list_prompts=self.list_prompts,
            on_get_prompt=self.get_prompt,
            on_completion=self.complete,
            on_subscribe_resource=self.subscribe,
            on_unsubscribe_resource=self.unsubscribe,
        )
        # 2026-07-28 multi-round-trip state comes back from the client: seal it, bound to the caller.
        self.server.middleware.append(RequestStateBoundary(
            RequestStateSecurity(keys=request_state_keys(), bind_principal=_state_principal),
            default_audience=mcp_settings.SERVER_NAME,
        ))
        # A failed database, cache or broker is a retryable error, never an internal one.
        self.server.middleware.append(self.report_busy)
        # Innermost: answers tools/list from finished results (see answer_tools_list).
        self.server.middleware.append(self.answer_tools_list)
        # Logging is deprecated in 2026-07-28 but handshake-era clients still set a level.
        self.server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, self.set_log_level)
        self._mcp_tools = {}
        self._header_schemas = {}
        self._tools_list_results = {}
        self._tools_list_encoded = {}
        self._tools_list_registry = None
        self._log_levels = {}

    # -- the one thread hop ----------------------------------------------------------------------
    async def in_django(self, ctx, work, *, tool_name=None):
        """Run `work(request, generation)` as one Django request: one thread, one DB unit of work.

        A tool call (*tool_name*) is counted against its rate limits in the same cache round trip
        that reads the access generation; `request.mcp_rate_counts` holds the outcome for the work
        to enforce once the tool is known to be visible.
        """
        return await self.run_unit(principal_for(ctx), _http_scope(ctx), work, tool_name=tool_name)

    async def run_unit(self, principal, scope, work, *, tool_name=None):
        """`in_django` for a caller known without a request context (*scope*: its HTTP request's ASGI scope, or None)."""

        def unit():
            with django_request(scope), statement_budget():
                limits = limits_for(principal, tool_name) if tool_name is not None else []
                generation, counts = access_generation([(limit.counter, limit.timeout) for limit in limits])
                try:
                    user = principal.load_user(generation)
                except AuthenticationFailed as exc:
                    raise MCPError(code=types.INVALID_REQUEST, message=str(exc)) from None
                prime_permissions(user, generation)
                request = McpRequest(user, principal=principal, tool_name=tool_name, scope=scope)
                request.mcp_rate_counts = (limits, counts)
                return work(request, generation)

        def unit_or_busy():
            try:
                return unit()
            except StatementTimeout as exc:
                logger.warning("MCP request stopped: a database statement ran longer than %g s", exc.seconds)
                raise ServiceUnavailable(
                    f"The request needed a database query longer than the {exc.seconds:g} s allowed; it was stopped. "
                    "Ask for less (a more specific value or query), or retry later.",
                ) from exc
            except Exception as exc:
                if not is_service_failure(exc) or isinstance(exc, ServiceUnavailable):
                    raise
                logger.warning("MCP request could not be served: a backing service failed", exc_info=True)
                raise ServiceUnavailable() from exc

        return await run_in_worker(unit_or_busy)

    # -- tools ---------------------------------------------------------------------------------
    def mcp_tool(self, tool):
        cached = self._mcp_tools.get(tool.name)
        if cached is None or cached[0] is not tool:
            described = types.Tool(
                name=tool.name,
                title=tool.title,
                description=tool.description,
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
                annotations=types.ToolAnnotations(
                    title=tool.title,
                    read_only_hint=tool.read_only,
                    destructive_hint=False if tool.read_only else tool.destructive,
                    idempotent_hint=tool.idempotent,
                    open_world_hint=False,
                ),
            )
            cached = self._mcp_tools[tool.name] = (tool, described)
        return cached[1]

    def tool_input_schema(self, name):
        """The schema the SDK checks a 2026-07-28 call's `Mcp-Param-*` headers against, or None.

        Called on the event loop for every call with arguments: in-memory only, no ORM. Only
        properties annotated with `x-mcp-header` have headers to check; for a schema without any,
        the SDK's walk of the schema on every call can find nothing, so None (nothing to check)
        is returned instead.
        """
        tool = self.site.registry.tools.get(name)
        if tool is None:
            return None
        cached = self._header_schemas.get(name)
        if cached is None or cached[0] is not tool:
            schema = tool.input_schema if _mentions_key(tool.input_schema, X_MCP_HEADER_KEY) else None
            cached = self._header_schemas[name] = (tool, schema)
        return cached[1]

    async def list_tools(self, ctx, params):
        names = _listed_names.get()  # decided by answer_tools_list in this request's unit of work
        if names is None:
            names = await self.in_django(ctx, self._visible_names)
        tools = [tool for name, tool in self.site.registry.tools.items() if name in names]
        return types.ListToolsResult(tools=[self.mcp_tool(tool) for tool in tools])

    def _visible_names(self, request, generation):
        return self.site.visible_tool_names(request, generation)

    def _tools_list_key(self, protocol_version, names):
        registry = self.site.registry
        if registry is not self._tools_list_registry:
            self._tools_list_results, self._tools_list_encoded = {}, {}
            self._tools_list_registry = registry
        return (protocol_version, names)

    async def encoded_tools_list(self, principal, protocol_version, scope):
        """Run the caller's unit of work; return the wire bytes of its tool list if already made, else None."""
        try:
            names = await self.run_unit(principal, scope, self._visible_names)
        except ServiceUnavailable:
            return None  # the SDK's path runs the request again and reports the failure as an error
        return self._tools_list_encoded.get(self._tools_list_key(protocol_version, names))

    async def report_busy(self, ctx, call_next):
        """Server middleware: a request that failed on a backing service gets a retryable JSON-RPC error."""
        try:
            return await call_next(ctx)
        except ServiceUnavailable as busy:
            raise MCPError(code=SERVER_BUSY, message=busy.message, data={"retryAfter": busy.retry_after}) from None

    async def answer_tools_list(self, ctx, call_next):
        """Server middleware: answer tools/list with the finished wire result for the caller's tool set.

        The list depends only on which tools the caller may see (and the protocol version), but
        shaping it for the wire (validating and re-serializing every tool's schemas) costs far more
        than deciding what the caller may see. So every call still runs its Django unit of work
        (credential re-checked, permissions loaded, visibility decided), and the result the
        normal pipeline produced for the same visible set is reused. For 2026-07-28 its wire bytes
        are kept too, for `tools_list.answer_tools_list` to answer before the SDK.
        """
        if ctx.method != "tools/list":
            return await call_next(ctx)
        names = await self.in_django(ctx, self._visible_names)
        key = self._tools_list_key(ctx.protocol_version, names)
        result = self._tools_list_results.get(key)
        if result is None:
            token = _listed_names.set(names)  # the handler lists exactly this set: no second unit of work
            try:
                result = await call_next(ctx)
            finally:
                _listed_names.reset(token)
            if not isinstance(result, dict):
                return result
            if len(self._tools_list_results) >= _TOOLS_LIST_CACHE_SIZE:
                self._tools_list_results.clear()
                self._tools_list_encoded.clear()
            self._tools_list_results[key] = result
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and key not in self._tools_list_encoded:
            self._tools_list_encoded[key] = encode_result(result)  # answered before the SDK next time
        return dict(result)

    async def call_tool(self, ctx, params):
        name = params.name
        arguments = params.arguments if params.arguments is not None else {}
        started = time.perf_counter()
        checked_text(name, "The tool name")

        call_context = CallContext(
            ctx,
            min_log_level=self._log_levels.get(self._connection_key(ctx), "debug"),
            input_responses=params.input_responses,
            request_state=params.request_state,
        )

        def work(request, generation):
            tool = self.site.get_tool(request, name, generation)
            if tool is None:
                return None, request
            try:
                enforce(*request.mcp_rate_counts)
            except RateLimited as exc:
                return ToolResult(exc.message, is_error=True), request
            request.mcp_call = call_context
            return tool.call(request, arguments), request

        try:
            result, request = await self.in_django(ctx, work, tool_name=name)
        except ServiceUnavailable as busy:
            call_logger.info("mcp call refused", extra={"tool": name, "outcome": "unavailable"})
            text = f"{name} could not run: {busy.message} Nothing was changed."
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)
        except InputRequired as needed:
            return types.InputRequiredResult(input_requests=needed.requests, request_state=needed.state)
        except MissingClientCapability as missing:
            raise MCPError(
                code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                message=str(missing),
                data={"requiredCapabilities": {missing.capability: {}}},
            ) from None
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        if result is None:
            call_logger.info("mcp call refused", extra={"tool": name, "user": request.user.pk, "outcome": "unknown_tool", "duration_ms": duration_ms})
            # A hidden tool and a missing one get the same answer, so neither can be probed.
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {name}")
        call_logger.info(
            "mcp call",
            extra={"tool": name, "user": request.user.pk, "outcome": "error" if result.is_error else "ok", "duration_ms": duration_ms},
        )
        if is_content(result.data):
            return types.CallToolResult(content=[block.to_mcp() for block in blocks(result.data)])
        content = [types.TextContent(type="text", text=result.text())]
        if result.is_error:
            return types.CallToolResult(content=content, is_error=True)
        extra = [m for m in result.messages if not (isinstance(result.data, dict) and m in result.data.get("messages", []))]
        if extra:
            content.append(types.TextContent(type="text", text="Admin messages: " + " ".join(extra)))
        structured = result.data if isinstance(result.data, dict) else None
        return types.CallToolResult(content=content, structured_content=structured)

    # -- resources -----------------------------------------------------------------------------
    async def list_resources(self, ctx, params):
        def work(request, generation):
            return [r for r in self.site.registry.resources if r.has_permission(request)]

        resources = await self.in_django(ctx, work)
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=r.uri, name=r.name, title=r.title, description=r.description, mime_type=r.mime_type)
                for r in resources
            ]
        )

    async def list_resource_templates(self, ctx, params):
        def work(request, generation):
            return [t for t in self.site.registry.resource_templates if t.has_permission(request)]

        templates = await self.in_django(ctx, work)
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=t.uri_template, name=t.name, title=t.title, description=t.description, mime_type=t.mime_type
                )
                for t in templates
            ]
        )

    def _template_for(self, uri):
        for template in (*self.site.registry.resources, *self.site.registry.resource_templates):
            params = template.match(uri)
            if params is not None:
                return template, params
        return None, None

    async def read_resource(self, ctx, params):
        uri = checked_text(str(params.uri), "The resource URI")
        template, values = self._template_for(uri)
        not_found = resource_not_found(ctx, uri)
        if template is None:
            raise not_found

        def work(request, generation):
            if not template.has_permission(request):
                return None
            try:
                return template.read(request, values)
            except ToolError:
                return None

        data = await self.in_django(ctx, work)
        if data is None:
            raise not_found
        if not isinstance(data, (str, bytes)):
            data = json.dumps(to_json(data), ensure_ascii=False)
        return types.ReadResourceResult(contents=[resource_contents(uri, template.mime_type, data)])

    async def _check_readable(self, ctx, uri):
        template, _ = self._template_for(checked_text(uri, "The resource URI"))
        allowed = template is not None and await self.in_django(ctx, lambda request, generation: template.has_permission(request))
        if not allowed:
            raise resource_not_found(ctx, uri)

    async def subscribe(self, ctx, params):
        await self._check_readable(ctx, str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(self, ctx, params):
        await self._check_readable(ctx, str(params.uri))
        return types.EmptyResult()

    # -- logging (handshake era) -----------------------------------------------------------------
    @staticmethod
    def _connection_key(ctx):
        """Whose log level this is: the caller's credential, and its session when it has one.

        Stateless callers (and stdio) have no session, so the credential alone keys their level:
        one client's logging/setLevel never changes the level of another credential's calls.
        """
        request = ctx.request
        session_id = request.headers.get("mcp-session-id") if request is not None else None
        return (principal_for(ctx).session_identity, session_id)

    async def set_log_level(self, ctx, params):
        key = self._connection_key(ctx)
        if len(self._log_levels) >= 10_000:  # sessions end without telling us; keep the map bounded
            self._log_levels.clear()
        self._log_levels[key] = params.level
        return types.EmptyResult()

    # -- prompts -------------------------------------------------------------------------------
    async def list_prompts(self, ctx, params):
        def work(request, generation):
            names = self.site.visible_tool_names(request, generation)
            return [p for p in self.site.registry.prompts.values() if p.is_visible(names)]

        prompts = await self.in_django(ctx, work)
        return types.ListPromptsResult(
            prompts=[
                types.Prompt(
                    name=p.name, title=p.title, description=p.description,
                    arguments=[types.PromptArgument(**a) for a in p.arguments],
                )
                for p in prompts
            ]
        )

    async def get_prompt(self, ctx, params):
        name = checked_text(params.name, "The prompt name")
        checked_text(params.arguments or {}, "The prompt arguments")
        call_context = CallContext(ctx, input_responses=params.input_responses, request_state=params.request_state)

        def work(request, generation):
            prompt = self.site.registry.prompts.get(name)
            if prompt is None or not prompt.is_visible(self.site.visible_tool_names(request, generation)):
                return None
            request.mcp_call = call_context
            try:
                return prompt, prompt.render(request, params.arguments or {})
            except ToolError as exc:
                return prompt, exc

        try:
            found = await self.in_django(ctx, work)
        except InputRequired as needed:
            return types.InputRequiredResult(input_requests=needed.requests, request_state=needed.state)
        except MissingClientCapability as missing:
            raise MCPError(code=types.MISSING_REQUIRED_CLIENT_CAPABILITY, message=str(missing),
                           data={"requiredCapabilities": {missing.capability: {}}}) from None
        if found is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown prompt: {name}")
        prompt, messages = found
        if isinstance(messages, ToolError):
            raise MCPError(code=types.INVALID_PARAMS, message=messages.message)
        return types.GetPromptResult(
            description=prompt.description,
            messages=[
                types.PromptMessage(role=role, content=content.to_mcp() if is_content(content) else types.TextContent(type="text", text=content))
                for role, content in messages
            ],
        )

    # -- completion ----------------------------------------------------------------------------
    async def complete(self, ctx, params):
        ref = params.ref
        argument, value = params.argument.name, params.argument.value or ""
        checked_text([ref.name if isinstance(ref, types.PromptReference) else ref.uri, argument], "The completion reference")
        checked_text(value, "The completion value")
        try:
            # Values are searched like a tool's query: bounded, or one value could hold the database.
            check_search_terms(value, argument="argument.value")
        except ToolError as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=exc.message) from None
        if isinstance(ref, types.PromptReference):
            prompt = self.site.registry.prompts.get(ref.name)

            def work(request, generation):
                if prompt is None or not prompt.is_visible(self.site.visible_tool_names(request, generation)):
                    return []
                return prompt.complete(request, argument, value)
        else:
            template = next((t for t in self.site.registry.resource_templates if t.uri_template == ref.uri), None)

            def work(request, generation):
                if template is None or not template.has_permission(request):
                    return []
                return template.complete(request, argument, value)

        values = [str(v) for v in await self.in_django(ctx, work)]
        return types.CompleteResult(completion=types.Completion(values=values[:100], total=len(values), has_more=len(values) > 100))


def checked_text(value, what):
    """Return *value*; raise INVALID_PARAMS if it holds text the database cannot take (see inputs.py)."""
    try:
        return check_text(value, argument=what)
    except ToolError as exc:
        raise MCPError(code=types.INVALID_PARAMS, message=exc.message) from None


_servers = {}


def get_server(site=None):
    """Return the (process-wide) McpBridgeServer for *site*."""
    site = site or default_site
    bridge = _servers.get(id(site))
    if bridge is None:
        bridge = _servers[id(site)] = McpBridgeServer(site)
    return bridge
