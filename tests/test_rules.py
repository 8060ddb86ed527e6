"""Business rules declared with the annotation (mcp_bridge.rules): each test tries to break one.

The demo declares MaxDateRange("created", days=90) on search_orders, MustExist on the ticket writes'
customer and assignee, and reopening_needs_a_note on the ticket status changes; MaxResults and a
Rule subclass are declared here for the length of a test. Refused writes change nothing.
"""

import datetime
import io

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone

from customers.admin import CustomerAdmin, OrderAdmin, SupportTicketAdmin
from customers.models import Customer, Order, SupportTicket
from mcp_bridge.exceptions import ToolError
from mcp_bridge.rules import (
    MaxDateRange,
    MaxResults,
    MustExist,
    Rule,
    Validator,
    check_rule_options,
    check_rules,
    rules_of,
)
from mcp_bridge.sites import site

from .conftest import mcp_client

pytestmark = pytest.mark.anyio


def error_text(result):
    assert result.is_error, result.content
    return result.content[0].text


def ok(result):
    assert not result.is_error, result.content
    return result.structured_content


@pytest.fixture
def rebuilt(monkeypatch):
    """Rebuild the registry after a test changes ModelAdmin classes, and again after it undoes them."""
    yield lambda: (site.reset(), site.registry)[1]
    monkeypatch.undo()
    site.reset()


@sync_to_async
def ticket_writer(user):
    """Let *user* (not a superuser, so internal customers stay hidden) create and change tickets over MCP."""
    perms = {
        "customers": ["add_supportticket", "change_supportticket"],
        "mcp_bridge": [
            "call_create_support_ticket",
            "call_update_support_ticket",
            "call_mark_resolved_support_tickets",
        ],
    }
    for app_label, codenames in perms.items():
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
    return user


@sync_to_async
def snapshot():
    """Every ticket's (pk, customer, status, body): what a refused write must leave as it was."""
    return list(SupportTicket.objects.order_by("pk").values_list("pk", "customer_id", "status", "body"))


# -- MaxDateRange on search_orders -----------------------------------------------------------------------


async def test_order_search_by_date_allows_exactly_90_days_and_refuses_91(demo):
    async with mcp_client(demo["support_agent"]) as client:
        ok(await client.call_tool("search_orders", {"created_after": "2026-01-01", "created_before": "2026-04-01"}))
        text = error_text(
            await client.call_tool("search_orders", {"created_after": "2026-01-01", "created_before": "2026-04-02"})
        )
        assert text == (
            "search_orders searches a date range of at most 90 days; created_after to created_before spans 91 days. "
            "Narrow it: set created_before to 2026-04-01T00:00:00+00:00 or earlier (or created_after later), and "
            "search the rest of the period in further calls of at most 90 days."
        )
        # Date-times: one second over is over.
        ok(
            await client.call_tool(
                "search_orders", {"created_after": "2026-01-01T12:00:00Z", "created_before": "2026-04-01T12:00:00Z"}
            )
        )
        text = error_text(
            await client.call_tool(
                "search_orders", {"created_after": "2026-01-01T12:00:00Z", "created_before": "2026-04-01T12:00:01Z"}
            )
        )
        assert "created_after to created_before spans 90 days and 0:00:01." in text
        # The same day in another offset is the same instant the filter reads: 90 days exactly.
        ok(
            await client.call_tool(
                "search_orders",
                {"created_after": "2026-01-01T01:00:00+01:00", "created_before": "2026-04-01T00:00:00Z"},
            )
        )


async def test_an_open_ended_range_counts_to_now_and_a_range_without_start_is_refused(demo):
    now = timezone.now()
    async with mcp_client(demo["support_agent"]) as client:
        ok(await client.call_tool("search_orders", {"created_after": (now - datetime.timedelta(days=89)).isoformat()}))
        text = error_text(
            await client.call_tool("search_orders", {"created_after": (now - datetime.timedelta(days=91)).isoformat()})
        )
        assert "created_after to now spans 91" in text and "at most 90 days" in text
        # Only an end: the range reaches back without limit.
        text = error_text(await client.call_tool("search_orders", {"created_before": "2026-04-01"}))
        assert text == (
            "search_orders searches a date range of at most 90 days, and created_before alone has no start. Add "
            "created_after, no earlier than 2026-01-01T00:00:00+00:00, and call search_orders again."
        )
        # Not a search by date: the rule does not apply.
        customer = await Customer.objects.filter(is_internal=False).afirst()
        assert ok(await client.call_tool("search_orders", {"customer": customer.pk}))["items"]
        # A date the filter could not read is refused with the filter's own message.
        text = error_text(await client.call_tool("search_orders", {"created_after": "last week"}))
        assert "'created_after' must be an ISO 8601 date" in text


