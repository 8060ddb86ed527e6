"""Bad input from a model: every mistake is an isError result that says what was wrong and what to do.

Each case checks three things: the call returns a CallToolResult with isError (never a JSON-RPC
error, never structured data), its text names the problem and the way out, and the database is
exactly as it was before (row counts and every field value of the demo models and the admin log).
Unknown or hidden tools, and prompts with bad arguments, are protocol errors instead.
"""

from collections import namedtuple
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.models import LogEntry
from django.core import signing
from mcp import types
from mcp.shared.exceptions import MCPError

from customers.models import LARGE_REFUND_THRESHOLD, Customer, Order, Refund, SupportTicket
from mcp_bridge.pagination import search_digest

from .conftest import mcp_client

pytestmark = pytest.mark.anyio


SNAPSHOT_MODELS = (Customer, Order, SupportTicket, Refund, LogEntry)


def _snapshot():
    """Every row of the demo models and the admin log, all fields, in pk order."""
    return {model.__name__: list(model.objects.order_by("pk").values_list()) for model in SNAPSHOT_MODELS}


snapshot = sync_to_async(_snapshot)


def _fixture_ids():
    """Ids of demo rows the cases need, looked up rather than assumed."""
    visible = Customer.objects.filter(is_internal=False).order_by("pk")
    customer = visible.first()
    other = visible.exclude(pk=customer.pk).first()
    internal = Customer.objects.filter(is_internal=True).first()
    orders = Order.objects.filter(customer__is_internal=False).order_by("pk")
    small = orders.filter(status__in=Order.REFUNDABLE, total__lt=LARGE_REFUND_THRESHOLD, refunded_total=0).first()
    large = orders.filter(status__in=Order.REFUNDABLE, total__gt=LARGE_REFUND_THRESHOLD + 100).first()
    cancelled = orders.filter(status=Order.Status.CANCELLED).first()
    pending = orders.filter(status=Order.Status.PENDING).first()
    internal_order = Order.objects.filter(customer__is_internal=True, status__in=Order.REFUNDABLE).first()
    ticket = SupportTicket.objects.filter(customer__is_internal=False).exclude(status="resolved").order_by("pk").first()
    found = {
        "customer": customer,
        "other": other,
        "internal": internal,
        "small": small,
        "large": large,
        "cancelled": cancelled,
        "pending": pending,
        "internal_order": internal_order,
        "ticket": ticket,
    }
    missing = [name for name, obj in found.items() if obj is None]
    assert not missing, f"the demo data set lacks rows for {missing}"
    return {
        "customer": customer.pk,
        "other_email": other.email,
        "internal": internal.pk,
        "small": small.pk,
        "small_total": small.total,
        "large": large.pk,
        "large_total": large.total,
        "cancelled": cancelled.pk,
        "pending": pending.pk,
        "internal_order": internal_order.pk,
        "ticket": ticket.pk,
    }


fixture_ids = sync_to_async(_fixture_ids)


def error_text(result, *fragments):
    """Assert *result* is an isError tool result without data whose text contains every fragment."""
    assert isinstance(result, types.CallToolResult)
    text = " ".join(c.text for c in result.content if c.type == "text")
    assert result.is_error, f"expected isError, got: {text[:500]}"
    assert result.structured_content is None, "an error result must not carry data"
    assert "@example.com" not in text, "an error result must not carry customer data"
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    return text


Case = namedtuple("Case", "id tool args fragments user", defaults=("admin",))

