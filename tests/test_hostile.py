"""Hostile callers: unbounded completion values, lone surrogates, forged cursors, odd ids, slow queries.

Each case is what a caller can send on purpose; each must end in a clear error (an isError result
for tool calls, a JSON-RPC error for other requests) at once, never in a crash, -32603 or a query
that holds the database.
"""

import contextlib
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.core import signing
from django.db import connection
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, PromptReference, ResourceTemplateReference

from customers.models import Customer
from mcp_bridge.authentication import local_principal
from mcp_bridge.database import StatementTimeout, statement_budget
from mcp_bridge.pagination import search_digest
from mcp_bridge.results import SERVER_BUSY
from mcp_bridge.server import current_principal, get_server
from mcp_bridge.sites import McpSite, site

from .conftest import mcp_client

pytestmark = pytest.mark.anyio

CUSTOMER_TEMPLATE = ResourceTemplateReference(type="ref/resource", uri="customers://customer/{id}")
SURROGATE = "\ud800"


def error_text(result):
    assert result.is_error, result.content
    assert result.structured_content is None
    return " ".join(block.text for block in result.content)


async def visible_customer():
    return await Customer.objects.filter(is_internal=False).order_by("pk").afirst()


# -- completion/complete is bounded ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("ana " * 25_000, "at most 200 characters"),  # 100 KB
        ("a" * 100_000, "at most 200 characters"),
        (" ".join(["ana"] * 11), "use at most 10 distinctive words"),
    ],
)
async def test_oversized_completion_value_is_refused_at_once(demo, mode, value, fragment):
    async with mcp_client(demo["analyst"], mode) as client:
        started = time.monotonic()
        with pytest.raises(MCPError) as refused:
            await client.complete(CUSTOMER_TEMPLATE, {"name": "id", "value": value})
        assert time.monotonic() - started < 2
    assert refused.value.code == INVALID_PARAMS
    assert fragment in refused.value.message and "argument.value" in refused.value.message


async def test_bounded_completion_value_still_completes(demo, mode):
    customer = await visible_customer()
    async with mcp_client(demo["analyst"], mode) as client:
        words = " ".join(customer.name.split()[:10])
        completion = await client.complete(CUSTOMER_TEMPLATE, {"name": "id", "value": words})
    assert str(customer.pk) in completion.completion.values


# -- lone surrogates never reach the database -----------------------------------------------------


async def test_lone_surrogate_in_a_tool_argument_is_an_actionable_error(demo, mode):
    async with mcp_client(demo["support_agent"], mode) as client:
        in_query = await client.call_tool("search_customers", {"query": f"ana{SURROGATE}"})
        in_filter = await client.call_tool("search_customers", {"country": SURROGATE})
    text = error_text(in_query)
    assert "'query' contains a lone UTF-16 surrogate (U+D800)" in text and "valid Unicode" in text
    assert "failed unexpectedly" not in text
    assert "'country' contains a lone UTF-16 surrogate" in error_text(in_filter)
    for result in (in_query, in_filter):
        assert SURROGATE not in error_text(result)  # the answer itself must be encodable


def surrogate_requests(client, customer_pk):
    return {
        "completion value": lambda: client.complete(CUSTOMER_TEMPLATE, {"name": "id", "value": f"an{SURROGATE}"}),
        "prompt argument": lambda: client.get_prompt("customer_health_review", {"customer_id": SURROGATE}),
        # Names the 2026-07-28 client also sends as HTTP headers, which it cannot encode: sent in the 2025 era.
        "resource URI": lambda: client.read_resource(f"customers://customer/{customer_pk}{SURROGATE}"),
        "tool name": lambda: client.call_tool(f"search_{SURROGATE}", {}),
        "prompt name": lambda: client.complete(
            PromptReference(type="ref/prompt", name=SURROGATE), {"name": "customer_id", "value": "1"}
        ),
    }