async def test_the_date_rule_reads_what_the_filter_reads(demo):
    """Rows returned by an allowed range are exactly those the range selects."""
    order = await Order.objects.filter(customer__is_internal=False).order_by("created").afirst()
    start = order.created - datetime.timedelta(days=1)
    end = start + datetime.timedelta(days=90)
    async with mcp_client(demo["admin"]) as client:
        page = ok(
            await client.call_tool(
                "search_orders",
                {"created_after": start.isoformat(), "created_before": end.isoformat(), "customer": order.customer_id},
            )
        )
    expected = await sync_to_async(
        lambda: sorted(
            Order.objects.filter(created__gte=start, created__lt=end, customer=order.customer_id).values_list(
                "pk", flat=True
            )
        )
    )()
    assert sorted(item["id"] for item in page["items"]) == expected and expected


# -- MustExist on the ticket writes ----------------------------------------------------------------------


async def test_a_customer_the_caller_may_not_see_is_refused_like_a_missing_one(demo):
    internal = await Customer.objects.filter(is_internal=True).afirst()
    missing_id = internal.pk + 100_000
    before = await snapshot()
    async with mcp_client(await ticket_writer(demo["support_agent"])) as client:
        ticket = {"subject": "Printer on fire", "body": "It is on fire."}
        hidden = error_text(await client.call_tool("create_support_ticket", {**ticket, "customer": internal.pk}))
        absent = error_text(await client.call_tool("create_support_ticket", {**ticket, "customer": missing_id}))
        assert hidden == (
            f"create_support_ticket: No customer with id {internal.pk} exists, or you may not see it. Use "
            "search_customers to find valid ids. Nothing was changed."
        )
        assert absent == hidden.replace(str(internal.pk), str(missing_id))
        existing = await SupportTicket.objects.filter(customer__is_internal=False).afirst()
        moved = error_text(
            await client.call_tool("update_support_ticket", {"id": existing.pk, "customer": internal.pk})
        )
        assert moved == hidden.replace("create_support_ticket", "update_support_ticket")
    assert await snapshot() == before
    # A superuser sees internal customers: the same id is accepted, so visibility decided it.
    async with mcp_client(demo["admin"]) as client:
        created = ok(await client.call_tool("create_support_ticket", {**ticket, "customer": internal.pk}))
    assert created["customer"] == internal.pk


async def test_a_missing_assignee_is_refused_and_a_null_one_is_not_checked(demo):
    customer = await Customer.objects.filter(is_internal=False).afirst()
    before = await snapshot()
    async with mcp_client(await ticket_writer(demo["support_agent"])) as client:
        ticket = {"subject": "Lost parcel", "body": "Where is it?", "customer": customer.pk}
        text = error_text(await client.call_tool("create_support_ticket", {**ticket, "assignee": 987_654}))
        assert "No user with id 987654 exists, or you may not see it." in text
        assert await snapshot() == before
        created = ok(await client.call_tool("create_support_ticket", {**ticket, "assignee": None}))
    assert created["assignee"] is None


# -- the demo's custom validator -------------------------------------------------------------------------


async def test_a_closed_ticket_is_reopened_only_with_a_note(demo):
    ticket = await SupportTicket.objects.filter(customer__is_internal=False).afirst()
    await SupportTicket.objects.filter(pk=ticket.pk).aupdate(status=SupportTicket.Status.CLOSED)
    before = await snapshot()
    async with mcp_client(await ticket_writer(demo["support_agent"])) as client:
        text = error_text(await client.call_tool("update_ticket_status", {"ticket_id": ticket.pk, "status": "open"}))
        assert text == (
            f"update_ticket_status rejected the input: note: Ticket {ticket.pk} is closed; reopening it needs a note "
            "saying why. Send the note with status. Correct these values and call update_ticket_status again."
        )
        blank = {"ticket_id": ticket.pk, "status": "open", "note": "   "}
        assert error_text(await client.call_tool("update_ticket_status", blank)) == text
        text = error_text(await client.call_tool("update_support_ticket", {"id": ticket.pk, "status": "pending"}))
        assert f"status: Ticket {ticket.pk} is closed: reopen it with update_ticket_status and a note" in text
        assert await snapshot() == before
        # Other fields of a closed ticket may still change, and a note reopens it.
        ok(await client.call_tool("update_support_ticket", {"id": ticket.pk, "subject": "Renamed"}))
        reopened = ok(
            await client.call_tool(
                "update_ticket_status", {"ticket_id": ticket.pk, "status": "open", "note": "Customer wrote back."}
            )
        )
    assert reopened == {"ticket_id": ticket.pk, "previous_status": "closed", "status": "open"}


