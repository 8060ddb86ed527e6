"""Tools that ask the client for input, in both protocol eras.

2025-era connections get a server-to-client elicitation request; 2026-07-28 connections get an
InputRequiredResult and the tool runs again with the answer (multi-round-trip), its first attempt
rolled back.
"""

import pytest
from mcp import Client, types
from mcp.shared.exceptions import MCPError

from customers.models import SupportTicket
from mcp_bridge.authentication import local_principal
from mcp_bridge.server import McpBridgeServer, current_principal
from mcp_bridge.sites import McpSite

pytestmark = pytest.mark.anyio


@pytest.fixture
def asking_server():
    site = McpSite(name="asking")

    @site.tool(
        description="Ask the user for a subject, then open a support ticket with it. Returns the ticket id.",
        context=True,
        destructive=False,
        input_schema={
            "type": "object",
            "properties": {"customer_id": {"type": "integer"}},
            "required": ["customer_id"],
            "additionalProperties": False,
        },
    )
    def open_ticket(request, data, call):
        # A write before the question: on 2026-07-28 this first attempt must be rolled back.
        ticket = SupportTicket.objects.create(customer_id=data["customer_id"], subject="(pending)", body="")
        answer = call.elicit(
            "What is the problem?",
            {"type": "object", "properties": {"subject": {"type": "string"}}, "required": ["subject"]},
        )
        if answer.action != "accept":
            return {"ticket_id": None}
        ticket.subject = answer.content["subject"]
        ticket.save()
        return {"ticket_id": ticket.pk, "protocol": call.protocol_version}

    @site.tool(
        description="Ask the client's model for a slogan and return it. Needs the sampling capability.",
        context=True,
        read_only=True,
    )
    def slogan(request, data, call):
        return {"slogan": call.sample("A slogan for Acme", max_tokens=20).content.text}

    return McpBridgeServer(site)


async def elicitation_callback(context, params):
    return types.ElicitResult(action="accept", content={"subject": "Parcel damaged"})


async def test_elicitation_in_both_eras(demo, asking_server, mode):
    from asgiref.sync import sync_to_async

    customer = await SupportTicket.objects.values_list("customer_id", flat=True).afirst()
    before = await sync_to_async(SupportTicket.objects.count)()
    token = current_principal.set(local_principal(demo["admin"]))
    try:
        async with Client(asking_server.server, mode=mode, elicitation_callback=elicitation_callback) as client:
            result = await client.call_tool("open_ticket", {"customer_id": customer})
    finally:
        current_principal.reset(token)
    assert not result.is_error, result.content
    assert result.structured_content["protocol"] == ("2026-07-28" if mode == "auto" else "2025-11-25")
    ticket = await SupportTicket.objects.aget(pk=result.structured_content["ticket_id"])
    assert ticket.subject == "Parcel damaged"
    # Exactly one ticket: the modern era's first, unanswered attempt left nothing behind.
    assert await sync_to_async(SupportTicket.objects.count)() == before + 1


async def test_first_round_returns_input_required_on_2026(demo, asking_server):
    token = current_principal.set(local_principal(demo["admin"]))
    try:
        async with Client(asking_server.server, elicitation_callback=elicitation_callback) as client:
            customer = await SupportTicket.objects.values_list("customer_id", flat=True).afirst()
            raw = await client.session.call_tool("open_ticket", {"customer_id": customer}, allow_input_required=True)
    finally:
        current_principal.reset(token)
    assert isinstance(raw, types.InputRequiredResult)
    ((key, request),) = raw.input_requests.items()
    assert request.method == "elicitation/create" and request.params.message == "What is the problem?"


async def test_missing_client_capability_is_a_protocol_error(demo, asking_server):
    token = current_principal.set(local_principal(demo["admin"]))
    try:
        async with Client(asking_server.server) as client:  # declares no sampling capability
            with pytest.raises(MCPError) as caught:
                await client.call_tool("slogan", {})
    finally:
        current_principal.reset(token)
    assert caught.value.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
