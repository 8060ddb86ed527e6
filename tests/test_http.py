"""The Streamable HTTP transport end to end: uvicorn serving config.asgi, real sockets, no mocks.

Each test talks to a real server process (the session-scoped `live_server_url`, or a server
started here with other settings) either through the SDK client or with raw HTTP requests, so
what is checked is what an MCP client on the network would see.
"""

import contextlib
import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, ResourceTemplateReference

from customers.models import Customer, Order, SupportTicket
from mcp_bridge.models import ApiKey
from mcp_bridge.results import resource_not_found_code

from .test_stdio import ANALYST_REPORT_TOOLS, SUPPORT_AGENT_TOOLS

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
ERA_OF_MODE = {"auto": MODERN, "legacy": HANDSHAKE}
ACCEPT = "application/json, text/event-stream"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}


# -- helpers ---------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def http_client(base_url, key, mode="auto", path="/mcp", event_hooks=None):
    """The SDK's Streamable HTTP client, authenticated with API key *key*."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx2.AsyncClient(headers=headers, event_hooks=event_hooks or {}) as http:
        async with Client(streamable_http_client(f"{base_url}{path}", http_client=http), mode=mode) as client:
            yield client


def modern_request(method, params=None, request_id=1):
    """A self-contained 2026-07-28 JSON-RPC request (envelope in params._meta)."""
    params = dict(params or {})
    params["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def modern_headers(key=None, method="tools/list", **extra):
    headers = {
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
        "Accept": ACCEPT,
        "Content-Type": "application/json",
    }
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    headers.update(extra)
    return headers


def rpc_messages(response):
    """The JSON-RPC messages in a response body, whether plain JSON or an SSE stream."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = response.json()
        return body if isinstance(body, list) else [body]
    assert content_type.startswith("text/event-stream"), f"unexpected content type {content_type!r}: {response.text!r}"
    messages = []
    for line in response.text.splitlines():
        if line.startswith("data:") and line[5:].strip():
            messages.append(json.loads(line[5:]))
    return messages


def rpc_result(response, request_id=1):
    """The result of request *request_id* in *response* (fails on an error or a missing answer)."""
    answers = [m for m in rpc_messages(response) if m.get("id") == request_id]
    assert len(answers) == 1, f"expected one answer to request {request_id}, got {rpc_messages(response)!r}"
    assert "error" not in answers[0], answers[0]
    return answers[0]["result"]


def assert_unauthorized(response, error=None):
    assert response.status_code == 401, (response.status_code, response.text)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.lower().startswith("bearer "), challenge
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] and body["error_description"]
    if error is not None:
        assert body["error"] == error
        assert f'error="{error}"' in challenge
    return body


async def raw_tools_list(base_url, key, path="/mcp", **extra_headers):
    async with httpx2.AsyncClient(follow_redirects=False) as http:
        return await http.post(
            f"{base_url}{path}",
            json=modern_request("tools/list"),
            headers=modern_headers(key, "tools/list", **extra_headers),
        )


