"""The MCP methods an McpSite serves: tools, resources, prompts, completion and the log level.

Each handler checks what it can without Django (text the database cannot take, unknown URIs), runs
its Django work in the request's one unit of work (unit_of_work.run_unit) and shapes the answer
with results.py. What the caller may not use is answered exactly as what does not exist, so
neither can be probed.
"""

import contextvars
import logging
import time

from mcp import types
from mcp.shared.exceptions import MCPError

from . import audit, throttling
from .call_records import CallRecorder, redacted_fields, rows_of
from .context import CallContext, InputRequired, MissingClientCapability
from .exceptions import ServiceUnavailable, ToolError
from .principals import connection_key, http_scope, principal_for
from .process_cache import ProcessCache
from .results import (
    asks_client,
    call_tool_result,
    checked_text,
    complete_result,
    get_prompt_result,
    invalid_params,
    prompt_description,
    read_resource_result,
    resource_description,
    resource_not_found,
    resource_template_description,
    tool_description,
    tool_error_result,
)
from .search import check_search_terms
from .task_extension import create_task_result
from .tools import ToolResult
from .unit_of_work import run_unit

call_logger = logging.getLogger("mcp_bridge.calls")
_listed_names = contextvars.ContextVar("mcp_bridge_listed_tool_names", default=None)

#: The JSON Schema keyword that marks an argument the 2026-07-28 client also sends as an `Mcp-Param-*` header.
X_MCP_HEADER_KEY = "x-mcp-header"
#: Tool lists kept, one per set of visible tools (callers with the same permissions share one).
TOOL_LISTS_KEPT = 512
#: Log levels kept, one per credential and session; sessions end without telling the server.
LOG_LEVELS_KEPT = 10_000


def record_exception(recorder, exc):
    """Send the record of a call that ended with *exc* instead of an answer (the exception goes on)."""
    if isinstance(exc, ServiceUnavailable):
        recorder.finish("failed", error=exc.message)
    elif isinstance(exc, MCPError):  # a credential refused by the unit of work, invalid params
        recorder.finish("refused", error=exc.error.message)
    elif isinstance(exc, MissingClientCapability):
        recorder.finish("refused", error=str(exc))
    elif isinstance(exc, InputRequired):  # 2026-07-28: the client answers, then calls again (its own record)
        recorder.finish("ok", error="Asked the client for input (input_required); the retry is recorded apart.")
    else:
        recorder.finish("failed", error=f"Unexpected {type(exc).__name__}.")


def _mentions_key(schema, key):
    if isinstance(schema, dict):
        return key in schema or any(_mentions_key(value, key) for value in schema.values())
    if isinstance(schema, list):
        return any(_mentions_key(value, key) for value in schema)
    return False


