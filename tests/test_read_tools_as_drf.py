"""Every generated read tool answers exactly what DRF makes of the same rows (field plans and column reads)."""

import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.test import RequestFactory
from rest_framework.utils.encoders import JSONEncoder

from customers.models import Order, Refund
from mcp_bridge.model_tools import GetTool, SearchTool
from mcp_bridge.sites import site

from .conftest import mcp_client

pytestmark = pytest.mark.anyio


def drf_json(exposure, ids):
    """DRF's own serialization of the rows with *ids*, in that order, as compact JSON text."""
    rows = exposure.model._default_manager.in_bulk(ids)
    request = RequestFactory().post("/mcp")
    data = exposure.serializer_class([rows[pk] for pk in ids], many=True, context=exposure.context(request)).data
    return json.dumps(data, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))


def refunds_with_and_without_a_creator(admin):
    order = Order.objects.order_by("pk").first()
    Refund.objects.create(order=order, amount=Decimal("12.50"), reason="damaged", note="dented", created_by=admin)
    Refund.objects.create(order=order, amount=Decimal("1"), reason="other")


async def test_every_read_tool_answers_as_drf(demo, mode):
    await sync_to_async(refunds_with_and_without_a_creator)(demo["admin"])
    tools = site.registry.tools.values()
    searches = [tool for tool in tools if isinstance(tool, SearchTool)]
    gets = {tool.exposure: tool for tool in tools if isinstance(tool, GetTool)}
    assert len(searches) == len(site.registry.exposures) == len(gets)
    async with mcp_client(demo["admin"], mode) as client:
        for search in searches:
            page = await client.call_tool(search.name, {"page_size": 15})
            assert not page.is_error, page.content
            items = page.structured_content["items"]
            assert items, f"{search.name} found nothing in the demo data"
            ids = [item["id"] for item in items]
            expected = await sync_to_async(drf_json)(search.exposure, ids)
            assert json.dumps(items, ensure_ascii=False, separators=(",", ":")) == expected, search.name
            assert json.loads(page.content[0].text) == page.structured_content  # the text copy says the same

            get = gets[search.exposure]
            one = await client.call_tool(get.name, {"id": ids[0]})
            assert not one.is_error, one.content
            assert f"[{one.content[0].text}]" == await sync_to_async(drf_json)(get.exposure, ids[:1]), get.name