def orm(fn):
    """Run *fn* (ORM work) off the event loop, then close that thread's connections.

    The worker thread outlives the test; a connection left open on it would keep the PostgreSQL
    test database in use and stop pytest-django from dropping it.
    """

    def work(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(work, thread_sensitive=True)


@orm
def first_visible_customer():
    return Customer.objects.filter(is_internal=False).order_by("pk").first()


@orm
def make_internal_customer():
    customer = Customer.objects.filter(is_internal=False).order_by("pk").last()
    customer.is_internal = True
    customer.save(update_fields=["is_internal"])
    return customer


@orm
def issue_key(user, **kwargs):
    return ApiKey.issue(user, "test key (http)", **kwargs)


@orm
def revoke_key(raw_key):
    api_key = ApiKey.objects.get(prefix=ApiKey.parse_prefix(raw_key))
    api_key.revoke()
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


@pytest.fixture(scope="module")
def stateless_json_url(django_db_setup, django_db_blocker):
    """A second uvicorn with MCP_STATELESS_HTTP=1 and MCP_JSON_RESPONSE=1, on the test database."""
    from .servers import uvicorn_server

    with (
        django_db_blocker.unblock(),
        uvicorn_server(extra_env={"MCP_STATELESS_HTTP": "1", "MCP_JSON_RESPONSE": "1"}) as url,
    ):
        yield url


# -- both protocol eras through the SDK client -----------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tools_resources_prompts_and_completion(api_keys, live_server_url, mode):
    customer = await first_visible_customer()
    async with http_client(live_server_url, api_keys["support_agent"], mode) as client:
        assert client.protocol_version == ERA_OF_MODE[mode]

        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert tools == SUPPORT_AGENT_TOOLS

        found = await client.call_tool("search_customers", {"query": customer.email, "page_size": 5})
        assert not found.is_error, found.content
        items = found.structured_content["items"]
        assert [item["id"] for item in items] == [customer.pk]
        assert items[0]["email"] == customer.email

        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert "customers://customer/{id}" in templates
        read = await client.read_resource(f"customers://customer/{customer.pk}")
        assert len(read.contents) == 1 and read.contents[0].mime_type == "application/json"
        record = json.loads(read.contents[0].text)
        assert record["id"] == customer.pk and record["email"] == customer.email
        assert record["phone"].endswith("***")  # redacted over HTTP too

        prompt = await client.get_prompt("customer_health_review", {"customer_id": str(customer.pk)})
        assert prompt.messages[0].role == "user"
        assert f"get_customer with id {customer.pk}" in prompt.messages[0].content.text

        ref = ResourceTemplateReference(type="ref/resource", uri="customers://customer/{id}")
        completion = await client.complete(ref, {"name": "id", "value": customer.email})
        assert completion.completion.values == [str(customer.pk)]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_internal_customer_is_not_found_for_non_superusers(api_keys, live_server_url, mode):
    internal = await make_internal_customer()
    async with http_client(live_server_url, api_keys["support_agent"], mode) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource(f"customers://customer/{internal.pk}")
        assert caught.value.code == resource_not_found_code(client.protocol_version)
        found = await client.call_tool("search_customers", {"query": internal.email})
        assert not found.is_error and found.structured_content["items"] == []
        ref = ResourceTemplateReference(type="ref/resource", uri="customers://customer/{id}")
        assert (await client.complete(ref, {"name": "id", "value": internal.email})).completion.values == []
        assert (
            str(internal.pk)
            not in (await client.complete(ref, {"name": "id", "value": str(internal.pk)})).completion.values
        )
    async with http_client(live_server_url, api_keys["admin"], mode) as client:
        read = await client.read_resource(f"customers://customer/{internal.pk}")
        assert json.loads(read.contents[0].text)["email"] == internal.email
        ref = ResourceTemplateReference(type="ref/resource", uri="customers://customer/{id}")
        assert (await client.complete(ref, {"name": "id", "value": internal.email})).completion.values == [
            str(internal.pk)
        ]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_write_tools_over_http(api_keys, live_server_url, mode):
    """Write tools commit their change and the admin log entry, on every test against the shared server.

    The server process outlives each test's database flush, so this also checks that nothing it
    caches across requests (e.g. content type ids used for admin log entries) goes stale.
    """
    ticket, order = await orm(
        lambda: (
            SupportTicket.objects.filter(customer__is_internal=False, status="open").order_by("pk").first(),
            Order.objects.filter(customer__is_internal=False, status__in=["paid", "shipped"], refunded_total=0)
            .order_by("pk")
            .first(),
        )
    )()
    async with http_client(live_server_url, api_keys["support_agent"], mode) as client:
        changed = await client.call_tool(
            "update_ticket_status", {"ticket_id": ticket.pk, "status": "pending", "note": "over HTTP"}
        )
        assert not changed.is_error, changed.content[0].text
        assert changed.structured_content == {"ticket_id": ticket.pk, "previous_status": "open", "status": "pending"}
        refunded = await client.call_tool(
            "issue_refund", {"order_id": order.pk, "amount": "1.00", "reason": "goodwill"}
        )
        assert not refunded.is_error, refunded.content[0].text
        assert refunded.structured_content["order_id"] == order.pk

    @orm
    def stored():
        from django.contrib.admin.models import LogEntry

        return (
            SupportTicket.objects.get(pk=ticket.pk),
            Order.objects.get(pk=order.pk).refunded_total,
            set(
                LogEntry.objects.filter(user__username="support_agent").values_list("object_id", "content_type__model")
            ),
        )

    saved_ticket, refunded_total, log = await stored()
    assert saved_ticket.status == "pending" and saved_ticket.body.endswith("[support_agent] over HTTP")
    assert refunded_total == Decimal("1.00")
    assert {(str(ticket.pk), "supportticket"), (str(order.pk), "order")} <= log


# -- the endpoint's path ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/mcp", "/mcp/"])
async def test_post_to_both_paths_without_redirect(api_keys, live_server_url, path):
    response = await raw_tools_list(live_server_url, api_keys["analyst"], path)
    assert response.status_code == 200, (response.status_code, response.headers.get("location"), response.text)
    assert not response.is_redirect
    tools = {tool["name"] for tool in rpc_result(response)["tools"]}
    assert "search_customers" in tools and "issue_refund" not in tools


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_on_trailing_slash_path(api_keys, live_server_url, mode):
    async with http_client(live_server_url, api_keys["analyst"], mode, path="/mcp/") as client:
        result = await client.call_tool("search_orders", {"page_size": 1})
        assert not result.is_error and len(result.structured_content["items"]) == 1


# -- authentication --------------------------------------------------------------------------------


async def test_missing_authorization_is_401(demo, live_server_url):
    response = await raw_tools_list(live_server_url, None)
    assert_unauthorized(response)


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Token mcpb_000000000000_x"])
async def test_non_bearer_authorization_is_401(demo, live_server_url, authorization):
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{live_server_url}/mcp",
            json=modern_request("tools/list"),
            headers={**modern_headers(), "Authorization": authorization},
        )
    assert_unauthorized(response)


