"""The SDK server mcp_bridge builds: which of the SDK's default middleware it keeps."""

import pytest
from mcp.server import Server
from opentelemetry import trace

from mcp_bridge.server import McpBridgeServer, wants_spans
from mcp_bridge.sites import McpSite


def test_the_sdk_default_middleware_is_its_opentelemetry_span_alone():
    """The server drops the SDK's defaults when spans are off: they must be the span and nothing else."""
    defaults = Server("probe").middleware
    assert [type(middleware).__name__ for middleware in defaults] == ["OpenTelemetryMiddleware"]


@pytest.mark.parametrize(("setting", "expected"), [(True, True), (False, False), (None, False)])
def test_spans_follow_the_setting(settings, setting, expected):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "OPENTELEMETRY_SPANS": setting}
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # none installed in the tests
    assert wants_spans() is expected
    names = [type(middleware).__name__ for middleware in McpBridgeServer(McpSite("probe")).server.middleware]
    assert ("OpenTelemetryMiddleware" in names) is expected
