"""Deployment shapes: health endpoints, two processes without sticky sessions, AWS Lambda."""

import asyncio
import json

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .servers import uvicorn_server

pytestmark = pytest.mark.subprocess


def test_health_and_readiness(demo, live_server_url):
    assert httpx2.get(f"{live_server_url}/healthz").json() == {"status": "ok"}
    ready = httpx2.get(f"{live_server_url}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["checks"]["database"] == "ok" and body["checks"]["tools"] >= 16


class AlternatingTransport(httpx2.AsyncBaseTransport):
    """Send each request to the next server in turn, as a round-robin load balancer would."""

    def __init__(self, ports):
        self.ports = ports
        self.sent = []
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request):
        port = self.ports[len(self.sent) % len(self.ports)]
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self):
        await self.inner.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_two_processes_without_sticky_sessions(api_keys, mode):
    """Consecutive requests of one client alternate between two server processes."""
    stateless = {"MCP_STATELESS_HTTP": "1"}
    with uvicorn_server(stateless) as first, uvicorn_server(stateless) as second:
        ports = [int(first.rsplit(":", 1)[1]), int(second.rsplit(":", 1)[1])]
        transport = AlternatingTransport(ports)
        headers = {"Authorization": f"Bearer {api_keys['support_agent']}"}
        async with httpx2.AsyncClient(transport=transport, headers=headers) as http:
            async with Client(streamable_http_client(f"{first}/mcp", http_client=http), mode=mode) as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert "issue_refund" in names
                for _ in range(3):
                    page = await client.call_tool("search_customers", {"page_size": 2})
                    assert not page.is_error and len(page.structured_content["items"]) == 2
                following = await client.call_tool(
                    "search_customers", {"page_size": 2, "cursor": page.structured_content["next_cursor"]}
                )
                assert not following.is_error
        assert set(transport.sent) == set(ports) and len(transport.sent) >= 5


def _api_gateway_event(body, key, method_header):
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/mcp",
        "rawQueryString": "",
        "headers": {
            "host": "localhost",
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "authorization": f"Bearer {key}",
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": method_header,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": "POST",
                "path": "/mcp",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "lambda-test",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795000000000,
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


@pytest.fixture
def lambda_event_loop():
    """Close the event loop Mangum sets for the thread (and never closes) once the test is done."""
    yield
    asyncio.get_event_loop_policy().get_event_loop().close()
    asyncio.set_event_loop(None)


def test_lambda_handler_serves_a_real_mcp_request(api_keys, settings, monkeypatch, lambda_event_loop):
    # Not FREEZE_GC_AT_STARTUP: a frozen test process would keep every object later tests leave behind.
    settings.MCP_BRIDGE = {
        **settings.MCP_BRIDGE,
        "STATELESS_HTTP": True,
        "JSON_RESPONSE": True,
        "FREEZE_GC_AT_STARTUP": False,
    }
    # The handler module sets these in os.environ; set here, they are removed again after the test, so
    # servers that later tests start do not inherit Lambda's JSON mode.
    monkeypatch.setenv("MCP_STATELESS_HTTP", "1")
    monkeypatch.setenv("MCP_JSON_RESPONSE", "1")
    from config.lambda_handler import handler

    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}
    for _ in range(2):  # one lifespan cycle per invocation must work repeatedly
        response = handler(_api_gateway_event(listing, api_keys["analyst"], "tools/list"), None)
        assert response["statusCode"] == 200, response
        tools = {tool["name"] for tool in json.loads(response["body"])["result"]["tools"]}
        assert "search_customers" in tools and "issue_refund" not in tools

    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "search_orders", "arguments": {"status": "paid", "page_size": 3}, "_meta": meta},
    }
    event = _api_gateway_event(call, api_keys["analyst"], "tools/call")
    event["headers"]["mcp-name"] = "search_orders"
    response = handler(event, None)
    result = json.loads(response["body"])["result"]
    assert not result.get("isError") and len(result["structuredContent"]["items"]) == 3

    unauthenticated = _api_gateway_event(listing, "wrong", "tools/list")
    assert handler(unauthenticated, None)["statusCode"] == 401