@pytest.mark.parametrize("key", ["not-an-api-key", "mcpb_short_secret", "mcpb_0123456789ab"])
async def test_malformed_key_is_401(demo, live_server_url, key):
    assert_unauthorized(await raw_tools_list(live_server_url, key), error="invalid_token")


async def test_unknown_key_is_401(api_keys, live_server_url):
    real = api_keys["admin"]
    _, prefix, secret = real.split("_", 2)
    unknown_prefix = f"mcpb_{'0' * 12}_{secret}"  # well-formed, no such key
    wrong_secret = f"mcpb_{prefix}_{'x' * len(secret)}"  # a real prefix with a wrong secret
    for key in (unknown_prefix, wrong_secret):
        assert_unauthorized(await raw_tools_list(live_server_url, key), error="invalid_token")
    # the real key next to them works, so the 401s above are about the keys
    assert rpc_result(await raw_tools_list(live_server_url, real))["tools"]


async def test_revoked_key_is_401(demo, live_server_url):
    _, key = await issue_key(demo["support_agent"])
    await revoke_key(key)
    body = assert_unauthorized(await raw_tools_list(live_server_url, key), error="invalid_token")
    assert "revoked" in body["error_description"]


async def test_expired_key_is_401(demo, live_server_url):
    _, key = await issue_key(demo["support_agent"], expires_at=timezone.now() - timedelta(minutes=1))
    body = assert_unauthorized(await raw_tools_list(live_server_url, key), error="invalid_token")
    assert "expired" in body["error_description"]
    _, fresh = await issue_key(demo["support_agent"], expires_at=timezone.now() + timedelta(hours=1))
    assert rpc_result(await raw_tools_list(live_server_url, fresh))["tools"]


async def test_key_of_inactive_user_is_401(demo, live_server_url):
    user = demo["analyst"]
    _, key = await issue_key(user)
    user.is_active = False
    await orm(user.save)(update_fields=["is_active"])
    assert_unauthorized(await raw_tools_list(live_server_url, key), error="invalid_token")


@orm
def deactivate_user(user):
    user.is_active = False
    user.save(update_fields=["is_active"])


async def outcome(call):
    """('ok', result) or ('error', MCPError): kept inside the client, asserted outside its task group."""
    try:
        return "ok", await call
    except MCPError as exc:
        return "error", exc


