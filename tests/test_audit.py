"""The audit trail: every tool call, resource read, prompt get and report job, written after the call.

Calls go through the SDK's in-process client (both protocol eras where it matters) and over real
HTTP (uvicorn); the recorder's queue is flushed explicitly, as the lead's benchmark does.
"""

import io
import json
import logging
import os
from datetime import timedelta

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError

from customers.models import Customer, SupportTicket
from mcp_bridge import audit
from mcp_bridge.call_records import MAX_ARGUMENTS_CHARS, CallRecord, call_finished, mask_arguments
from mcp_bridge.models import AuditEntry
from mcp_bridge.server import McpBridgeServer
from mcp_bridge.sites import McpSite
from tasks.models import Job

from .conftest import mcp_client
from .test_reports_inprocess import run_queued_jobs

pytestmark = pytest.mark.anyio

SECRET = "hunter2-do-not-store"


@pytest.fixture(autouse=True)
def _written_before_teardown(request):
    """What a test queued is written before its database is flushed (its `demo` is set up inside this)."""
    if "demo" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("demo")
    yield
    audit.flush()


def entries(**filters):
    audit.flush()
    return list(AuditEntry.objects.filter(**filters).order_by("created", "id"))


async def aentries(**filters):
    return await sync_to_async(entries)(**filters)


def stored_text(entry):
    return json.dumps([entry.arguments, entry.error, entry.name, entry.credential])


# -- outcomes -------------------------------------------------------------------------------------------
async def test_a_successful_search_is_recorded_with_who_what_and_rows(demo, mode):
    async with mcp_client(demo["support_agent"], mode) as client:
        result = await client.call_tool("search_customers", {"query": "a", "page_size": 3})
    assert not result.is_error
    [entry] = await aentries(name="search_customers")
    assert (entry.kind, entry.outcome, entry.rows) == ("tool", "ok", len(result.structured_content["items"]))
    assert (entry.user_id, entry.username) == (demo["support_agent"].pk, "support_agent")
    assert entry.auth_kind == "local" and entry.arguments == {"query": "a", "page_size": 3}
    assert entry.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert entry.client_name  # the SDK client's clientInfo, in both eras
    assert entry.duration_ms > 0 and len(entry.request_id) == 32 and entry.error == ""


async def test_an_is_error_result_a_refusal_and_an_unknown_tool_are_recorded(demo):
    async with mcp_client(demo["analyst"]) as client:
        missing = await client.call_tool("get_customer", {"id": 987654})
        assert missing.is_error
        with pytest.raises(MCPError):
            await client.call_tool("no_such_tool", {})
        with pytest.raises(MCPError):  # analysts may not refund: the tool looks unknown to them
            await client.call_tool("issue_refund", {"order_id": 1, "amount": "1.00", "reason": "x"})
    [error] = await aentries(name="get_customer")
    assert error.outcome == "error" and "No customer with id 987654" in error.error and error.rows is None
    [unknown] = await aentries(name="no_such_tool")
    [hidden] = await aentries(name="issue_refund")
    assert unknown.outcome == hidden.outcome == "refused"
    assert hidden.username == "analyst" and hidden.error == "Unknown tool: issue_refund"


async def test_schema_invalid_arguments_are_an_error_result(demo):
    async with mcp_client(demo["support_agent"]) as client:
        result = await client.call_tool("search_customers", {"qurey": "a"})
    assert result.is_error
    [entry] = await aentries(name="search_customers")
    assert entry.outcome == "error" and "qurey" in entry.error


async def test_a_rate_limited_call_is_recorded(demo, settings, clock):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "THROTTLE_RATES": {"credential": "1200/min", "get_customer": "1/min"}}
    customer = await Customer.objects.afirst()
    async with mcp_client(demo["support_agent"]) as client:
        first = await client.call_tool("get_customer", {"id": customer.pk})
        second = await client.call_tool("get_customer", {"id": customer.pk})
    assert not first.is_error and second.is_error
    outcomes = [entry.outcome for entry in await aentries(name="get_customer")]
    assert outcomes == ["ok", "rate_limited"]


@pytest.fixture
def probe_server():
    site = McpSite(name="audit-probe")

    @site.tool(description="Fail with an unexpected exception, always. Used to test the audit trail only.")
    def explode(request, data):
        raise RuntimeError("boom: internal detail")

    @site.tool(
        description="Log in to a partner system with a password and return whether it worked. Test tool.",
        input_schema={
            "type": "object",
            "properties": {
                "login": {"type": "string"},
                "password": {"type": "string"},
                "options": {"type": "object", "properties": {"api_key": {"type": "string"}}},
            },
            "additionalProperties": False,
        },
    )
    def partner_login(request, data):
        return {"ok": data["password"] == SECRET}

    return McpBridgeServer(site)