@pytest.mark.parametrize(
    "request_kind, mode",
    [
        ("completion value", "auto"),
        ("completion value", "legacy"),
        ("prompt argument", "auto"),
        ("prompt argument", "legacy"),
        ("resource URI", "legacy"),
        ("tool name", "legacy"),
        ("prompt name", "legacy"),
    ],
)
async def test_lone_surrogate_in_other_requests_is_invalid_params(demo, mode, request_kind):
    customer = await visible_customer()
    async with mcp_client(demo["support_agent"], mode) as client:
        with pytest.raises(MCPError) as refused:
            await surrogate_requests(client, customer.pk)[request_kind]()
    assert refused.value.code == INVALID_PARAMS
    assert "lone UTF-16 surrogate (U+D800)" in refused.value.message
    assert SURROGATE not in refused.value.message


# -- forged cursors ---------------------------------------------------------------------------------


def forged_cursor(tool_name, arguments, offset):
    """A cursor signed with the server's real key, as someone who knows SECRET_KEY could make one."""
    return signing.dumps({"o": offset, "d": search_digest(arguments)}, salt=f"mcp_bridge.cursor.{tool_name}")


@pytest.mark.parametrize("offset", [2**63, 2**64, -1, -(2**63), 1.5, "25", True, None])
async def test_forged_cursor_offset_is_not_a_valid_cursor(demo, offset):
    arguments = {"status": "active"}
    async with mcp_client(demo["support_agent"]) as client:
        result = await client.call_tool(
            "search_customers", {**arguments, "cursor": forged_cursor("search_customers", arguments, offset)}
        )
    text = error_text(result)
    assert "The cursor is not valid for search_customers" in text, text


async def test_genuine_cursor_still_pages(demo):
    async with mcp_client(demo["support_agent"]) as client:
        first = await client.call_tool("search_customers", {"page_size": 2})
        cursor = first.structured_content["next_cursor"]
        second = await client.call_tool("search_customers", {"page_size": 2, "cursor": cursor})
        by_hand = await client.call_tool(
            "search_customers", {"page_size": 2, "cursor": forged_cursor("search_customers", {"page_size": 2}, 2)}
        )
    assert not second.is_error and second.structured_content == by_hand.structured_content
    assert {i["id"] for i in first.structured_content["items"]}.isdisjoint(
        i["id"] for i in second.structured_content["items"]
    )


# -- canonical ids only ------------------------------------------------------------------------------


def arabic_indic(number):
    return "".join(chr(0x0660 + int(digit)) for digit in str(number))


def non_canonical_forms(pk):
    return [
        f"+{pk}",
        f"0{pk}",
        arabic_indic(pk),
        f"{pk} ",
        f" {pk}",
        f"{str(pk)[:1]}_{str(pk)[1:]}" if pk > 9 else f"{pk}_0",
        f"{pk}.0",
        str(2**63 + pk),
    ]


async def test_resource_ids_must_be_canonical(demo, mode):
    customer = await visible_customer()
    async with mcp_client(demo["analyst"], mode) as client:
        read = await client.read_resource(f"customers://customer/{customer.pk}")
        assert json.loads(read.contents[0].text)["email"] == customer.email
        for form in non_canonical_forms(customer.pk):
            for uri in (f"customers://customer/{form}", f"customers://customer/{form}/orders"):
                with pytest.raises(MCPError) as missing:
                    await client.read_resource(uri)
                assert missing.value.message == f"Resource not found: {uri}", form


async def test_completion_suggests_an_id_only_for_its_canonical_form(demo, mode):
    customer = await visible_customer()
    async with mcp_client(demo["analyst"], mode) as client:
        exact = await client.complete(CUSTOMER_TEMPLATE, {"name": "id", "value": str(customer.pk)})
        assert str(customer.pk) in exact.completion.values
        for form in (arabic_indic(customer.pk), f"0{customer.pk}"):
            completion = await client.complete(CUSTOMER_TEMPLATE, {"name": "id", "value": form})
            assert str(customer.pk) not in completion.completion.values, form


async def test_date_filters_take_ascii_digits_only(demo):
    async with mcp_client(demo["analyst"]) as client:
        ascii_date = await client.call_tool("search_customers", {"created_after": "2000-01-01", "page_size": 1})
        other_digits = await client.call_tool("search_customers", {"created_after": "٢٠٠٠-٠١-٠١"})
    assert not ascii_date.is_error
    text = error_text(other_digits)
    assert "'created_after' must be an ISO 8601 date such as 2026-01-31" in text


# -- the database time budget ------------------------------------------------------------------------