class McpHandlers:
    """The SDK Server's request handlers for *site*."""

    def __init__(self, site):
        self.site = site
        self._described = {}  # tool name -> (McpTool, its types.Tool, its header schema); as many as tools
        self._cached_registry = None  # the registry the caches below were built from (see current_registry)
        # A tool list is the same for every caller who sees the same tools: the SDK still validates
        # and encodes it for each request, in the request's protocol version.
        self._tool_lists = ProcessCache(TOOL_LISTS_KEPT)  # names -> ListToolsResult
        self._wire_tool_lists = ProcessCache(TOOL_LISTS_KEPT)  # (protocol version, names) -> the SDK's result dict
        self._log_levels = ProcessCache(LOG_LEVELS_KEPT)

    async def in_django(self, ctx, work, **tool_call):
        """Return `work(request, generation)`, run in the unit of work of the request in *ctx*."""
        return await run_unit(principal_for(ctx), http_scope(ctx), work, **tool_call)

    # -- tools ---------------------------------------------------------------------------------
    def current_registry(self):
        """The site's registry; a rebuilt one (McpSite.reset) empties the caches built from the last, so that
        nothing keeps the tools it no longer has alive."""
        registry = self.site.registry
        if registry is not self._cached_registry:
            self._described = {}
            self._tool_lists.clear()
            self._wire_tool_lists.clear()
            self._cached_registry = registry
        return registry

    def _description(self, tool):
        self.current_registry()
        described = self._described.get(tool.name)
        if described is None or described[0] is not tool:
            header_schema = tool.input_schema if _mentions_key(tool.input_schema, X_MCP_HEADER_KEY) else None
            described = self._described[tool.name] = (tool, tool_description(tool), header_schema)
        return described

    def describe_tool(self, tool):
        """Return the SDK's Tool for *tool*, built once per tool."""
        return self._description(tool)[1]

    def tool_input_schema(self, name):
        """Return the schema the SDK checks a 2026-07-28 call's `Mcp-Param-*` headers against, or None.

        Called on the event loop for every call with arguments: in-memory only, no ORM. Only
        properties annotated with `x-mcp-header` have headers to check; for a schema without any,
        the SDK's walk of the schema on every call can find nothing, so None (nothing to check)
        is returned instead.
        """
        tool = self.site.registry.tools.get(name)
        return self._description(tool)[2] if tool is not None else None

    def tool_list(self, names):
        """Return the ListToolsResult of the tools named in *names*, built once per set of names."""
        registry = self.site.registry
        kept = self._tool_lists.get(names)
        if kept is None or kept[0] is not registry:
            tools = [self.describe_tool(tool) for name, tool in registry.tools.items() if name in names]
            kept = (registry, types.ListToolsResult(tools=tools))
            self._tool_lists.set(names, kept)
        return kept[1]

    def _visible_names(self, request, generation):
        return self.site.visible_tool_names(request, generation)

    async def list_tools(self, ctx, params):
        names = _listed_names.get()  # decided by keep_tool_lists in this request's unit of work
        if names is None:
            names = await self.in_django(ctx, self._visible_names)
        return self.tool_list(names)

    async def keep_tool_lists(self, ctx, call_next):
        """Server middleware: answer tools/list with the result the SDK made for the same visible tools.

        Every request still runs its unit of work (credential re-checked, permissions loaded,
        visibility decided). The first answer for a (protocol version, visible set) goes through the
        whole pipeline; later ones hand the SDK the result dict that pipeline produced, which it then
        encodes as usual. That skips re-dumping and re-validating an unchanged ~75 KB result: about
        40 % of the SDK's work for 30 tools (docs/sdk-tools-list.md, "kept dict").
        """
        if ctx.method != "tools/list":
            return await call_next(ctx)
        names = await self.in_django(ctx, self._visible_names)
        registry = self.current_registry()
        key = (ctx.protocol_version, names)
        kept = self._wire_tool_lists.get(key)
        if kept is None:
            token = _listed_names.set(names)  # the handler lists exactly this set: no second unit of work
            try:
                result = await call_next(ctx)
            finally:
                _listed_names.reset(token)
            if not isinstance(result, dict):
                return result
            if self.site.registry is registry:  # not rebuilt while the SDK encoded it
                self._wire_tool_lists.set(key, result)
            kept = result
        return dict(kept)

    @asks_client
    async def call_tool(self, ctx, params):
        name = checked_text(params.name, "The tool name")
        arguments = params.arguments if params.arguments is not None else {}
        started = time.perf_counter()
        call_context = CallContext(
            ctx,
            min_log_level=self._log_levels.get(connection_key(ctx), "debug"),
            input_responses=params.input_responses,
            request_state=params.request_state,
            meta=params.meta,
        )
        registered = self.site.registry.tools.get(name)
        throttles = throttling.get_throttles(registered)
        recorder = CallRecorder(ctx, "tool", name, arguments)

        def work(request, generation):
            tool = self.site.get_tool(request, name, generation)
            if tool is None:
                return None, request, ()
            try:
                throttling.check(throttles, request, tool, request.throttle_counts)
            except throttling.Throttled as refused:
                return ToolResult(refused.message, is_error=True, outcome="rate_limited"), request, ()
            request.mcp_call = call_context
            with audit.log_entries_of_call() as log_entry_ids:  # the admin's LogEntry rows this call writes
                return tool.call(request, arguments), request, log_entry_ids

        try:
            result, request, log_entry_ids = await self.in_django(
                ctx, work, tool_name=name, tool=registered, throttles=throttles
            )
        except ServiceUnavailable as busy:
            recorder.finish("failed", error=busy.message, redacted=redacted_fields(registered))
            call_logger.info("mcp call refused", extra={"tool": name, "outcome": "unavailable"})
            return tool_error_result(f"{name} could not run: {busy.message} Nothing was changed.")
        except Exception as exc:
            record_exception(recorder, exc)
            raise
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        if result is None:
            recorder.finish("refused", request=request, error=f"Unknown tool: {name}")
            call_logger.info(
                "mcp call refused",
                extra={"tool": name, "user": request.user.pk, "outcome": "unknown_tool", "duration_ms": duration_ms},
            )
            raise invalid_params(f"Unknown tool: {name}")
        recorder.finish(
            result.outcome,
            request=request,
            error=result.text() if result.is_error else "",
            # Objects changed: what the result says, else the admin LogEntry rows the call wrote.
            rows=(rows_of(registered, result.data) or len(log_entry_ids) or None) if result.outcome == "ok" else None,
            log_entry_ids=log_entry_ids,
            redacted=redacted_fields(registered),
        )
        call_logger.info(
            "mcp call",
            extra={
                "tool": name,
                "user": request.user.pk,
                "outcome": "error" if result.is_error else "ok",
                "duration_ms": duration_ms,
            },
        )
        if result.task is not None:
            return create_task_result(result.task)  # a report's job, for a client of the MCP tasks extension
        return call_tool_result(result)

    # -- resources -----------------------------------------------------------------------------
    async def _permitted(self, ctx, of_registry):
        """Return the items of `of_registry(registry)` the caller may read."""

        def work(request, generation):
            return [item for item in of_registry(self.site.registry) if item.has_permission(request)]

        return await self.in_django(ctx, work)

    async def list_resources(self, ctx, params):
        resources = await self._permitted(ctx, lambda registry: registry.resources)
        return types.ListResourcesResult(resources=[resource_description(resource) for resource in resources])

    async def list_resource_templates(self, ctx, params):
        templates = await self._permitted(ctx, lambda registry: registry.resource_templates)
        return types.ListResourceTemplatesResult(
            resource_templates=[resource_template_description(template) for template in templates]
        )

    def _template_for(self, uri):
        for template in (*self.site.registry.resources, *self.site.registry.resource_templates):
            values = template.match(uri)
            if values is not None:
                return template, values
        return None, None

    async def read_resource(self, ctx, params):
        uri = checked_text(str(params.uri), "The resource URI")
        recorder = CallRecorder(ctx, "resource", uri)
        template, values = self._template_for(uri)
        if template is None:
            recorder.finish("refused", error="No such resource.")
            raise resource_not_found(ctx, uri)

        def work(request, generation):
            if not template.has_permission(request):
                return None, request, "refused", "Not permitted."
            try:
                return template.read(request, values), request, "ok", ""
            except ToolError as exc:
                return None, request, "error", exc.message

        try:
            data, request, outcome, error = await self.in_django(ctx, work)
        except Exception as exc:
            record_exception(recorder, exc)
            raise
        rows = (rows_of(template, data) or 1) if data is not None else None
        recorder.finish(outcome, request=request, error=error, rows=rows)
        if data is None:
            raise resource_not_found(ctx, uri)
        return read_resource_result(uri, template.mime_type, data)

    async def _check_readable(self, ctx, uri):
        template, _ = self._template_for(checked_text(uri, "The resource URI"))
        allowed = template is not None and await self.in_django(
            ctx, lambda request, generation: template.has_permission(request)
        )
        if not allowed:
            raise resource_not_found(ctx, uri)

    async def subscribe(self, ctx, params):
        await self._check_readable(ctx, str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(self, ctx, params):
        await self._check_readable(ctx, str(params.uri))
        return types.EmptyResult()

    # -- prompts -------------------------------------------------------------------------------
    def _visible_prompt(self, request, generation, name):
        """Return the prompt *name* if every tool its workflow needs is visible to the caller, else None."""
        prompt = self.site.registry.prompts.get(name)
        if prompt is None or not prompt.is_visible(self.site.visible_tool_names(request, generation)):
            return None
        return prompt

    async def list_prompts(self, ctx, params):
        def work(request, generation):
            names = self.site.visible_tool_names(request, generation)
            return [prompt for prompt in self.site.registry.prompts.values() if prompt.is_visible(names)]

        prompts = await self.in_django(ctx, work)
        return types.ListPromptsResult(prompts=[prompt_description(prompt) for prompt in prompts])

    @asks_client
    async def get_prompt(self, ctx, params):
        name = checked_text(params.name, "The prompt name")
        arguments = checked_text(params.arguments or {}, "The prompt arguments")
        call_context = CallContext(ctx, input_responses=params.input_responses, request_state=params.request_state)
        recorder = CallRecorder(ctx, "prompt", name, arguments)

        def work(request, generation):
            prompt = self._visible_prompt(request, generation, name)
            if prompt is None:
                return None, request
            request.mcp_call = call_context
            try:
                return (prompt, prompt.render(request, arguments)), request
            except ToolError as exc:
                return (prompt, exc), request

        try:
            found, request = await self.in_django(ctx, work)
        except Exception as exc:
            record_exception(recorder, exc)
            raise
        if found is None:
            recorder.finish("refused", request=request, error=f"Unknown prompt: {name}")
            raise invalid_params(f"Unknown prompt: {name}")
        prompt, messages = found
        if isinstance(messages, ToolError):
            recorder.finish("error", request=request, error=messages.message)
            raise invalid_params(messages.message)
        recorder.finish("ok", request=request)
        return get_prompt_result(prompt, messages)

    # -- completion ----------------------------------------------------------------------------
    async def complete(self, ctx, params):
        ref = params.ref
        argument, value = params.argument.name, params.argument.value or ""
        is_prompt = isinstance(ref, types.PromptReference)
        checked_text([ref.name if is_prompt else ref.uri, argument], "The completion reference")
        checked_text(value, "The completion value")
        try:
            # Values are searched like a tool's query: bounded, or one value could hold the database.
            check_search_terms(value, argument="argument.value")
        except ToolError as exc:
            raise invalid_params(exc.message) from None

        def work(request, generation):
            if is_prompt:
                source = self._visible_prompt(request, generation, ref.name)
            else:
                source = next((t for t in self.site.registry.resource_templates if t.uri_template == ref.uri), None)
                if source is not None and not source.has_permission(request):
                    source = None
            return [] if source is None else source.complete(request, argument, value)

        return complete_result(await self.in_django(ctx, work))

    # -- logging (handshake era) -----------------------------------------------------------------
    async def set_log_level(self, ctx, params):
        """logging/setLevel: the least severe level this caller's connection receives from tools."""
        self._log_levels.set(connection_key(ctx), params.level)
        return types.EmptyResult()
