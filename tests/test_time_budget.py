"""Every tool call has a time budget: past it the call ends with isError and nothing it wrote is kept.

Each test tries to break the budget: a slow SQL statement (stopped by the database: PostgreSQL's
pg_sleep is cancelled, SQLite's recursive count is interrupted by its progress handler), a tool that
writes and then spends its time in Python (its write is rolled back), and a budget from each place it
can be declared (the tool, the ModelAdmin, MCP_BRIDGE['TOOL_TIME_BUDGET']).
"""

import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings

import mcp_bridge
from customers.admin import CustomerAdmin, SupportTicketAdmin
from customers.models import Customer
from mcp_bridge.conf import mcp_settings
from mcp_bridge.sites import site
from mcp_bridge.time_budget import check_time_budgets, time_budget_of

from .conftest import mcp_client

pytestmark = pytest.mark.anyio

#: A statement that runs for many seconds: pg_sleep on PostgreSQL, a recursive count of 10^9 rows on SQLite.
SLOW_SQL = {
    "postgresql": "SELECT pg_sleep(20)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) FROM c",
}


def rename_then(after):
    """A tool body that renames the customer, then runs *after()*: what a budget must roll back."""

    def body(self, request, data):
        customer = Customer.objects.get(pk=data["customer_id"])
        customer.name = data["name"]
        customer.save(update_fields=["name"])
        after()
        return {"renamed": customer.pk}

    return body


def slow_statement():
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SQL[connection.vendor])


SCHEMA = {
    "type": "object",
    "properties": {"customer_id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["customer_id", "name"],
    "additionalProperties": False,
}


@pytest.fixture
def tools(monkeypatch):
    """Three test tools on CustomerAdmin: rename_then_query (slow SQL), rename_then_sleep, rename_quickly."""

    def add(name, body, **options):
        declared = mcp_bridge.tool(name=name, description=f"Test tool {name} for the time budget tests.", **options)(
            body
        )
        declared.mcp_tool["input_schema"] = SCHEMA  # not an option of @tool: set on the annotation directly
        monkeypatch.setattr(CustomerAdmin, name, declared, raising=False)

    add("rename_then_query", rename_then(slow_statement), time_budget=1)
    add("rename_then_sleep", rename_then(lambda: time.sleep(1.0)), time_budget=0.5)
    add("rename_quickly", rename_then(lambda: None), time_budget=5)
    add("rename_default_budget", rename_then(lambda: time.sleep(0.8)))
    site.reset()
    yield site.registry.tools
    monkeypatch.undo()
    site.reset()


@pytest.fixture
def people(transactional_db, django_db_serialized_rollback):
    """A superuser and one customer, committed: calls run on their own thread and connection.

    Serialized rollback, as the demo fixture: the flush after the test then leaves content types and
    permissions for the next test to restore with their original ids.
    """
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "unused-in-tests")
    customer = Customer.objects.create(name="Original Name", email="original@example.com", country="DE")
    return user, customer


@sync_to_async
def name_of(customer):
    return Customer.objects.get(pk=customer.pk).name


def error_text(result):
    assert result.is_error, result.content
    return result.content[0].text


async def test_a_slow_statement_is_stopped_at_the_budget_and_its_write_rolled_back(tools, people):
    user, customer = people
    started = time.monotonic()
    async with mcp_client(user) as client:
        result = await client.call_tool("rename_then_query", {"customer_id": customer.pk, "name": "Renamed"})
    elapsed = time.monotonic() - started
    text = error_text(result)
    assert "rename_then_query took longer than its 1 s time budget" in text and "nothing was changed" in text
    assert elapsed < 5, f"the statement ran {elapsed:.1f} s: the budget did not stop it"
    assert await name_of(customer) == "Original Name"


async def test_a_slow_statement_is_stopped_even_without_a_database_timeout(tools, people):
    """DATABASE_TIMEOUT off: the call's budget installs its own statement limit."""
    user, customer = people
    with override_settings(MCP_BRIDGE={"DATABASE_TIMEOUT": None}):
        started = time.monotonic()
        async with mcp_client(user) as client:
            result = await client.call_tool("rename_then_query", {"customer_id": customer.pk, "name": "Renamed"})
        elapsed = time.monotonic() - started
    assert "took longer than its 1 s time budget" in error_text(result)
    assert elapsed < 5
    assert await name_of(customer) == "Original Name"