#: A site of its own, so the test-only tool and resource are seen by these tests only.
slow_site = McpSite(name="hostile-tests")


def run_slow_statement(seconds):
    """One statement that runs about *seconds* on this database (longer on a slow machine)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_sleep(%s)", [seconds])
        else:  # a counting loop inside SQLite; ~1-3 million rows a second
            cursor.execute(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %s) SELECT count(*) FROM c",
                [int(seconds * 3_000_000)],
            )
        return cursor.fetchone()


@slow_site.tool(
    name="slow_report",
    description="Runs one slow statement (tests only).",
    read_only=True,
    input_schema={"type": "object", "properties": {"seconds": {"type": "number"}}, "additionalProperties": False},
)
def slow_report(request, data):
    run_slow_statement(data.get("seconds", 5))
    return {"done": True}


@slow_site.resource_template("slow://report/{seconds}", name="slow_report_resource", description="Slow (tests only).")
def slow_report_resource(request, seconds):
    run_slow_statement(float(seconds))
    return "done"


@contextlib.asynccontextmanager
async def slow_site_client(user):
    token = current_principal.set(local_principal(user))
    try:
        async with Client(get_server(slow_site).server) as client:
            yield client
    finally:
        current_principal.reset(token)


@pytest.fixture
def short_budget(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "DATABASE_TIMEOUT": 0.5}


async def test_slow_tool_call_is_stopped_and_says_what_to_narrow(demo, short_budget):
    async with slow_site_client(demo["admin"]) as client:
        started = time.monotonic()
        result = await client.call_tool("slow_report", {"seconds": 8})
        elapsed = time.monotonic() - started
        assert elapsed < 4, f"the statement ran {elapsed:.1f} s past its 0.5 s budget"
        text = error_text(result)
        assert "slow_report took too long: a database query ran longer than the 0.5 s allowed" in text
        assert "nothing was changed" in text and "for less in one call" in text
        quick = await client.call_tool("slow_report", {"seconds": 0.01})
    assert not quick.is_error, quick.content


async def test_search_tools_say_how_to_narrow():
    """A generated search tool names its own ways to narrow (filters, query, page_size)."""
    hint = site.registry.tools["search_customers"].narrowing_hint()
    assert (
        hint
        == "Narrow the search: add filters, use a more specific query or ask for a smaller page_size, then call search_customers again."
    )


async def test_slow_non_tool_request_is_a_retryable_error(demo, short_budget):
    async with slow_site_client(demo["admin"]) as client:
        started = time.monotonic()
        with pytest.raises(MCPError) as busy:
            await client.read_resource("slow://report/8")
        assert time.monotonic() - started < 4
    assert busy.value.code == SERVER_BUSY
    assert "longer than the 0.5 s allowed" in busy.value.message
    assert busy.value.error.data == {"retryAfter": 2}


def _budget_is_released():
    """After a budgeted unit, the same connection runs statements longer than the budget."""
    with statement_budget():
        with pytest.raises(StatementTimeout):
            run_slow_statement(3)
        run_slow_statement(0.01)
    started = time.monotonic()
    run_slow_statement(1)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "0"
    return time.monotonic() - started


async def test_budget_does_not_outlive_the_unit_of_work(demo, settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "DATABASE_TIMEOUT": 0.3}
    # A persistent connection (CONN_MAX_AGE) or a pool hands the same session to the next user.
    assert await sync_to_async(_budget_is_released)() > 0.3


async def test_budget_can_be_switched_off(demo, settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "DATABASE_TIMEOUT": None}
    async with slow_site_client(demo["admin"]) as client:
        result = await client.call_tool("slow_report", {"seconds": 0.6})
    assert not result.is_error, result.content


def _quick_statements_after_a_cancel():
    """A statement stopped for its budget takes no later statement with it, on the same connection."""
    with statement_budget():
        with pytest.raises(StatementTimeout):
            run_slow_statement(3)
        for _ in range(200):
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                assert cursor.fetchone() == (1,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        return cursor.fetchone()


async def test_budget_stops_only_the_late_statement(demo, settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "DATABASE_TIMEOUT": 0.3}
    assert await sync_to_async(_quick_statements_after_a_cancel)() == (2,)