async def test_the_validator_does_not_tell_that_a_hidden_ticket_is_closed(demo):
    hidden = await SupportTicket.objects.filter(customer__is_internal=True).afirst()
    await SupportTicket.objects.filter(pk=hidden.pk).aupdate(status=SupportTicket.Status.CLOSED)
    missing_id = hidden.pk + 100_000
    async with mcp_client(demo["support_agent"]) as client:
        seen = error_text(await client.call_tool("update_ticket_status", {"ticket_id": hidden.pk, "status": "open"}))
        absent = error_text(await client.call_tool("update_ticket_status", {"ticket_id": missing_id, "status": "open"}))
    assert seen == absent.replace(str(missing_id), str(hidden.pk))
    assert "closed" not in seen


# -- MaxResults and a Rule subclass, declared for a test -------------------------------------------------


class NoGmail(Rule):
    """A Rule subclass: customers' e-mail addresses may not be changed to gmail.com ones."""

    def describe(self, tool):
        return "Email addresses at gmail.com are refused"

    def check(self, request, tool, arguments):
        if str(arguments.get("email", "")).endswith("@gmail.com"):
            raise ToolError(f"{tool.name}: use the customer's company address, not a gmail.com one.")


async def test_max_results_and_a_rule_subclass(demo, monkeypatch, rebuilt):
    monkeypatch.setattr(OrderAdmin, "mcp_rules", {"search": [MaxResults(30)]})
    monkeypatch.setattr(SupportTicketAdmin, "mcp_rules", {"mark_resolved": [MaxResults(2)]})
    monkeypatch.setattr(CustomerAdmin, "mcp_rules", {"update": [NoGmail()]})
    registry = rebuilt()
    assert check_rules(registry) == []
    assert "At most 30 results per call (page_size up to 30)." in registry.tools["search_orders"].description
    assert registry.tools["mark_resolved_support_tickets"].description.endswith("At most 2 ids per call.")
    tickets = [t async for t in SupportTicket.objects.filter(customer__is_internal=False).order_by("pk")[:3]]
    customer = await Customer.objects.filter(is_internal=False).afirst()
    before = await snapshot()
    async with mcp_client(await ticket_writer(demo["support_agent"])) as client:
        assert len(ok(await client.call_tool("search_orders", {"page_size": 30}))["items"]) == 30
        ok(await client.call_tool("search_orders", {}))  # the default page size (25) is within the rule
        assert error_text(await client.call_tool("search_orders", {"page_size": 31})) == (
            "search_orders returns at most 30 results per call (got page_size=31). Send page_size of 30 or less and "
            "use next_cursor for the next page."
        )
        text = error_text(await client.call_tool("mark_resolved_support_tickets", {"ids": [t.pk for t in tickets]}))
        assert text == (
            "mark_resolved_support_tickets takes at most 2 ids per call (got 3). Split them into calls of 2 or fewer."
        )
        assert await snapshot() == before
    async with mcp_client(demo["admin"]) as client:
        text = error_text(await client.call_tool("update_customer", {"id": customer.pk, "email": "x@gmail.com"}))
        assert text == "update_customer: use the customer's company address, not a gmail.com one."
    assert (await Customer.objects.aget(pk=customer.pk)).email == customer.email


# -- descriptions and docs -------------------------------------------------------------------------------


def test_rules_are_in_the_descriptions_and_the_docs():
    tools = site.registry.tools
    assert tools["search_orders"].description.endswith(
        "Date range rule: created_after to created_before may span at most 90 days (created_after alone counts up "
        "to now; created_before needs created_after)."
    )
    assert (
        "The customer argument must be the id of a customer you can see." in tools["create_support_ticket"].description
    )
    assert tools["update_ticket_status"].description.endswith(
        "A closed ticket is reopened only with update_ticket_status and a note saying why."
    )
    out = io.StringIO()
    call_command("mcp_docs", output="-", stdout=out)
    assert "created_after to created_before may span at most 90 days" in out.getvalue()