@pytest.fixture
def probe_client(probe_server, demo):
    from contextlib import asynccontextmanager

    from mcp import Client

    from mcp_bridge.authentication import local_principal
    from mcp_bridge.server import current_principal

    @asynccontextmanager
    async def client():
        token = current_principal.set(local_principal(demo["admin"]))
        try:
            async with Client(probe_server.server) as connected:
                yield connected
        finally:
            current_principal.reset(token)

    return client


async def test_a_failing_tool_is_recorded_as_failed_without_internals(probe_client):
    async with probe_client() as client:
        result = await client.call_tool("explode", {})
    assert result.is_error and "boom" not in result.content[0].text
    [entry] = await aentries(name="explode")
    assert entry.outcome == "failed" and "reference" in entry.error and "boom" not in entry.error


async def test_secrets_are_never_stored(probe_client):
    async with probe_client() as client:
        result = await client.call_tool(
            "partner_login", {"login": "acme", "password": SECRET, "options": {"api_key": SECRET}}
        )
    assert result.structured_content == {"ok": True}
    [entry] = await aentries(name="partner_login")
    assert entry.arguments == {"login": "acme", "password": "***", "options": {"api_key": "***"}}
    assert SECRET not in stored_text(entry)


async def test_redacted_fields_are_masked(demo):
    customer = await Customer.objects.afirst()
    async with mcp_client(demo["admin"]) as client:
        result = await client.call_tool("update_customer", {"id": customer.pk, "phone": "+1 555 0100 SECRET"})
    assert result.is_error  # phone is redacted: not writable either
    [entry] = await aentries(name="update_customer")
    assert entry.arguments == {"id": customer.pk, "phone": "***"} and "SECRET" not in stored_text(entry)


def test_large_arguments_are_cut_with_a_marker():
    masked = mask_arguments({"query": "x" * 10_000, "token": "t"})
    assert masked["_truncated"] is True and len(json.dumps(masked)) < 4200 and '"t"' not in masked["_json"]


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=40),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=900)),
        max_size=30,
    )
)
def test_arguments_recorded_without_measuring_fit_the_cap(arguments):
    """Small flat arguments skip writing their JSON to measure it: what is kept that way still fits the cap."""
    masked = mask_arguments(arguments)
    if "_truncated" not in masked:
        assert len(json.dumps(masked, ensure_ascii=False)) <= MAX_ARGUMENTS_CHARS


def test_reads_and_writes_in_one_batch_are_all_written(demo):
    """Rows that link LogEntry rows and rows that do not go in by different routes, in one transaction."""
    log_entry = LogEntry.objects.create(user=demo["admin"], action_flag=2, object_repr="x")
    now = timezone.now()
    batch = [
        CallRecord(
            "tool",
            "search_orders",
            "ok",
            1.5,
            "r-plain",
            now,
            user_id=demo["analyst"].pk,
            rows=3,
            raw_arguments={"status": "paid", "token": SECRET},
        ),
        CallRecord(
            "tool",
            "update_ticket_status",
            "ok",
            2.5,
            "r-linked",
            now,
            user_id=demo["admin"].pk,
            raw_arguments={"status": "closed"},
            log_entry_ids=[log_entry.pk],
        ),
        CallRecord("resource", "customers://customer/1", "refused", 0.5, "r-refused", now, error="No such resource."),
    ]
    assert audit.write(batch) == 3
    plain, linked, refused = (AuditEntry.objects.get(request_id=r) for r in ("r-plain", "r-linked", "r-refused"))
    assert (plain.username, plain.rows, plain.arguments) == ("analyst", 3, {"status": "paid", "token": "***"})
    assert plain.created == now and plain.duration_ms == 1.5 and not plain.log_entries.exists()
    assert list(linked.log_entries.all()) == [log_entry] and linked.username == "admin"
    assert (refused.user_id, refused.error, refused.arguments) == (None, "No such resource.", {})


async def test_a_write_links_the_admin_log_entry(demo):
    ticket = await SupportTicket.objects.exclude(status="closed").afirst()
    async with mcp_client(demo["support_agent"]) as client:
        result = await client.call_tool("update_ticket_status", {"ticket_id": ticket.pk, "status": "closed"})
    assert not result.is_error, result.content

    def linked():
        [entry] = entries(name="update_ticket_status")
        return entry, list(entry.log_entries.all())

    entry, logs = await sync_to_async(linked)()
    assert entry.outcome == "ok" and entry.rows == 1
    assert [(log.object_id, log.user_id) for log in logs] == [(str(ticket.pk), demo["support_agent"].pk)]


