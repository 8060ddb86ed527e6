"""The SDK's low-level Server for an McpSite: its handlers and middleware, wired once per site.

A request's path, module by module: asgi.py or stdio.py (transport) -> authentication.py ->
the SDK (its checks, OpenTelemetry, request_state.py's sealing, results.report_busy) ->
handlers.py -> unit_of_work.py (the one thread hop) -> sites.py, tools.py (permission, operation)
-> results.py. docs/architecture.md lists every module.
"""

from mcp import types
from mcp.server import Server
from opentelemetry import trace

from . import __version__
from .conf import mcp_settings
from .handlers import McpHandlers
from .principals import current_principal
from .request_state import request_state_boundary
from .results import report_busy
from .sites import McpSite
from .sites import site as default_site
from .task_extension import TasksExtension

__all__ = ["McpBridgeServer", "current_principal", "get_server"]


class McpBridgeServer:
    """The SDK Server (`server`) serving *site* (default: mcp_bridge.site) through McpHandlers (`handlers`)."""

    def __init__(self, site=None):
        self.site = site or default_site
        self.handlers = handlers = McpHandlers(self.site)
        self.server = Server(
            mcp_settings.SERVER_NAME,
            version=mcp_settings.SERVER_VERSION or __version__,
            title=mcp_settings.SERVER_TITLE,
            instructions=mcp_settings.INSTRUCTIONS or None,
            get_tool_input_schema=handlers.tool_input_schema,
            on_list_tools=handlers.list_tools,
            on_call_tool=handlers.call_tool,
            on_list_resources=handlers.list_resources,
            on_list_resource_templates=handlers.list_resource_templates,
            on_read_resource=handlers.read_resource,
            on_list_prompts=handlers.list_prompts,
            on_get_prompt=handlers.get_prompt,
            on_completion=handlers.complete,
            on_subscribe_resource=handlers.subscribe,
            on_unsubscribe_resource=handlers.unsubscribe,
        )
        if not wants_spans():
            # The SDK's only default middleware is its OpenTelemetry span (tests/unit/test_server.py
            # holds it to that): with no tracer provider installed, the spans go nowhere.
            self.server.middleware.clear()
        # After the SDK's own (OpenTelemetry): 2026-07-28 multi-round-trip state comes back from the
        # client, sealed and bound to the caller; then a failed database, cache or broker becomes a
        # retryable error, never an internal one.
        self.server.middleware.append(request_state_boundary(mcp_settings.SERVER_NAME))
        self.server.middleware.append(report_busy)
        # The MCP tasks extension: report jobs as tasks for the 2026-07-28 clients that declare it.
        TasksExtension(handlers).install(self.server)
        # Innermost: repeated tools/list answers reuse the result the pipeline made (see keep_tool_lists).
        self.server.middleware.append(handlers.keep_tool_lists)
        # Logging is deprecated in 2026-07-28 but handshake-era clients still set a level.
        self.server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, handlers.set_log_level)

    def __repr__(self):
        return f"McpBridgeServer(site={self.site!r})"


def wants_spans():
    """True if requests get the SDK's OpenTelemetry spans (MCP_BRIDGE['OPENTELEMETRY_SPANS'])."""
    setting = mcp_settings.OPENTELEMETRY_SPANS
    if setting is not None:
        return bool(setting)
    return not isinstance(trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


_servers: dict[McpSite, McpBridgeServer] = {}


def get_server(site=None):
    """Return the process's McpBridgeServer for *site* (default: mcp_bridge.site)."""
    site = site or default_site
    bridge = _servers.get(site)
    if bridge is None:
        bridge = _servers[site] = McpBridgeServer(site)
    return bridge
