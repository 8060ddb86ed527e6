"""The generated server through the SDK's in-process client, in both protocol eras."""

import json

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
        assert json.loads(got.content[0].text) == got.structured_content  # the JSON text mirrors it


async def test_each_call_is_one_django_request_on_a_worker_thread(demo, mode):
    """ORM work runs off the event loop, in one thread hop wrapped in Django's request signals."""
    import threading

    from django.core import signals

    events = []

    def started(**kwargs):
        events.append(("started", threading.get_ident()))

    def finished(**kwargs):
        events.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        async with mcp_client(demo["analyst"], mode) as client:
            await client.list_tools()  # the client validates results against the listed output schemas
            events.clear()
            result = await client.call_tool("search_orders", {"status": "paid", "page_size": 5})
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert not result.is_error and len(result.structured_content["items"]) == 5
    assert [name for name, _ in events] == ["started", "finished"]
    assert events[0][1] == events[1][1] != threading.get_ident()


async def test_resources_prompts_and_completion(demo, mode):
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(demo["analyst"], mode) as client:
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert "customers://customer/{id}/orders" in templates
        read = await client.read_resource(f"customers://customer/{customer.pk}")
        assert json.loads(read.contents[0].text)["email"] == customer.email
        orders = await client.read_resource(f"customers://customer/{customer.pk}/orders")
        assert [order["customer"] for order in json.loads(orders.contents[0].text)["items"]] == [customer.pk] * 3
        prompt = await client.get_prompt("customer_health_review", {"customer_id": str(customer.pk)})
        assert f"get_customer with id {customer.pk}" in prompt.messages[0].content.text
        ref = ResourceTemplateReference(type="ref/resource", uri="customers://customer/{id}")
        completion = await client.complete(ref, {"name": "id", "value": customer.email})
        assert completion.completion.values == [str(customer.pk)]