async def test_a_tool_that_writes_then_runs_past_its_budget_keeps_nothing(tools, people):
    user, customer = people
    async with mcp_client(user, "legacy") as client:
        result = await client.call_tool("rename_then_sleep", {"customer_id": customer.pk, "name": "Renamed"})
    text = error_text(result)
    assert "rename_then_sleep took longer than its 0.5 s time budget and was stopped; nothing was changed." in text
    assert "Ask rename_then_sleep for less" in text  # what to do instead
    assert await name_of(customer) == "Original Name"


async def test_a_call_within_its_budget_is_kept(tools, people):
    user, customer = people
    async with mcp_client(user) as client:
        result = await client.call_tool("rename_quickly", {"customer_id": customer.pk, "name": "Renamed"})
    assert not result.is_error, result.content
    assert await name_of(customer) == "Renamed"


async def test_the_default_budget_comes_from_the_setting(tools, people):
    user, customer = people
    assert time_budget_of(tools["rename_default_budget"]) == mcp_settings.TOOL_TIME_BUDGET == 30
    with override_settings(MCP_BRIDGE={"TOOL_TIME_BUDGET": 0.4}):
        async with mcp_client(user) as client:
            result = await client.call_tool("rename_default_budget", {"customer_id": customer.pk, "name": "Renamed"})
        assert "its 0.4 s time budget" in error_text(result)
        assert await name_of(customer) == "Original Name"
    with override_settings(MCP_BRIDGE={"TOOL_TIME_BUDGET": None}):  # no budget: the slow call is kept
        async with mcp_client(user) as client:
            result = await client.call_tool("rename_default_budget", {"customer_id": customer.pk, "name": "Renamed"})
        assert not result.is_error, result.content
        assert await name_of(customer) == "Renamed"


async def test_a_model_admin_budget_applies_to_its_generated_tools(tools, people, monkeypatch):
    """mcp_time_budget on the ModelAdmin: a search that cannot finish in it is stopped at its first statement."""
    user, customer = people
    monkeypatch.setattr(CustomerAdmin, "mcp_time_budget", 0.000001)
    assert time_budget_of(site.registry.tools["search_customers"]) == 0.000001
    assert time_budget_of(site.registry.tools["rename_then_sleep"]) == 0.5  # the tool's own option wins
    async with mcp_client(user) as client:
        result = await client.call_tool("search_customers", {"query": "Original"})
        text = error_text(result)
        assert "search_customers took longer than its 1e-06 s time budget" in text
        assert "Narrow the search" in text
        assert "items" not in text
        monkeypatch.setattr(CustomerAdmin, "mcp_time_budget", None)
        result = await client.call_tool("search_customers", {"query": "Original"})
    assert not result.is_error and result.structured_content["items"][0]["name"] == "Original Name"


def test_reports_get_the_progress_wait_on_top_of_the_default():
    report = site.registry.tools["revenue_report"]
    assert time_budget_of(report) == mcp_settings.TOOL_TIME_BUDGET + mcp_settings.JOB_PROGRESS_WAIT


def test_bad_budgets_are_reported_at_start_up(tools, monkeypatch):
    """mcp_bridge.E138 for the setting, a tool's time_budget and a ModelAdmin's mcp_time_budget."""
    assert check_time_budgets(site.registry) == []
    with override_settings(MCP_BRIDGE={"TOOL_TIME_BUDGET": "30s"}):
        [error] = check_time_budgets(site.registry)
    assert error.id == "mcp_bridge.E138" and "TOOL_TIME_BUDGET" in error.msg and "'30s'" in error.msg
    monkeypatch.setattr(SupportTicketAdmin, "mcp_time_budget", -1)
    monkeypatch.setattr(tools["rename_quickly"], "time_budget", True)
    errors = check_time_budgets(site.registry)
    assert {error.id for error in errors} == {"mcp_bridge.E138"}
    messages = sorted(error.msg for error in errors)
    assert "The time_budget of tool 'rename_quickly' must be a number of seconds above 0, or None; it is True." in (
        messages
    )
    assert any("The mcp_time_budget of tool 'search_support_tickets'" in m and "-1" in m for m in messages)
    assert {error.obj for error in errors} == {CustomerAdmin, SupportTicketAdmin}