@pytest.mark.parametrize("how", ["revoke_key", "deactivate_user"])
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_key_revoked_after_use_is_refused_on_next_call(demo, live_server_url, mode, how):
    """The server remembers a verified key for 30 s, but each call re-checks it in its own DB work."""
    _, key = await issue_key(demo["support_agent"])
    ticket = await orm(
        lambda: (
            SupportTicket.objects.filter(customer__is_internal=False).exclude(status="closed").order_by("pk").first()
        )
    )()
    statuses = []

    async def record(response):
        statuses.append(response.status_code)

    async with http_client(live_server_url, key, mode, event_hooks={"response": [record]}) as client:
        before = await client.call_tool("search_support_tickets", {"page_size": 1})
        assert not before.is_error and before.structured_content["items"]
        if how == "revoke_key":
            await revoke_key(key)
        else:
            await deactivate_user(demo["support_agent"])
        statuses.clear()
        write = await outcome(client.call_tool("update_ticket_status", {"ticket_id": ticket.pk, "status": "closed"}))
        write_statuses = list(statuses)
        read = await outcome(client.call_tool("search_support_tickets", {"page_size": 1}))

    kind, value = write
    assert kind == "error", f"served after {how}: {value!r}"
    # The call's own DB work found the remembered key dead: the transport answers 401 with the challenge.
    assert 401 in write_statuses, (write_statuses, value)
    assert read[0] == "error", f"served after {how}: {read[1]!r}"
    assert (await orm(SupportTicket.objects.get)(pk=ticket.pk)).status == ticket.status  # nothing was changed
    # and a fresh request with the same key gets no answer either
    response = await raw_tools_list(live_server_url, key)
    assert response.status_code == 401, response.text


# -- Host and Origin -------------------------------------------------------------------------------


async def test_host_not_in_allowed_hosts_is_421(api_keys, live_server_url):
    response = await raw_tools_list(live_server_url, api_keys["admin"], Host="evil.example.com")
    assert response.status_code == 421, (response.status_code, response.text)
    assert response.json()["error"] == "invalid_host"
    # without a key too: the Host check comes before authentication
    response = await raw_tools_list(live_server_url, None, Host="evil.example.com")
    assert response.status_code == 421


@pytest.mark.parametrize("origin", ["https://evil.example.com", "http://attacker.test:8000"])
async def test_foreign_origin_is_403(api_keys, live_server_url, origin):
    response = await raw_tools_list(live_server_url, api_keys["admin"], Origin=origin)
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.json()["error"] == "invalid_origin"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_local_origin_is_accepted(api_keys, live_server_url, host):
    port = urlsplit(live_server_url).port
    response = await raw_tools_list(live_server_url, api_keys["analyst"], Origin=f"http://{host}:{port}")
    assert response.status_code == 200, (response.status_code, response.text)
    assert rpc_result(response)["tools"]


# -- handshake-era sessions ------------------------------------------------------------------------


def legacy_headers(key, session_id=None):
    headers = {"Authorization": f"Bearer {key}", "Accept": ACCEPT, "Content-Type": "application/json"}
    if session_id is not None:
        headers["Mcp-Session-Id"] = session_id
        headers["MCP-Protocol-Version"] = HANDSHAKE
    return headers


async def test_session_is_bound_to_the_key_that_opened_it(api_keys, live_server_url):
    url = f"{live_server_url}/mcp"
    agent, analyst = api_keys["support_agent"], api_keys["analyst"]
    async with httpx2.AsyncClient(follow_redirects=False) as http:
        opened = await http.post(
            url,
            headers=legacy_headers(agent),
            json=INITIALIZE,
        )
        assert opened.status_code == 200, opened.text
        assert rpc_result(opened)["protocolVersion"] == HANDSHAKE
        session_id = opened.headers["mcp-session-id"]
        initialized = await http.post(
            url,
            headers=legacy_headers(agent, session_id),
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        )
        assert initialized.status_code == 202

        tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
        own = await http.post(url, headers=legacy_headers(agent, session_id), json=tools_list)
        assert own.status_code == 200
        assert {t["name"] for t in rpc_result(own, 2)["tools"]} == SUPPORT_AGENT_TOOLS

        # another valid key cannot use (or end) the session: it gets the answer for "no such session"
        stolen = await http.post(url, headers=legacy_headers(analyst, session_id), json={**tools_list, "id": 3})
        assert stolen.status_code == 404, (stolen.status_code, stolen.text)
        assert "issue_refund" not in stolen.text
        ended = await http.delete(url, headers=legacy_headers(analyst, session_id))
        assert ended.status_code == 404

        still = await http.post(url, headers=legacy_headers(agent, session_id), json={**tools_list, "id": 4})
        assert still.status_code == 200 and rpc_result(still, 4)["tools"]
        await http.delete(url, headers=legacy_headers(agent, session_id))


