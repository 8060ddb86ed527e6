import json
import pytest
from asgiref.sync import sync_to_async
from mcp.shared.exceptions import MCPError
from customers.models import Customer, Order, SupportTicket
from .conftest import mcp_client

pytestmark = pytest.mark.anyio

CASES = [
    ("search_customers", {"page_size": "ten"}),
    ("get_customer", {"id": "abc"}),
    ("search_customers", {"staus": "active"}),
    ("update_customer", {"id": 1, "lifetime_value": 5}),
    ("create_customer", {"name": "x", "email": "x@example.com", "country": "US", "created": "2020-01-01"}),
    ("search_customers", {"is_internal": True}),
    ("search_customers", {"status": "actve"}),
    ("search_customers", {"created_after": "yesterday"}),
    ("search_customers", {"created_after": "2026-02-30"}),
    ("get_customer", {"id": 999999}),
    ("search_customers", {"page_size": 500}),
    ("search_customers", {"cursor": "garbage"}),
    ("create_customer", {"name": "x", "email": "not-an-email", "country": "US"}),
    ("issue_refund", {"order_id": 1, "amount": 0, "reason": "goodwill"}),
    ("issue_refund", {"order_id": 1, "amount": -5, "reason": "goodwill"}),
    ("issue_refund", {"order_id": 1, "amount": "0", "reason": "goodwill"}),
    ("issue_refund", {"order_id": 1, "amount": "abc", "reason": "goodwill"}),
    ("update_ticket_status", {"ticket_id": 1, "status": "done"}),
    ("update_customer", {"id": 1}),
    ("mark_resolved_support_tickets", {"ids": [1, 999999]}),
    ("search_customers", {"page_size": 10.0}),
    ("get_customer", {"id": 5.0}),
]

async def test_explore(demo):
    async with mcp_client(demo["admin"]) as client:
        tools = await client.list_tools()
        for t in tools.tools:
            print(t.name, json.dumps(t.input_schema)[:600])
        for name, args in CASES:
            try:
                r = await client.call_tool(name, args)
                print(name, args, "->", r.is_error, r.content[0].text[:400])
            except MCPError as e:
                print(name, args, "MCPError", e.code, e.message)
        try:
            await client.get_prompt("customer_health_review", {})
        except MCPError as e:
            print("prompt", e.code, e.message)
    assert 0
