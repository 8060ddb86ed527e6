"""Smoke test of the real HTTP transport (uvicorn on loopback) with the SDK client."""

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_list_and_call_over_http(api_keys, live_server_url, mode):
    key = api_keys["support_agent"]
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        async with Client(streamable_http_client(f"{live_server_url}/mcp", http_client=http), mode=mode) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert "search_customers" in tools and "delete_customer" not in tools
            result = await client.call_tool("search_customers", {"page_size": 2})
            assert not result.is_error and len(result.structured_content["items"]) == 2