# -- start-up checks (E130-E139) -------------------------------------------------------------------------


def test_the_demo_rules_pass_the_checks():
    from mcp_bridge.checks import check_business_rules

    assert check_business_rules() == []


def test_mcp_rules_must_be_a_dict_of_known_operations(monkeypatch):
    order_admin = site.registry.exposures[Order].model_admin
    monkeypatch.setattr(order_admin, "mcp_rules", [MaxResults(10)])
    [error] = check_rule_options(order_admin)
    assert (error.id, error.obj) == ("mcp_bridge.E130", OrderAdmin)
    monkeypatch.setattr(order_admin, "mcp_rules", {"search": [], "serach": [], "create": []})
    errors = check_rule_options(order_admin)
    assert [(e.id, e.obj) for e in errors] == [("mcp_bridge.E131", OrderAdmin)] * 2
    assert "has the key 'serach', which is not an operation, action or tool of OrderAdmin" in errors[0].msg
    assert "'get', 'search'" in errors[0].hint  # what the keys may be
    ticket_admin = site.registry.exposures[SupportTicket].model_admin
    monkeypatch.setattr(ticket_admin, "mcp_rules", {"mark_resolved": [], "update_ticket_status": []})
    assert check_rule_options(ticket_admin) == []


def declaration_errors(tool_name, rule):
    return [(error.id, error.msg) for error in rule.check_declaration(site.registry.tools[tool_name])]


def test_rules_that_cannot_work_are_reported():
    assert declaration_errors("search_orders", MaxDateRange("created", days=90)) == []
    [(id_, msg)] = declaration_errors("search_orders", MaxDateRange("craeted", days=90))
    assert id_ == "mcp_bridge.E133" and "'craeted', which is not a field of customers.Order" in msg
    [(id_, msg)] = declaration_errors("search_orders", MaxDateRange("total", days=90))
    assert id_ == "mcp_bridge.E134" and "'total', which is a DecimalField, not a date" in msg
    # A date field of the model, but a tool without created_after/created_before to read.
    [(id_, msg)] = declaration_errors("update_ticket_status", MaxDateRange("created", days=7))
    assert id_ == "mcp_bridge.E135" and "'created_after', 'created_before', which the tool does not take" in msg
    [(id_, msg)] = declaration_errors("get_order", MaxResults(10))
    assert id_ == "mcp_bridge.E135" and "'page_size'" in msg
    [(id_, msg)] = declaration_errors("search_orders", MaxResults(10))
    assert id_ == "mcp_bridge.E137" and "below the default page_size (25)" in msg
    [(id_, msg)] = declaration_errors("update_ticket_status", MustExist("ticket_id"))
    assert id_ == "mcp_bridge.E136"
    assert declaration_errors("update_ticket_status", MustExist("ticket_id", model="customers.SupportTicket")) == []
    [(id_, msg)] = declaration_errors("create_support_ticket", MustExist("customre"))
    assert id_ == "mcp_bridge.E135"
    [(id_, msg)] = declaration_errors("create_support_ticket", MustExist("subject"))
    assert id_ == "mcp_bridge.E136" and "cannot tell which model 'subject' refers to" in msg
    [(id_, msg)] = declaration_errors("update_ticket_status", Validator(lambda request: None))
    assert id_ == "mcp_bridge.E139" and "validator(request, arguments)" in msg


def test_a_rules_list_that_is_not_one_refuses_every_call(monkeypatch, rebuilt):
    monkeypatch.setattr(CustomerAdmin, "mcp_rules", {"search": MaxResults(10), "get": ["not a rule"]})
    registry = rebuilt()
    errors = check_rules(registry)
    assert sorted((e.id, e.obj) for e in errors) == [("mcp_bridge.E132", CustomerAdmin)] * 2
    assert any("The mcp_rules['get'][0] of tool 'get_customer' is 'not a rule'" in e.msg for e in errors)
    with pytest.raises(Exception, match="must be a list or tuple of rules"):
        rules_of(registry.tools["search_customers"])


def test_rules_refuse_bad_parameters_when_declared():
    with pytest.raises(ValueError, match="days= as a whole number of at least 1"):
        MaxDateRange("created", days=0)
    with pytest.raises(ValueError, match="at least 1"):
        MaxResults(0)
    with pytest.raises(TypeError, match="argument name"):
        MustExist("")