async def test_resource_reads_and_prompt_gets_are_recorded(demo):
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(demo["analyst"]) as client:
        await client.read_resource(f"customers://customer/{customer.pk}/orders")
        await client.get_prompt("customer_health_review", {"customer_id": str(customer.pk)})
        with pytest.raises(MCPError):
            await client.read_resource("customers://nothing/here")
    [read] = await aentries(kind="resource", outcome="ok")
    assert read.name == f"customers://customer/{customer.pk}/orders" and read.rows == 3
    [refused] = await aentries(kind="resource", outcome="refused")
    assert refused.name == "customers://nothing/here" and refused.username == "analyst"  # filled in when written
    [prompt] = await aentries(kind="prompt")
    assert (prompt.name, prompt.outcome, prompt.arguments) == (
        "customer_health_review",
        "ok",
        {"customer_id": str(customer.pk)},
    )


async def test_a_report_job_is_recorded_when_it_ends(demo):
    async with mcp_client(demo["analyst"]) as client:
        started = await client.call_tool("churn_risk_report", {"top": 5})
        job_id = started.structured_content["job_id"]
        await sync_to_async(run_queued_jobs)()
        other = await client.call_tool("churn_risk_report", {"top": 3})
        await client.call_tool("cancel_job", {"job_id": other.structured_content["job_id"]})
    [finished] = await aentries(kind="job", request_id=job_id)
    assert (finished.name, finished.outcome, finished.username) == ("churn_risk_report", "ok", "analyst")
    assert finished.arguments == {"top": 5} and finished.duration_ms >= 0
    [cancelled] = await aentries(kind="job", outcome="error")
    assert cancelled.request_id == other.structured_content["job_id"] and "Cancelled" in cancelled.error
    assert await Job.objects.filter(pk=job_id, status="completed").aexists()


def test_over_http_the_api_key_prefix_and_a_proxy_request_id_are_recorded(demo, api_keys, live_server_url):
    key = api_keys["support_agent"]
    headers = {
        "authorization": f"Bearer {key}",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2025-11-25",
        "x-request-id": "proxy-req-42",
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search_customers", "arguments": {}}}
    # Stateless 2025 HTTP answers a tools/call without initialize only in some settings: initialize first.
    with httpx2.Client(base_url=live_server_url, headers=headers, timeout=20) as http:
        init = http.post(
            "/mcp/",
            json={
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "audit-test-client", "version": "9.1"},
                },
            },
        )
        assert init.status_code == 200, init.text
        session = init.headers.get("mcp-session-id")
        extra = {"mcp-session-id": session} if session else {}
        http.post("/mcp/", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=extra)
        response = http.post("/mcp/", json=body, headers=extra)
        assert response.status_code == 200, response.text
    # The server's recorder writes within AUDIT_FLUSH_INTERVAL (1 s); wait for it.
    for _ in range(50):
        found = list(AuditEntry.objects.filter(request_id="proxy-req-42"))
        if found:
            break
        import time

        time.sleep(0.1)
    [entry] = found
    assert (entry.auth_kind, entry.username, entry.outcome) == ("api_key", "support_agent", "ok")
    assert key.split("_")[1] in entry.credential and key not in entry.credential
    assert (entry.client_name, entry.client_version) == ("audit-test-client", "9.1")
    assert entry.session_id == (session or "")


# -- the recorder ------------------------------------------------------------------------------------------
def record(name="t", **overrides):
    values = {
        "kind": "tool",
        "name": name,
        "outcome": "ok",
        "duration_ms": 1.0,
        "request_id": "r-" + name,
        "created": timezone.now(),
    }
    return CallRecord(**{**values, **overrides})


def test_the_queue_is_bounded_and_drops_the_oldest(demo, settings, caplog):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "AUDIT_QUEUE_SIZE": 3}
    recorder = audit.AuditRecorder()
    recorder.pid = os.getpid()  # as if its thread ran: this test writes by hand
    for number in range(5):
        recorder.record(record(f"call{number}"))
    assert recorder.pending() == 3
    with caplog.at_level(logging.WARNING, logger="mcp_bridge.audit"):
        assert recorder.flush() == 3
    assert "2 oldest call records were dropped" in caplog.text
    assert sorted(AuditEntry.objects.values_list("name", flat=True)) == ["call2", "call3", "call4"]


def test_a_database_failure_is_logged_and_calls_go_on(demo, caplog):
    import asyncio

    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        call_finished.send_robust(sender=CallRecord, record=record("lost"))

        async def call():
            async with mcp_client(demo["support_agent"]) as client:
                return await client.call_tool("search_customers", {"page_size": 1})

        result = asyncio.run(call())
        assert not result.is_error
        with caplog.at_level(logging.ERROR, logger="mcp_bridge.audit"):
            audit.flush()
        assert "could not be written and were dropped" in caplog.text
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
    call_finished.send_robust(sender=CallRecord, record=record("after"))
    assert [entry.name for entry in entries()] == ["after"]  # the recorder goes on once the table is back