async def test_session_is_bound_to_the_key_not_just_the_user(demo, api_keys, live_server_url):
    """A second key of the same user is a different credential."""
    _, second_key = await issue_key(demo["support_agent"])
    url = f"{live_server_url}/mcp"
    async with httpx2.AsyncClient() as http:
        opened = await http.post(
            url,
            headers=legacy_headers(api_keys["support_agent"]),
            json=INITIALIZE,
        )
        session_id = opened.headers["mcp-session-id"]
        other = await http.post(
            url, headers=legacy_headers(second_key, session_id), json={"jsonrpc": "2.0", "id": 2, "method": "ping"}
        )
        assert other.status_code == 404
        await http.delete(url, headers=legacy_headers(api_keys["support_agent"], session_id))


# -- stateless JSON mode ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stateless_json_server(api_keys, stateless_json_url, mode):
    customer = await first_visible_customer()
    async with http_client(stateless_json_url, api_keys["support_agent"], mode) as client:
        assert client.protocol_version == ERA_OF_MODE[mode]
        assert {tool.name for tool in (await client.list_tools()).tools} == SUPPORT_AGENT_TOOLS
        found = await client.call_tool("get_customer", {"id": customer.pk})
        assert not found.is_error and found.structured_content["email"] == customer.email
        prompt = await client.get_prompt("customer_health_review", {"customer_id": str(customer.pk)})
        assert f"customer {customer.pk}" in prompt.messages[0].content.text


async def test_stateless_json_server_answers_handshake_with_json_and_no_session(api_keys, stateless_json_url):
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{stateless_json_url}/mcp",
            headers=legacy_headers(api_keys["analyst"]),
            json=INITIALIZE,
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in response.headers
    assert response.json()["result"]["protocolVersion"] == HANDSHAKE


async def test_stateless_json_server_still_authenticates(demo, stateless_json_url):
    assert_unauthorized(await raw_tools_list(stateless_json_url, None))
    assert_unauthorized(await raw_tools_list(stateless_json_url, "mcpb_000000000000_nope"), error="invalid_token")


# -- permissions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_hidden_tool_is_indistinguishable_from_a_missing_one(api_keys, live_server_url, mode):
    async with http_client(live_server_url, api_keys["analyst"], mode) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert "issue_refund" not in tools and "update_ticket_status" not in tools
        assert {"search_customers", "get_customer", "search_orders", "get_order"} <= tools
        # Reads, the reports and their job tools: nothing that changes the demo's data.
        assert all(name.startswith(("search_", "get_")) or name in ANALYST_REPORT_TOOLS for name in tools)

        with pytest.raises(MCPError) as hidden:
            await client.call_tool("issue_refund", {"order_id": 1, "amount": "1.00", "reason": "goodwill"})
        with pytest.raises(MCPError) as missing:
            await client.call_tool("no_such_tool", {})
    assert hidden.value.code == missing.value.code == INVALID_PARAMS
    assert hidden.value.message == "Unknown tool: issue_refund"
    assert missing.value.message == "Unknown tool: no_such_tool"


async def test_superuser_sees_all_tools_over_http(api_keys, live_server_url):
    async with http_client(live_server_url, api_keys["admin"]) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert SUPPORT_AGENT_TOOLS <= tools
    assert {
        "create_customer",
        "update_customer",
        "delete_customer",
        "create_support_ticket",
        "update_support_ticket",
        "mark_resolved_support_tickets",
        "search_refunds",
        "get_refund",
    } <= tools


# -- Django beside MCP -----------------------------------------------------------------------------


async def test_django_still_serves_the_admin(live_server_url):
    async with httpx2.AsyncClient(follow_redirects=False) as http:
        login = await http.get(f"{live_server_url}/admin/login/")
        index = await http.get(f"{live_server_url}/admin/")
        lookalike = await http.get(f"{live_server_url}/mcpx/")
    assert login.status_code == 200 and "csrfmiddlewaretoken" in login.text
    assert index.status_code == 302 and "/admin/login/" in index.headers["location"]  # Django's auth, not MCP's
    assert lookalike.status_code == 404 and "www-authenticate" not in lookalike.headers
