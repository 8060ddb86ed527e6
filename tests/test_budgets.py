"""Response budgets: no tool result is longer than MCP_BRIDGE['RESULT_MAX_CHARS'] characters.

Support tickets with long bodies make pages too large for a small budget. A cut page keeps whole
items and a next_cursor that resumes right after its last one: walking every page gives exactly the
ordered queryset, no row skipped or repeated. A cut result says so in its text and its structured
content, which still validates against the tool's listed output schema. A single record too large is
shortened with a marker. Search tools take a `fields` projection.
"""

import json
import random
from datetime import timedelta

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.test import override_settings
from django.utils import timezone
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from customers.models import Customer, SupportTicket
from mcp_bridge import budgets
from mcp_bridge.budgets import MIN_RESULT_CHARS, check_budget, fit_result
from mcp_bridge.results import call_tool_result, tool_description
from mcp_bridge.schemas import BUDGET_PROPERTIES
from mcp_bridge.sites import site
from mcp_bridge.tools import ToolResult, json_text

from .conftest import mcp_client

pytestmark = pytest.mark.anyio

SEARCH = "search_support_tickets"
TICKETS = 40
SMALL = 6_000
MARKER_START = " … [shortened: "


def budget(chars):
    """override_settings with RESULT_MAX_CHARS set, the project's other MCP settings kept."""
    return override_settings(MCP_BRIDGE={**getattr(settings, "MCP_BRIDGE", {}), "RESULT_MAX_CHARS": chars})