def test_a_failing_receiver_never_breaks_the_call(demo, caplog):
    import asyncio

    def broken(sender, record, **kwargs):
        raise ValueError("receiver bug")

    call_finished.connect(broken, sender=CallRecord)
    try:

        async def call():
            async with mcp_client(demo["support_agent"]) as client:
                return await client.call_tool("search_customers", {"page_size": 1})

        with caplog.at_level(logging.ERROR, logger="mcp_bridge.call_records"):
            assert not asyncio.run(call()).is_error
    finally:
        call_finished.disconnect(broken, sender=CallRecord)
    assert "receiver" in caplog.text and entries(name="search_customers")


def test_audit_off_records_nothing(demo, settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "AUDIT": False}
    call_finished.send_robust(sender=CallRecord, record=record("off"))
    assert entries() == []


def test_cleanup_deletes_only_old_rows(demo):
    now = timezone.now()
    for name, age in (("old", 100), ("older", 400), ("recent", 10)):
        call_finished.send_robust(sender=CallRecord, record=record(name, created=now - timedelta(days=age)))
    audit.flush()
    link = AuditEntry.objects.get(name="old")
    link.log_entries.add(LogEntry.objects.create(user=demo["admin"], action_flag=1, object_repr="x"))
    assert audit.cleanup(90, chunk=1) == 2
    assert list(AuditEntry.objects.values_list("name", flat=True)) == ["recent"]
    out = io.StringIO()
    call_command("mcp_audit", "cleanup", "--days", "5", stdout=out)
    assert out.getvalue() == "1 audit row(s) older than 5 day(s) deleted.\n"
    assert not AuditEntry.objects.exists()


# -- the admin -------------------------------------------------------------------------------------------
def test_the_admin_lists_filters_and_searches_and_is_read_only(demo, client):
    ticket = SupportTicket.objects.exclude(status="closed").first()
    import asyncio

    async def calls():
        async with mcp_client(demo["support_agent"]) as mcp:
            await mcp.call_tool("update_ticket_status", {"ticket_id": ticket.pk, "status": "closed"})

    asyncio.run(calls())
    [entry] = entries(name="update_ticket_status")
    client.force_login(demo["admin"])
    url = "/admin/mcp_bridge/auditentry/"
    page = client.get(url)
    assert page.status_code == 200 and "update_ticket_status" in page.content.decode()
    week_ago = str(timezone.now().replace(microsecond=0) - timedelta(days=7))
    for query in (
        {"outcome": "ok"},
        {"kind": "tool"},
        {"name": "update_ticket_status"},
        {"user__id__exact": demo["support_agent"].pk},
        {"auth_kind": "local"},
        {"client_name": entry.client_name},
        {"created__gte": week_ago},
    ):
        filtered = client.get(url, query)
        assert filtered.status_code == 200 and "update_ticket_status" in filtered.content.decode(), query
    assert "0 results" in client.get(url, {"outcome": "failed"}).content.decode()
    found = client.get(url, {"q": entry.request_id})
    assert found.status_code == 200 and "1 result" in found.content.decode()
    assert "0 results" in client.get(url, {"q": "nothing-like-it"}).content.decode()
    detail = client.get(f"{url}{entry.pk}/change/").content.decode()
    [log] = entry.log_entries.all()
    assert log.get_admin_url() in detail
    assert client.get(f"{url}add/").status_code == 403
    assert client.post(f"{url}{entry.pk}/delete/").status_code == 403


# -- checks -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "setting, value, check_id",
    [
        ("AUDIT", "yes", "mcp_bridge.E301"),
        ("AUDIT_RETENTION_DAYS", 0, "mcp_bridge.E302"),
        ("AUDIT_BATCH_SIZE", 0, "mcp_bridge.E303"),
        ("AUDIT_FLUSH_INTERVAL", 0, "mcp_bridge.E304"),
        ("AUDIT_QUEUE_SIZE", "big", "mcp_bridge.E305"),
        ("AUDIT_QUEUE_SIZE", 10, "mcp_bridge.E305"),
    ],
)
def test_bad_audit_settings_are_reported(settings, setting, value, check_id):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, setting: value}
    assert [error.id for error in audit.check_audit_settings()] == [check_id]


def test_default_audit_settings_pass_the_checks():
    assert audit.check_audit_settings() == []


async def test_runmcp_records_its_calls_as_stdio_and_writes_them_when_it_ends(demo):
    from mcp import Client

    from .test_stdio import runmcp_params

    # Read right after the client closed: the process wrote what it held when serving ended.
    async with Client(runmcp_params("support_agent")) as client:
        assert not (await client.call_tool("search_customers", {"page_size": 2})).is_error
    [entry] = await aentries(name="search_customers")
    assert (entry.auth_kind, entry.credential, entry.username, entry.rows) == ("stdio", "stdio", "support_agent", 2)
