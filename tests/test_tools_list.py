"""2026-07-28 tools/list through the real ASGI app: always on the SDK's own path, with the tool list built once.

Every listing reaches the SDK (its checks and middleware) and runs its own Django unit of work
(credential re-checked, permissions loaded, visibility decided); only the list of the SDK's Tool
objects for a set of visible tools is built once and handed to the SDK again.
"""

import contextlib
import json
import threading

import anyio
import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, Permission
from django.core import signals
from django.core.asgi import get_asgi_application

from mcp_bridge.asgi import McpAsgiApp
from mcp_bridge.models import ApiKey
from mcp_bridge.server import get_server
from mcp_bridge.sites import McpSite

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


@pytest.fixture(autouse=True)
def _collector_left_alone(settings):
    """The demo freezes start-up objects when serving starts; a test process must keep collecting its garbage."""
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "FREEZE_GC_AT_STARTUP": False}


class SdkCounter:
    """Counts the requests the ASGI app hands to the SDK (through its choice of session manager)."""

    def __init__(self, app):
        self.calls = 0
        self.choose = app.session_manager_for
        app.session_manager_for = self.counted

    def counted(self, headers):
        self.calls += 1
        return self.choose(headers)


class RecordingMiddleware:
    """SDK server middleware that records the methods it sees pass."""

    def __init__(self):
        self.methods = []

    async def __call__(self, ctx, call_next):
        self.methods.append(ctx.method)
        return await call_next(ctx)


@contextlib.asynccontextmanager
async def running_app():
    """The project's ASGI app with its lifespan started; `app.sdk.calls` counts requests the SDK saw."""
    app = McpAsgiApp(get_asgi_application())
    to_app, app_receives = anyio.create_memory_object_stream(4)
    app_sends, from_app = anyio.create_memory_object_stream(4)
    async with to_app, app_receives, app_sends, from_app, anyio.create_task_group() as group:
        group.start_soon(app, {"type": "lifespan", "asgi": {"version": "3.0"}}, app_receives.receive, app_sends.send)
        await to_app.send({"type": "lifespan.startup"})
        assert (await from_app.receive())["type"] == "lifespan.startup.complete"
        app.sdk = SdkCounter(app)
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            yield app, http
        await to_app.send({"type": "lifespan.shutdown"})
        await from_app.receive()


@contextlib.contextmanager
def recorded_units_of_work():
    """Yield the list of threads Django's request_started was sent on (one per unit of work)."""
    threads = []

    def started(**kwargs):
        threads.append(threading.get_ident())

    signals.request_started.connect(started)
    try:
        yield threads
    finally:
        signals.request_started.disconnect(started)


def headers_for(key, method="tools/list", **extra):
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
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


async def test_every_listing_runs_the_sdk_path_and_its_own_unit_of_work(api_keys):
    key = api_keys["support_agent"]
    recorder = RecordingMiddleware()
    async with running_app() as (app, http):
        await post(http, key, listing())  # the credential is checked (a unit of work of its own) and remembered
        middleware = app.bridge.server.middleware
        # Just outside the bridge's own tools/list middleware: what reaches it has passed the SDK's
        # own (OpenTelemetry) and the bridge's others too.
        middleware.insert(middleware.index(app.bridge.handlers.keep_tool_lists), recorder)
        try:
            with recorded_units_of_work() as units:
                responses = [await post(http, key, listing(request_id)) for request_id in (1, "req-ü-2", 2**40)]
        finally:
            middleware.remove(recorder)
    assert app.sdk.calls == 4
    assert recorder.methods == ["tools/list"] * 3
    assert len(units) == 3 and threading.get_ident() not in units
    assert [response.json()["id"] for response in responses] == [1, "req-ü-2", 2**40]
    results = [response.json()["result"] for response in responses]
    assert results[0] == results[1] == results[2]
    assert {tool["name"] for tool in results[0]["tools"]} >= {"search_customers", "issue_refund"}


# Requests the SDK refuses before any handler runs: its checks apply to tools/list as to any method.
SDK_REFUSES = {
    "body method differs from Mcp-Method": (
        {**listing(), "method": "tools/call", "params": {"name": "x", "_meta": META}},
        {},
    ),
    "envelope version differs from header": (
        listing() | {"params": {"_meta": {**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}},
        {},
    ),
    "not JSON": (b"{tools/list", {}),
    "wrong content type": (listing(), {"Content-Type": "text/plain"}),
    "cannot accept JSON": (listing(), {"Accept": "text/event-stream"}),
    "jsonrpc 1.0": (listing() | {"jsonrpc": "1.0"}, {}),
}


@pytest.mark.parametrize("case", SDK_REFUSES)
async def test_the_sdk_judges_every_listing(api_keys, case):
    body, extra = SDK_REFUSES[case]
    key = api_keys["support_agent"]
    async with running_app() as (app, http):
        assert (await post(http, key, listing())).status_code == 200  # the list for this caller is built
        refused = await post(http, key, body, **extra)
    assert app.sdk.calls == 2
    assert refused.status_code >= 400 or "error" in refused.json(), f"{case}: {refused.status_code} {refused.text}"


async def test_callers_who_see_the_same_tools_share_one_list(demo):
    handlers = get_server().handlers
    names = frozenset({"get_customer", "search_customers"})
    kept = handlers.tool_list(names)
    assert [tool.name for tool in kept.tools] == ["search_customers", "get_customer"]  # the registry's order
    assert handlers.tool_list(frozenset(names)) is kept
    assert handlers.tool_list(names | {"get_order"}) is not kept


async def test_a_rebuilt_registry_gets_a_new_list():
    site = McpSite(name="rebuilt")

    @site.tool(description="Say hello to the caller; returns a greeting.", read_only=True)
    def hello(request, data):
        return {"greeting": "hello"}

    handlers = get_server(site).handlers
    before = handlers.tool_list(frozenset({"hello"}))

    @site.tool(description="Say goodbye to the caller; returns a farewell.", read_only=True)
    def goodbye(request, data):
        return {"farewell": "goodbye"}

    after = handlers.tool_list(frozenset({"hello", "goodbye"}))
    assert [tool.name for tool in before.tools] == ["hello"]
    assert [tool.name for tool in after.tools] == ["hello", "goodbye"]
    assert handlers.tool_list(frozenset({"hello"})) is not before  # built from the new registry


async def test_permission_and_credential_changes_apply_to_the_next_listing(demo, api_keys):
    key = api_keys["support_agent"]
    support = await Group.objects.aget(name="support")
    grant = await Permission.objects.aget(codename="call_issue_refund")
    async with running_app() as (app, http):
        for _ in range(2):
            assert "issue_refund" in tool_names(await post(http, key, listing()))
        await sync_to_async(support.permissions.remove)(grant)
        for _ in range(2):
            assert "issue_refund" not in tool_names(await post(http, key, listing()))
        await sync_to_async(support.permissions.add)(grant)
        assert "issue_refund" in tool_names(await post(http, key, listing()))

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
