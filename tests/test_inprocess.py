"""The generated server through the SDK's in-process client, in both protocol eras."""

import pytest
from mcp.types import ResourceTemplateReference

from customers.models import Customer

from .conftest import mcp_client

pytestmark = pytest.mark.anyio


async def test_protocol_versions(demo, mode):
    async with mcp_client(demo["analyst"], mode) as client:
        expected = "2026-07-28" if mode == "auto" else "2025-11-25"
        assert client.protocol_version == expected


async def test_search_then_get(demo, mode):
    async with mcp_client(demo["support_agent"], mode) as client:
        page = await client.call_tool("search_customers", {"status": "active", "page_size": 3})
        assert not page.is_error
        items = page.structured_content["items"]
        assert len(items) == 3 and all(item["status"] == "active" for item in items)
        got = await client.call_tool("get_customer", {"id": items[0]["id"]})
        assert got.structured_content["email"] == items[0]["email"]
        assert got.structured_content["phone"].endswith("***")  # redacted field
        assert '"id": %d' % items[0]["id"] in got.content[0].text  # JSON text mirrors structured content
