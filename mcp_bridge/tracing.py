"""The OpenTelemetry span of an MCP request's Django work: `mcp_bridge.unit_of_work`.

The MCP SDK opens a SERVER span per request on the event loop (`tools/call <name>`, ...). The Django
work of that request runs on a worker thread (unit_of_work.run_in_worker); asgiref copies the
task's contextvars there, OpenTelemetry's current context with them, so this span is the SDK span's
child and the database spans of an instrumented Django nest inside it. See docs/observability.md.
"""

import contextlib

from opentelemetry import trace

tracer = trace.get_tracer("mcp_bridge")

SPAN_NAME = "mcp_bridge.unit_of_work"


@contextlib.contextmanager
def unit_of_work_span(tool_name=None):
    """Open the unit of work's span (a no-op without a tracer provider, or with OPENTELEMETRY_SPANS off)."""
    from .server import wants_spans  # the same switch as the SDK's spans: never a child without its parent

    if not wants_spans():
        yield None
        return
    attributes = {"gen_ai.tool.name": tool_name} if tool_name else None
    with tracer.start_as_current_span(SPAN_NAME, attributes=attributes) as span:
        yield span