# args is a callable of the looked-up ids `d`; fragments are str.format()ed with `d`.
CASES = [
    # -- wrong types -------------------------------------------------------------------------
    Case("page_size_string", "search_customers", lambda d: {"page_size": "ten"}, ["'page_size'", "integer", '"ten"']),
    Case("page_size_bool", "search_customers", lambda d: {"page_size": True}, ["'page_size'", "integer"]),
    Case("get_id_string", "get_customer", lambda d: {"id": "abc"}, ["'id'", "integer", '"abc"']),
    Case("update_id_string", "update_customer", lambda d: {"id": "abc", "name": "X"}, ["'id'", "integer", '"abc"']),
    Case("delete_id_negative", "delete_customer", lambda d: {"id": -1}, ["'id'", "at least 1"]),
    Case(
        "update_name_null",
        "update_customer",
        lambda d: {"id": d["customer"], "name": None},
        ["'name'", "string", "null"],
    ),
    Case("query_not_string", "search_customers", lambda d: {"query": ["ana"]}, ["'query'", "string"]),
    Case("fk_filter_string", "search_orders", lambda d: {"customer": "Ana"}, ["'customer'", "integer", '"Ana"']),
    Case("action_ids_not_list", "mark_resolved_support_tickets", lambda d: {"ids": d["ticket"]}, ["'ids'", "array"]),
    Case(
        "refund_amount_text",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": "abc", "reason": "goodwill"},
        ["'amount' must be a number, or a decimal string", '(got "abc")'],
    ),
    # -- unknown and disallowed arguments ----------------------------------------------------
    Case(
        "unknown_argument_did_you_mean",
        "search_customers",
        lambda d: {"staus": "active"},
        ["'staus'", "did you mean 'status'?", "Valid arguments are: query, status"],
    ),
    Case(
        "unknown_argument_on_create",
        "create_customer",
        lambda d: {"nmae": "Ann", "email": "ann.new@example.org", "country": "GB"},
        ["'nmae'", "did you mean 'name'?", "Valid arguments are: name, email"],
    ),
    Case(
        "update_readonly_lifetime_value",
        "update_customer",
        lambda d: {"id": d["customer"], "lifetime_value": "99999.00"},
        ["'lifetime_value'", "Valid arguments are: id, name, email, company, country, status."],
    ),
    Case(
        "update_readonly_created",
        "update_customer",
        lambda d: {"id": d["customer"], "created": "2020-01-01T00:00:00Z"},
        ["'created'", "Valid arguments are:"],
    ),
    Case(
        "create_readonly_lifetime_value",
        "create_customer",
        lambda d: {"name": "Ann", "email": "ann.new@example.org", "country": "GB", "lifetime_value": "5.00"},
        ["'lifetime_value'", "Valid arguments are: name, email, company, country, status."],
    ),
    Case(
        "create_readonly_created",
        "create_customer",
        lambda d: {"name": "Ann", "email": "ann.new@example.org", "country": "GB", "created": "2020-01-01T00:00:00Z"},
        ["'created'", "Valid arguments are:"],
    ),
    Case("update_redacted_phone", "update_customer", lambda d: {"id": d["customer"], "phone": "+1 555"}, ["'phone'"]),
    Case(
        "update_hidden_is_internal",
        "update_customer",
        lambda d: {"id": d["customer"], "is_internal": True},
        ["'is_internal'"],
    ),
    Case(
        "refund_created_by",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": 1, "reason": "goodwill", "created_by": 1},
        ["'created_by'"],
    ),
    # -- unknown filters, invalid enums, bad dates ------------------------------------------
    Case(
        "unknown_filter_is_internal",
        "search_customers",
        lambda d: {"is_internal": True},
        ["'is_internal'", "Valid arguments are: query, status, country, created_after, created_before"],
    ),
    Case("unknown_filter_search_field", "search_customers", lambda d: {"company": "Acme Ltd"}, ["'company'"]),
    Case("unknown_filter_lookup", "search_orders", lambda d: {"total__gt": 100}, ["'total__gt'"]),
    Case(
        "invalid_enum_status",
        "search_customers",
        lambda d: {"status": "actve"},
        ["'status' must be one of", '"lead", "active", "churned"', '(got "actve")'],
    ),
    Case("invalid_enum_country", "search_customers", lambda d: {"country": "UK"}, ["'country'", '"GB"', '"UK"']),
    Case(
        "ordering_by_redacted_field",
        "search_customers",
        lambda d: {"ordering": "phone"},
        ["'ordering' must be one of", '"-created"', '"phone"'],
    ),
    Case("ordering_by_unexposed_field", "search_customers", lambda d: {"ordering": "is_internal"}, ["'ordering'"]),
    Case(
        "date_word",
        "search_customers",
        lambda d: {"created_after": "yesterday"},
        ["'created_after'", "ISO 8601", "2026-01-31", "'yesterday'"],
    ),
    Case(
        "date_impossible",
        "search_customers",
        lambda d: {"created_after": "2026-02-30"},
        ["'created_after'", "ISO 8601", "'2026-02-30'"],
    ),
    Case(
        "date_european",
        "search_orders",
        lambda d: {"created_before": "31/01/2026"},
        ["'created_before'", "ISO 8601", "'31/01/2026'"],
    ),
    Case(
        "datetime_bad_hour",
        "search_customers",
        lambda d: {"created_before": "2026-01-31T25:00:00"},
        ["'created_before'", "2026-01-31T09:30:00Z"],
    ),
    Case("date_empty", "search_customers", lambda d: {"created_after": ""}, ["'created_after'", "ISO 8601"]),
    Case("date_number", "search_customers", lambda d: {"created_after": 20260131}, ["'created_after'", "string"]),
    # -- missing objects (and objects the caller may not see: same answer) -------------------
    Case("get_missing", "get_customer", lambda d: {"id": 999999}, ["999999", "search_customers"]),
    Case("update_missing", "update_customer", lambda d: {"id": 999999, "name": "X"}, ["999999", "search_customers"]),
    Case("delete_missing", "delete_customer", lambda d: {"id": 999999}, ["999999", "search_customers"]),
    Case("get_order_missing", "get_order", lambda d: {"id": 999999}, ["999999", "search_orders"]),
    Case(
        "get_hidden_internal_customer",
        "get_customer",
        lambda d: {"id": d["internal"]},
        ["No customer with id {internal}", "search_customers"],
        "support_agent",
    ),
    # -- limits ------------------------------------------------------------------------------
    Case(
        "page_size_over_limit", "search_customers", lambda d: {"page_size": 500}, ["'page_size'", "at most 100", "500"]
    ),
    Case("page_size_zero", "search_customers", lambda d: {"page_size": 0}, ["'page_size'", "at least 1"]),
    Case("query_too_long", "search_customers", lambda d: {"query": "a" * 201}, ["'query'", "at most 200 characters"]),
    Case("action_no_ids", "mark_resolved_support_tickets", lambda d: {"ids": []}, ["'ids'", "at least 1"]),
    Case(
        "action_too_many_ids",
        "mark_resolved_support_tickets",
        lambda d: {"ids": list(range(1, 102))},
        ["'ids'", "at most 100", "split the work"],
    ),
    Case(
        "action_duplicate_ids",
        "mark_resolved_support_tickets",
        lambda d: {"ids": [d["ticket"], d["ticket"]]},
        ["'ids'"],
    ),
    # -- cursors that cannot be read ---------------------------------------------------------
    Case(
        "cursor_garbage",
        "search_customers",
        lambda d: {"cursor": "not-a-cursor"},
        ["cursor is not valid for search_customers", "omit cursor"],
    ),
    Case(
        "cursor_forged_payload",
        "search_customers",
        lambda d: {"cursor": signing.dumps(["o", 5], salt="mcp_bridge.cursor.search_customers")},
        ["cursor is not valid", "omit cursor"],
    ),
    Case(
        "cursor_forged_offset",
        "search_customers",
        lambda d: {
            "cursor": signing.dumps({"o": "x", "d": search_digest({})}, salt="mcp_bridge.cursor.search_customers")
        },
        ["cursor is not valid", "omit cursor"],
    ),
    # -- validation of writes ----------------------------------------------------------------
    Case(
        "create_email_format",
        "create_customer",
        lambda d: {"name": "Ann", "email": "not-an-email", "country": "GB"},
        ["'email'", "valid email", '"not-an-email"'],
    ),
    Case(
        "create_email_no_domain",
        "create_customer",
        lambda d: {"name": "Ann", "email": "ann@localdomain", "country": "GB"},
        ["create_customer rejected the input", "email", "valid email", "call create_customer again"],
    ),
    Case(
        "create_email_duplicate",
        "create_customer",
        lambda d: {"name": "Ann", "email": d["other_email"], "country": "GB"},
        ["create_customer rejected the input", "email", "already exists"],
    ),
    Case(
        "create_missing_required",
        "create_customer",
        lambda d: {"email": "ann.new@example.org"},
        ["'name' is a required property", "'country' is a required property"],
    ),
    Case(
        "create_name_too_long",
        "create_customer",
        lambda d: {"name": "A" * 201, "email": "ann.new@example.org", "country": "GB"},
        ["'name'", "at most 200 characters"],
    ),
    Case(
        "update_email_duplicate",
        "update_customer",
        lambda d: {"id": d["customer"], "email": d["other_email"]},
        ["update_customer rejected the input", "email", "already exists"],
    ),
    Case(
        "update_only_id",
        "update_customer",
        lambda d: {"id": d["customer"]},
        ["at least one field to change", "Changeable fields: name, email, company, country, status"],
    ),
    Case(
        "update_invalid_status",
        "update_customer",
        lambda d: {"id": d["customer"], "status": "vip"},
        ["'status' must be one of", '"lead", "active", "churned"'],
    ),
    Case(
        "refund_zero",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": 0, "reason": "goodwill"},
        ["'amount'", "at least 0.01"],
        "support_agent",
    ),
    Case(
        "refund_zero_string",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": "0.00", "reason": "goodwill"},
        ["amount", "greater than or equal to 0.01"],
        "support_agent",
    ),
    Case(
        "refund_negative",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": -5, "reason": "goodwill"},
        ["'amount'", "at least 0.01"],
        "support_agent",
    ),
    Case(
        "refund_negative_string",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": "-5", "reason": "goodwill"},
        ["amount", "greater than or equal to 0.01"],
        "support_agent",
    ),
    Case(
        "refund_sub_cent",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": "1.005", "reason": "goodwill"},
        ["amount", "2 decimal places"],
        "support_agent",
    ),
    Case(
        "refund_more_than_remaining",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": str(d["small_total"] + Decimal("0.01")), "reason": "goodwill"},
        ["Order {small} has only {small_total} EUR left to refund", "Refund at most {small_total} EUR"],
        "support_agent",
    ),
    Case(
        "refund_cancelled_order",
        "issue_refund",
        lambda d: {"order_id": d["cancelled"], "amount": 1, "reason": "goodwill"},
        ["Order {cancelled} is cancelled", "only paid or shipped orders can be refunded"],
        "support_agent",
    ),
    Case(
        "refund_pending_order",
        "issue_refund",
        lambda d: {"order_id": d["pending"], "amount": 1, "reason": "goodwill"},
        ["Order {pending} is pending", "only paid or shipped"],
        "support_agent",
    ),
    Case(
        "refund_missing_order",
        "issue_refund",
        lambda d: {"order_id": 999999, "amount": 1, "reason": "goodwill"},
        ["No order with id 999999", "search_orders"],
        "support_agent",
    ),
    Case(
        "refund_hidden_order",
        "issue_refund",
        lambda d: {"order_id": d["internal_order"], "amount": 1, "reason": "goodwill"},
        ["No order with id {internal_order}", "search_orders"],
        "support_agent",
    ),
    Case(
        "refund_over_threshold_without_permission",
        "issue_refund",
        lambda d: {"order_id": d["large"], "amount": str(LARGE_REFUND_THRESHOLD + 1), "reason": "goodwill"},
        ["Refunds over 500.00 EUR need", "Refund at most 500.00 EUR"],
        "support_agent",
    ),
    Case(
        "refund_invalid_reason",
        "issue_refund",
        lambda d: {"order_id": d["small"], "amount": 1, "reason": "because"},
        ["'reason' must be one of", '"goodwill"'],
        "support_agent",
    ),
    Case(
        "ticket_invalid_status",
        "update_ticket_status",
        lambda d: {"ticket_id": d["ticket"], "status": "done"},
        ["'status' must be one of", '"open", "pending", "resolved", "closed"', '(got "done")'],
        "support_agent",
    ),
    Case(
        "ticket_missing",
        "update_ticket_status",
        lambda d: {"ticket_id": 999999, "status": "resolved"},
        ["No support ticket with id 999999", "search_support_tickets"],
        "support_agent",
    ),
    Case(
        "ticket_note_too_long",
        "update_ticket_status",
        lambda d: {"ticket_id": d["ticket"], "status": "resolved", "note": "x" * 1001},
        ["'note'", "at most 1000 characters"],
        "support_agent",
    ),
    Case(
        "action_with_missing_id",
        "mark_resolved_support_tickets",
        lambda d: {"ids": [d["ticket"], 999999]},
        ["id(s) 999999", "Nothing was changed", "search_support_tickets"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_bad_input_is_an_actionable_error(demo, mode, case):
    d = await fixture_ids()
    before = await snapshot()
    async with mcp_client(demo[case.user], mode) as client:
        result = await client.call_tool(case.tool, case.args(d))
    error_text(result, *[fragment.format(**d) for fragment in case.fragments])
    assert await snapshot() == before, "a rejected call changed the database"


async def test_stale_cursor_is_refused(demo, mode):
    async with mcp_client(demo["support_agent"], mode) as client:
        first = await client.call_tool("search_customers", {"status": "active", "page_size": 5})
        cursor = first.structured_content["next_cursor"]
        assert cursor
        for changed in (
            {"status": "lead"},
            {"status": "active", "ordering": "name"},
            {"status": "active", "query": "a"},
            {},
        ):
            result = await client.call_tool("search_customers", {**changed, "page_size": 5, "cursor": cursor})
            error_text(result, "different search", "Repeat search_customers without cursor")
        # The same search continues, even with another page size (paging arguments are not the search).
        same = await client.call_tool("search_customers", {"status": "active", "page_size": 7, "cursor": cursor})
        assert not same.is_error
        assert all(item["status"] == "active" for item in same.structured_content["items"])


async def test_tampered_cursor_is_refused(demo, mode):
    async with mcp_client(demo["support_agent"], mode) as client:
        first = await client.call_tool("search_customers", {"page_size": 5})
        cursor = first.structured_content["next_cursor"]
        orders = await client.call_tool("search_orders", {"page_size": 5})
        order_cursor = orders.structured_content["next_cursor"]
        payload, _, signature = cursor.rpartition(":")
        tampered = [
            f"{payload}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # signature changed
            f"{'e' if payload[0] != 'e' else 'f'}{payload[1:]}:{signature}",  # payload changed
            cursor[: len(cursor) // 2],  # truncated
            order_cursor,  # another tool's cursor
        ]
        for bad in tampered:
            result = await client.call_tool("search_customers", {"cursor": bad})
            error_text(result, "cursor is not valid for search_customers", "omit cursor to start from the first page")


async def test_unknown_and_hidden_tools_are_protocol_errors(demo, mode):
    before = await snapshot()
    d = await fixture_ids()
    attempts = [
        ("admin", "drop_all_customers", {}),
        ("admin", "search_customer", {}),  # singular: not a tool
        ("analyst", "create_customer", {"name": "Ann", "email": "ann.new@example.org", "country": "GB"}),
        ("analyst", "issue_refund", {"order_id": d["small"], "amount": 1, "reason": "goodwill"}),
        ("support_agent", "delete_customer", {"id": d["customer"]}),
        ("support_agent", "mark_resolved_support_tickets", {"ids": [d["ticket"]]}),
    ]
    for user, tool, arguments in attempts:
        async with mcp_client(demo[user], mode) as client:
            with pytest.raises(MCPError) as caught:
                await client.call_tool(tool, arguments)
        assert caught.value.code == types.INVALID_PARAMS
        assert caught.value.message == f"Unknown tool: {tool}"
    assert await snapshot() == before


async def test_prompt_with_bad_arguments_is_a_protocol_error(demo, mode):
    async with mcp_client(demo["analyst"], mode) as client:
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("customer_health_review", {})
        assert missing.value.code == types.INVALID_PARAMS
        assert "customer_health_review needs argument(s): customer_id" in missing.value.message

        with pytest.raises(MCPError) as empty:
            await client.get_prompt("customer_health_review", {"customer_id": ""})
        assert "customer_id" in empty.value.message

        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("customer_health_review", {"customer_id": "1", "custmer": "2"})
        assert unknown.value.code == types.INVALID_PARAMS
        assert "custmer" in unknown.value.message and "customer_id" in unknown.value.message

        with pytest.raises(MCPError) as no_prompt:
            await client.get_prompt("customer_health_reviw", {"customer_id": "1"})
        assert no_prompt.value.code == types.INVALID_PARAMS
        assert "Unknown prompt" in no_prompt.value.message


async def test_bad_filter_never_returns_unfiltered_rows(demo, mode):
    """A filter the tool cannot apply is an error, never a page of everything."""
    async with mcp_client(demo["support_agent"], mode) as client:
        for arguments in (
            {"is_internal": True},
            {"status": "actve"},
            {"created_after": "last week"},
            {"status": "active", "created_before": "soon"},
            {"country": ["GB"]},
        ):
            result = await client.call_tool("search_customers", arguments)
            error_text(result)
            assert "items" not in result.content[0].text


# -- integral numbers ------------------------------------------------------------------------
# JSON Schema counts 10.0 as an "integer" (2020-12, section 6.1.1), so these arguments pass the
# advertised schema; the tool must then treat them as the integers they are.


async def test_integral_float_page_size_is_accepted(demo):
    async with mcp_client(demo["support_agent"]) as client:
        result = await client.call_tool("search_customers", {"page_size": 10.0})
        assert not result.is_error, result.content[0].text
        assert len(result.structured_content["items"]) == 10


async def test_integral_float_id_finds_the_object(demo):
    d = await fixture_ids()
    async with mcp_client(demo["support_agent"]) as client:
        result = await client.call_tool("get_customer", {"id": float(d["customer"])})
        assert not result.is_error, result.content[0].text
        assert result.structured_content["id"] == d["customer"]


# -- values beyond what the database can store -----------------------------------------------
# The schemas put no upper bound on ids or dates, so these reach the database. Whatever the
# backend, the answer must be a correct empty result or an error naming the argument, never
# "failed unexpectedly" (which tells the model to retry the same call later).


def assert_handled(result, argument):
    text = " ".join(c.text for c in result.content if c.type == "text")
    assert "failed unexpectedly" not in text, text
    if result.is_error:
        assert argument in text, text
    else:
        assert result.structured_content["items"] == [], text


TOO_BIG = 2**63  # one past the largest BigAutoField value

OUT_OF_RANGE = [
    ("fk_filter", "search_orders", {"customer": TOO_BIG}, "customer"),
    ("fk_filter_user", "search_support_tickets", {"assignee": TOO_BIG}, "assignee"),
    ("date_after_year_9999", "search_customers", {"created_after": "9999-12-31T23:59:59-05:00"}, "created_after"),
    ("date_before_year_1", "search_customers", {"created_before": "0001-01-01T00:00:00+05:00"}, "created_before"),
    ("nul_in_query", "search_customers", {"query": "ana\x00"}, "query"),
]


@pytest.mark.parametrize(
    "tool,arguments,argument", [case[1:] for case in OUT_OF_RANGE], ids=[case[0] for case in OUT_OF_RANGE]
)
async def test_out_of_range_search_values_are_not_a_crash(demo, tool, arguments, argument):
    async with mcp_client(demo["admin"]) as client:
        assert_handled(await client.call_tool(tool, arguments), argument)


async def test_out_of_range_action_id_is_an_actionable_error(demo):
    before = await snapshot()
    async with mcp_client(demo["admin"]) as client:
        result = await client.call_tool("mark_resolved_support_tickets", {"ids": [TOO_BIG]})
    text = error_text(result)
    assert "failed unexpectedly" not in text, text
    assert str(TOO_BIG) in text or "'ids" in text, text
    assert await snapshot() == before