@pytest.fixture
def tickets(transactional_db, django_db_serialized_rollback):
    """A superuser and TICKETS tickets with bodies of 200-1,500 characters; pairs share a creation time."""
    admin = get_user_model().objects.create_superuser("budgeter", "budgeter@example.com", "x")
    rng = random.Random(13)
    start = timezone.now() - timedelta(days=2)
    customers = [
        Customer.objects.create(name=f"Budget Customer {i}", email=f"budget{i}@example.com", country="DE")
        for i in range(3)
    ]
    for i in range(TICKETS):
        SupportTicket.objects.create(
            customer=customers[i % 3],
            subject=f"Parcel question {rng.randint(0, 9)}",
            body=f"Ticket {i}: " + "the parcel is late. " * rng.randint(10, 75),
            status=["open", "pending", "resolved"][i % 3],
            priority="normal",
            created=start + timedelta(minutes=i // 2),
        )
    return admin


def text_chars(result):
    return sum(len(block.text) for block in result.content if block.type == "text")


async def listed_schema(client, name):
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    return tools[name].output_schema


def assert_valid(schema, structured):
    errors = sorted(Draft202012Validator(schema).iter_errors(structured), key=str)
    assert not errors, [error.message for error in errors]


def ordered_ids(**filters):
    """The ids the admin's queryset gives, in the search's order (the admin's ordering, then -pk)."""
    ordering = filters.pop("order_by", ("-created", "-id"))
    return list(SupportTicket.objects.filter(**filters).order_by(*ordering).values_list("pk", flat=True))


async def walk(client, arguments):
    """Every page of a search: [(result, items)], following next_cursor to the end."""
    pages, cursor = [], None
    while True:
        result = await client.call_tool(SEARCH, {**arguments, **({"cursor": cursor} if cursor else {})})
        assert not result.is_error, result.content
        pages.append(result)
        cursor = result.structured_content["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= TICKETS, "the walk does not end"


# -- search pages ------------------------------------------------------------------------------------
async def test_a_page_too_long_is_cut_at_a_record_boundary_and_says_so(tickets, mode):
    async with mcp_client(tickets, mode) as client:
        whole = await client.call_tool(SEARCH, {"page_size": 25})
        assert "truncated" not in whole.structured_content  # within the default budget: unchanged
        with budget(SMALL):
            cut = await client.call_tool(SEARCH, {"page_size": 25})
            schema = await listed_schema(client, SEARCH)
    data = cut.structured_content
    assert not cut.is_error and data["truncated"] is True
    returned = data["truncation"]["returned"]
    assert 1 <= returned < 25 and len(data["items"]) == returned
    assert data["truncation"]["omitted"] == 25 - returned and data["truncation"]["list"] == "items"
    assert data["truncation"]["max_chars"] == SMALL and data["truncation"]["shortened"] == []
    # Whole records: the first items exactly as the uncut page has them.
    assert data["items"] == whole.structured_content["items"][:returned]
    assert data["next_cursor"]
    # Said in words after the JSON, which says the same as the structured content.
    assert json.loads(cut.content[0].text) == data
    assert f"Only {returned} of the 25 support tickets" in cut.content[1].text
    assert "next_cursor" in cut.content[1].text
    assert text_chars(cut) <= SMALL
    assert_valid(schema, data)


@pytest.mark.parametrize(
    "arguments, filters",
    [
        ({}, {}),
        ({"ordering": "subject"}, {"order_by": ("subject", "-pk")}),
        ({"status": "open", "ordering": "-created"}, {"status": "open", "order_by": ("-created", "-pk")}),
    ],
    ids=["admin-ordering", "by-subject", "filtered"],
)
async def test_walking_cut_pages_gives_the_ordered_queryset_exactly(tickets, arguments, filters):
    with budget(SMALL):
        async with mcp_client(tickets) as client:
            pages = await walk(client, {"page_size": 20, **arguments})
    ids = [item["id"] for page in pages for item in page.structured_content["items"]]
    assert ids == await sync_to_async(ordered_ids)(**filters)  # no gap, no repeat, same order
    assert any(page.structured_content.get("truncated") for page in pages)
    assert all(text_chars(page) <= SMALL for page in pages)
    assert all(len(page.structured_content["items"]) <= 20 for page in pages)


async def test_a_cut_ranked_search_resumes_exactly(tickets):
    arguments = {"query": "parcel late", "page_size": 30}
    async with mcp_client(tickets) as client:
        uncut = await walk(client, arguments)
        with budget(SMALL):
            cut = await walk(client, arguments)
    assert len(cut) > len(uncut)
    expected = [item["id"] for page in uncut for item in page.structured_content["items"]]
    assert [item["id"] for page in cut for item in page.structured_content["items"]] == expected
    assert len(expected) == TICKETS


async def test_a_tampered_or_foreign_cursor_is_refused(tickets):
    with budget(SMALL):
        async with mcp_client(tickets) as client:
            first = await client.call_tool(SEARCH, {"page_size": 25, "status": "open"})
            cursor = first.structured_content["next_cursor"]
            tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
            bad = await client.call_tool(SEARCH, {"page_size": 25, "status": "open", "cursor": tampered})
            other = await client.call_tool(SEARCH, {"page_size": 25, "status": "pending", "cursor": cursor})
            elsewhere = await client.call_tool("search_customers", {"cursor": cursor})
    assert bad.is_error and "The cursor is not valid for search_support_tickets" in bad.content[0].text
    assert other.is_error and "belongs to a different search" in other.content[0].text
    assert elsewhere.is_error and "not valid for search_customers" in elsewhere.content[0].text


async def test_a_single_record_larger_than_the_budget_is_shortened(tickets):
    def huge_ticket():
        ticket = SupportTicket.objects.order_by("-created", "-id").first()
        ticket.body = "A very long complaint. " * 1_000  # 23,000 characters
        ticket.save()
        return ticket.pk

    pk = await sync_to_async(huge_ticket)()
    with budget(3_000):
        async with mcp_client(tickets) as client:
            page = await client.call_tool(SEARCH, {"page_size": 5})
            schema = await listed_schema(client, SEARCH)
            rest = await client.call_tool(SEARCH, {"page_size": 5, "cursor": page.structured_content["next_cursor"]})
            one = await client.call_tool("get_support_ticket", {"id": pk})
            get_schema = await listed_schema(client, "get_support_ticket")
    data = page.structured_content
    assert data["truncated"] is True and [item["id"] for item in data["items"]] == [pk]
    body = data["items"][0]["body"]
    assert MARKER_START in body and body.startswith("A very long complaint. ")
    left_out = int(body.rpartition(MARKER_START)[2].split()[0])
    assert len(body) - len(body.rpartition(MARKER_START)[1] + body.rpartition(MARKER_START)[2]) + left_out == 23_000
    assert data["truncation"]["shortened"] == ["items[0].body"]
    assert "alone is larger than one result may be" in page.content[1].text
    assert text_chars(page) <= 3_000
    assert_valid(schema, data)
    # The next page starts right after it.
    ids = await sync_to_async(ordered_ids)()
    assert rest.structured_content["items"][0]["id"] == ids[1]
    # get_* shortens the same way (any result, not only searches).
    record = one.structured_content
    assert record["truncated"] is True and record["truncation"]["shortened"] == ["body"]
    assert MARKER_START in record["body"] and record["id"] == pk and text_chars(one) <= 3_000
    assert_valid(get_schema, record)


# -- fields ----------------------------------------------------------------------------------------
async def test_fields_projection_returns_only_the_fields_asked_for_and_the_id(tickets, mode):
    async with mcp_client(tickets, mode) as client:
        page = await client.call_tool(SEARCH, {"fields": ["subject", "status"], "page_size": 3})
        schema = await listed_schema(client, SEARCH)
        full = await client.call_tool(SEARCH, {"page_size": 3})
        # Fewer fields fit more rows into one budget.
        with budget(SMALL):
            few = await client.call_tool(SEARCH, {"fields": ["subject"], "page_size": 40})
    assert not page.is_error, page.content
    assert [set(item) for item in page.structured_content["items"]] == [{"id", "subject", "status"}] * 3
    assert [{k: item[k] for k in ("id", "subject", "status")} for item in full.structured_content["items"]] == (
        page.structured_content["items"]
    )
    assert_valid(schema, page.structured_content)
    assert "truncated" not in few.structured_content and len(few.structured_content["items"]) == TICKETS


async def test_unknown_fields_are_refused_with_the_allowed_names(tickets):
    async with mcp_client(tickets) as client:
        bad = await client.call_tool(SEARCH, {"fields": ["subject", "secret"]})
        empty = await client.call_tool(SEARCH, {"fields": []})
        twice = await client.call_tool(SEARCH, {"fields": ["subject", "subject"]})
    assert bad.is_error
    text = bad.content[0].text
    assert "'fields.1' must be one of" in text and '"secret"' in text
    for name in ("id", "customer", "subject", "body", "status", "priority", "assignee", "created"):
        assert f'"{name}"' in text
    assert empty.is_error and "at least 1 item" in empty.content[0].text
    assert twice.is_error and "fields" in twice.content[0].text


async def test_a_walk_may_change_fields_but_not_filters(tickets):
    with budget(SMALL):
        async with mcp_client(tickets) as client:
            first = await client.call_tool(SEARCH, {"page_size": 25})
            cursor = first.structured_content["next_cursor"]
            rest = await walk(client, {"page_size": 25, "fields": ["subject"], "cursor": cursor})
    ids = [item["id"] for item in first.structured_content["items"]]
    ids += [item["id"] for page in rest for item in page.structured_content["items"]]
    assert ids == await sync_to_async(ordered_ids)()


# -- any other result ----------------------------------------------------------------------------------
def test_a_result_with_a_list_of_records_is_cut_at_its_largest_list():
    data = {
        "job_id": "j1",
        "result_uri": "jobs://j1/result",
        "result": {
            "top": [{"id": i, "reason": "x" * 200} for i in range(50)],
            "bands": [{"band": "low", "count": 3}],
        },
    }
    with budget(MIN_RESULT_CHARS * 3):
        answer = call_tool_result(ToolResult(data, text=json_text(data)))
    structured = answer["structuredContent"]
    assert structured["truncated"] is True
    cut = structured["truncation"]
    assert cut["list"] == "result.top" and cut["returned"] + cut["omitted"] == 50 and cut["returned"] >= 1
    assert structured["result"]["top"] == data["result"]["top"][: cut["returned"]]  # whole records, in order
    assert structured["result"]["bands"] == data["result"]["bands"]
    assert "jobs://j1/result" in answer["content"][1]["text"]
    assert sum(len(block["text"]) for block in answer["content"]) <= MIN_RESULT_CHARS * 3
    assert json.loads(answer["content"][0]["text"]) == structured


def test_text_and_admin_messages_are_held_to_the_budget_too():
    with budget(MIN_RESULT_CHARS):
        text = call_tool_result(ToolResult("word " * 2_000, text="word " * 2_000))
        error = call_tool_result(ToolResult("wrong " * 2_000, is_error=True))
        noisy = call_tool_result(ToolResult({"ok": True}, messages=["done " * 2_000], text='{"ok":true}'))
    for answer in (text, noisy):
        assert sum(len(block["text"]) for block in answer["content"]) <= MIN_RESULT_CHARS
    assert MARKER_START in text["content"][0]["text"] and "shortened" in text["content"][1]["text"]
    assert len(error.content[0].text) <= MIN_RESULT_CHARS and MARKER_START in error.content[0].text
    assert noisy["structuredContent"] == {"ok": True} and noisy["content"][1]["text"].startswith("Admin messages: ")


def test_a_result_that_cannot_be_cut_is_a_clear_error_within_the_budget():
    data = {"ids": list(range(5_000))}  # no records to drop, no text to shorten
    with budget(MIN_RESULT_CHARS):
        answer = call_tool_result(ToolResult(data, text=json_text(data)))
    assert answer.is_error
    assert "cannot be cut at a record boundary" in answer.content[0].text
    assert len(answer.content[0].text) <= MIN_RESULT_CHARS


def test_fit_result_leaves_a_result_within_the_budget_alone():
    data = {"items": [{"id": 1, "body": "short"}], "next_cursor": None}
    with budget(MIN_RESULT_CHARS):
        assert fit_result(data, MIN_RESULT_CHARS) == (data, "")


# -- schemas and checks ---------------------------------------------------------------------------------
def test_every_listed_object_output_schema_declares_the_budget_keys_as_optional():
    listed = 0
    for tool in site.registry.tools.values():
        schema = tool_description(tool).output_schema
        if isinstance(schema, dict) and "properties" in schema:
            listed += 1
            for key, declared in BUDGET_PROPERTIES.items():
                assert schema["properties"][key] == declared, tool.name
                assert key not in schema.get("required", []), tool.name
    assert listed >= 15


def test_the_budget_setting_is_checked():
    for wrong in (MIN_RESULT_CHARS - 1, "60000", True, None):
        with budget(wrong):
            assert [error.id for error in check_budget()] == ["mcp_bridge.E321"], wrong
    with budget(budgets.MIN_RESULT_CHARS):
        assert [error.id for error in check_budget()] == ["mcp_bridge.E323"]  # JOB_INLINE_RESULT_CHARS 20,000
    assert check_budget(site.registry) == []
    assert [m for m in checks.run_checks() if m.id.startswith("mcp_bridge.E32")] == []


def test_a_tool_field_named_like_a_budget_key_is_reported():
    class Registry:
        tools = {"odd_tool": type("T", (), {"output_schema": {"properties": {"truncated": {"type": "string"}}}})()}
        tool_owners = {"odd_tool": None}

    errors = check_budget(Registry())
    assert [error.id for error in errors] == ["mcp_bridge.E322"]
    assert "'truncated'" in errors[0].msg and "odd_tool" in errors[0].msg


# -- over real HTTP, with the default budget ----------------------------------------------------------
@pytest.mark.subprocess
async def test_the_default_budget_cuts_a_large_page_over_http(tickets, live_server_url):
    from mcp_bridge.models import ApiKey

    def long_bodies():
        for ticket in SupportTicket.objects.all():
            ticket.body = f"Ticket {ticket.pk}: " + "the courier never came. " * 100  # ~2,400 characters
            ticket.save()
        return ApiKey.issue(tickets, "budget test")[1]

    key = await sync_to_async(long_bodies)()
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        async with Client(streamable_http_client(f"{live_server_url}/mcp", http_client=http)) as client:
            first = await client.call_tool(SEARCH, {"page_size": 100, "query": "courier"})
            pages = [first]
            while pages[-1].structured_content["next_cursor"]:
                cursor = pages[-1].structured_content["next_cursor"]
                pages.append(await client.call_tool(SEARCH, {"page_size": 100, "query": "courier", "cursor": cursor}))
    data = first.structured_content
    assert data["truncated"] is True and data["truncation"]["max_chars"] == 60_000
    assert text_chars(first) <= 60_000
    ids = [item["id"] for page in pages for item in page.structured_content["items"]]
    assert sorted(ids) == sorted(await sync_to_async(ordered_ids)()) and len(set(ids)) == TICKETS
