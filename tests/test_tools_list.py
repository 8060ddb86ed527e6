"""2026-07-28 tools/list answered from kept bytes (mcp_bridge.tools_list), driven through the real ASGI app.

The shortcut must be invisible: the same bytes as the SDK's answer, every request the SDK would
judge differently still judged by the SDK, and every permission or credential change applied on
the next listing.
"""

import contextlib
import json

import anyio
import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, Permission
from django.core.asgi import get_asgi_application

from mcp_bridge.asgi import McpAsgiApp
from mcp_bridge.models import ApiKey

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


class CountingApp:
    """Passes requests to the SDK's ASGI app and counts them."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def running_app():
    """The project's ASGI app with its lifespan started; `app.sdk.calls` counts requests the SDK saw."""
    app = McpAsgiApp(get_asgi_application())
    to_app, from_app = anyio.create_memory_object_stream(4), anyio.create_memory_object_stream(4)
    async with anyio.create_task_group() as group:
        group.start_soon(app, {"type": "lifespan", "asgi": {"version": "3.0"}}, to_app[1].receive, from_app[0].send)
        await to_app[0].send({"type": "lifespan.startup"})
        assert (await from_app[1].receive())["type"] == "lifespan.startup.complete"
        app.sdk = app._mcp_app = CountingApp(app._mcp_app)
        forget_kept_lists(app)  # the server object is process-wide: start without an earlier test's lists
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            yield app, http
        await to_app[0].send({"type": "lifespan.shutdown"})
        await from_app[1].receive()


def forget_kept_lists(app):
    app.bridge._tools_list_results.clear()
    app.bridge._tools_list_encoded.clear()


def headers_for(key, method="tools/list", **extra):
    headers = {
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN, "Mcp-Method": method,
    }
    headers.update(extra)
    return headers


def listing(request_id=1, **params):
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": {**params, "_meta": META}}


async def post(http, key, body, **headers):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post("/mcp", content=content, headers=headers_for(key, **headers))


def tool_names(response):
    return {tool["name"] for tool in response.json()["result"]["tools"]}


async def test_repeated_listing_skips_the_sdk_and_sends_its_exact_bytes(api_keys):
    key = api_keys["support_agent"]
    async with running_app() as (app, http):
        await post(http, key, listing(1))
        assert app.sdk.calls == 1
        for request_id in (7, "req-ü-7", 2**40):
            shortcut = await post(http, key, listing(request_id))
            assert app.sdk.calls == 1, "a repeated listing was not answered before the SDK"
            forget_kept_lists(app)  # the SDK answers the same request once more
            from_sdk = await post(http, key, listing(request_id))
            assert app.sdk.calls == 2
            assert shortcut.status_code == from_sdk.status_code == 200
            assert shortcut.content == from_sdk.content
            assert shortcut.headers["content-type"] == from_sdk.headers["content-type"] == "application/json"
            assert shortcut.headers["content-length"] == from_sdk.headers["content-length"]
            assert shortcut.json()["id"] == request_id
            app.sdk.calls = 1


# Each case: (what differs from a plain repeated listing, request body, extra headers).
SDK_CASES = {
    "cursor": (listing(cursor="abc"), {}),
    "body method differs from Mcp-Method": ({**listing(), "method": "tools/call", "params": {"name": "x", "_meta": META}}, {}),
    "no _meta envelope": ({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}, {}),
    "no params": ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, {}),
    "envelope version differs from header": (
        listing() | {"params": {"_meta": {**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}}, {}),
    "unsupported version in both": (
        listing() | {"params": {"_meta": {**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}},
        {"MCP-Protocol-Version": "2099-01-01"}),
    "notification": ({"jsonrpc": "2.0", "method": "tools/list", "params": {"_meta": META}}, {}),
    "not JSON": (b"{tools/list", {}),
    "a batch": ([listing()], {}),
    "wrong content type": (listing(), {"Content-Type": "text/plain"}),
    "cannot accept JSON": (listing(), {"Accept": "text/event-stream"}),
    "jsonrpc 1.0": (listing() | {"jsonrpc": "1.0"}, {}),
}


@pytest.mark.parametrize("case", SDK_CASES)
async def test_requests_the_sdk_must_judge_reach_it_unchanged(api_keys, case):
    body, extra = SDK_CASES[case]
    key = api_keys["support_agent"]
    async with running_app() as (app, http):
        await post(http, key, listing())  # the bytes for this visible set are now kept
        await post(http, key, listing())
        assert app.sdk.calls == 1
        armed = await post(http, key, body, **extra)
        assert app.sdk.calls == 2, f"{case}: answered without the SDK"
        forget_kept_lists(app)
        unarmed = await post(http, key, body, **extra)
        assert (armed.status_code, armed.content) == (unarmed.status_code, unarmed.content)


async def test_duplicated_routing_header_reaches_the_sdk(api_keys):
    key = api_keys["support_agent"]
    raw = json.dumps(listing()).encode()
    headers = [(name, value) for name, value in headers_for(key).items()] + [("Mcp-Method", "tools/list")]
    async with running_app() as (app, http):
        await post(http, key, listing())
        response = await http.post("/mcp", content=raw, headers=headers)
        assert app.sdk.calls == 2
        assert response.status_code == 400 and "appears more than once" in response.json()["error"]["message"]


async def test_permission_and_credential_changes_apply_to_the_next_listing(demo, api_keys):
    key = api_keys["support_agent"]
    support = await Group.objects.aget(name="support")
    grant = await Permission.objects.aget(codename="call_issue_refund")
    async with running_app() as (app, http):
        for _ in range(2):
            assert "issue_refund" in tool_names(await post(http, key, listing()))
        await sync_to_async(support.permissions.remove)(grant)
        for _ in range(2):  # the new visible set, once through the SDK, then from its kept bytes
            assert "issue_refund" not in tool_names(await post(http, key, listing()))
        assert app.sdk.calls == 2
        await sync_to_async(support.permissions.add)(grant)
        assert "issue_refund" in tool_names(await post(http, key, listing()))
        assert app.sdk.calls == 2  # the first set's bytes are still right

        api_key = await ApiKey.objects.aget(prefix=ApiKey.parse_prefix(key))
        await sync_to_async(api_key.revoke)()
        refused = await post(http, key, listing())
        assert refused.status_code == 401


async def test_deactivated_user_is_refused_on_the_next_listing(demo, api_keys):
    key = api_keys["analyst"]
    async with running_app() as (app, http):
        for _ in range(2):
            assert (await post(http, key, listing())).status_code == 200
        analyst = demo["analyst"]
        analyst.is_active = False
        await sync_to_async(analyst.save)()
        refused = await post(http, key, listing())
        assert refused.status_code == 401
        assert "invalid_token" in refused.headers["www-authenticate"]
