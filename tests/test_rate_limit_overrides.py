"""Rate limits across processes: exact counts on a shared Redis, per-session limits, and admin overrides.

Two uvicorn processes serve the test database and share Redis database 15 (the test process uses it
too, so what the admin saves reaches them as it would in production). Each test counts calls to the
exact limit and one past it, over the wire, alternating between the two processes.
"""

import time

import httpx2
import pytest
from django.db import connection
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from mcp_bridge import throttling
from mcp_bridge.authentication import local_principal
from mcp_bridge.cache import shared_cache
from mcp_bridge.models import ApiKey, Tool, ToolRateLimit
from mcp_bridge.permissions import access_generation
from mcp_bridge.requests import McpRequest
from mcp_bridge.sites import site

from .servers import uvicorn_server
from .test_http import INITIALIZE, legacy_headers, modern_headers, modern_request, rpc_messages

pytestmark = pytest.mark.subprocess

REDIS_URL = "redis://127.0.0.1:6379/13"  # this file's own Redis database (CI gives the suite 14 and 15)
SERVER_ENV = {"REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "tests.rate_limit_settings"}


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker):
    """Two server processes on the test database, sharing Redis database 15."""
    with django_db_blocker.unblock(), uvicorn_server(SERVER_ENV) as first, uvicorn_server(SERVER_ENV) as second:
        yield first, second


@pytest.fixture
def shared_redis(settings):
    """This process on the servers' Redis too, emptied: counters of an earlier run (same ids) are gone."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    shared_cache().clear()
    throttling.tool_rate_overrides.clear()
    # Hourly windows: do not start within a minute of a new one, or a count would restart mid-test.
    seconds_left = 3600 - time.time() % 3600
    if seconds_left < 60:
        time.sleep(seconds_left + 0.5)
    yield
    shared_cache().clear()


@pytest.fixture
def agent(shared_redis, demo, servers):
    """The support agent's API key, a visible customer's id, an HTTP client and the two servers."""
    key = ApiKey.issue(demo["support_agent"], "test key (rate limits)")[1]
    customer = Customer.objects.filter(is_internal=False).order_by("pk").first()
    with httpx2.Client(timeout=30) as http:
        yield Caller(http, key, servers, customer.pk)


class Caller:
    def __init__(self, http, key, servers, customer_id):
        self.http, self.key, self.servers, self.customer_id = http, key, servers, customer_id
        self.next_id = 0

    def call(self, server, tool, arguments=None, session=None):
        """Call *tool* on server 0 or 1, stateless (2026-07-28) or in *session*; return (is_error, text)."""
        self.next_id += 1
        arguments = {"id": self.customer_id} if arguments is None and tool == "get_customer" else arguments or {}
        message = {"name": tool, "arguments": arguments}
        if session is None:
            body = modern_request("tools/call", message, self.next_id)
            headers = modern_headers(self.key, "tools/call", **{"Mcp-Name": tool})
        else:
            body = {"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call", "params": message}
            headers = legacy_headers(self.key, session)
        response = self.http.post(f"{self.servers[server]}/mcp", json=body, headers=headers)
        (answer,) = [m for m in rpc_messages(response) if m.get("id") == self.next_id]
        assert "error" not in answer, answer
        return bool(answer["result"].get("isError")), answer["result"]["content"][0]["text"]

    def calls(self, count, tool, **kwargs):
        """Make *count* calls alternating between the servers; return the texts of the refused ones, in order."""
        refused = []
        for index in range(count):
            is_error, text = self.call(index % 2, tool, **kwargs)
            if is_error:
                refused.append((index + 1, text))
        return refused

    def open_session(self, server):
        """Open a handshake-era (2025-11-25) session on *server*; return its id."""
        opened = self.http.post(f"{self.servers[server]}/mcp", headers=legacy_headers(self.key), json=INITIALIZE)
        assert opened.status_code == 200, opened.text
        session = opened.headers["mcp-session-id"]
        initialized = self.http.post(
            f"{self.servers[server]}/mcp",
            headers=legacy_headers(self.key, session),
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        )
        assert initialized.status_code == 202
        return session


def admin_client(demo):
    client = DjangoClient()
    client.force_login(demo["admin"])
    return client


def set_override(demo, tool_name, rate="", session_rate=""):
    """Add or change a tool's rate limit through the Django admin's forms, as an admin would."""
    client = admin_client(demo)
    tool = Tool.objects.get(name=tool_name)
    existing = ToolRateLimit.objects.filter(tool=tool).first()
    url = (
        "/admin/mcp_bridge/toolratelimit/add/"
        if existing is None
        else f"/admin/mcp_bridge/toolratelimit/{existing.pk}/change/"
    )
    response = client.post(url, {"tool": tool.pk, "rate": rate, "session_rate": session_rate})
    assert response.status_code == 302, response.content.decode()[:2000]


def delete_override(demo, tool_name):
    limit = ToolRateLimit.objects.get(tool__name=tool_name)
    response = admin_client(demo).post(f"/admin/mcp_bridge/toolratelimit/{limit.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302


# -- exact counts across two processes ---------------------------------------------------------------------


def test_a_tool_limit_trips_exactly_at_its_count_across_two_processes(agent):
    """get_customer: 5/hour. Calls alternate between the servers; the sixth and seventh are refused."""
    refused = agent.calls(7, "get_customer")
    assert [number for number, _ in refused] == [6, 7]
    assert refused[0][1].startswith("Rate limit reached for get_customer: at most 5 calls per hour. Try again in")
    assert agent.call(0, "search_customers")[0] is False  # another tool has its own budget


def test_a_session_limit_trips_exactly_at_its_count_and_each_session_has_its_own(agent):
    """session: 6/hour, counted per Mcp-Session-Id: two sessions of one key, and stateless calls, apart."""
    first, second = agent.open_session(0), agent.open_session(1)
    for number in range(1, 7):
        is_error, text = agent.call(0, "search_customers", session=first)
        assert not is_error, (number, text)
    is_error, text = agent.call(0, "search_customers", session=first)
    assert is_error
    assert text.startswith("Rate limit reached: at most 6 tool calls per hour in this session. Try again in")
    # The same key's other session, on the other process, has its whole budget.
    outcomes = [agent.call(1, "search_orders", session=second)[0] for _ in range(7)]
    assert outcomes == [False] * 6 + [True]
    # A 2026-07-28 call has no session: the session rate does not apply to it.
    assert agent.calls(8, "search_customers") == []


# -- overrides set in the admin ----------------------------------------------------------------------------


def test_an_admin_override_applies_on_the_next_call_in_every_process(agent, demo):
    assert agent.calls(2, "get_customer") == []  # 2 of the settings' 5/hour; both processes read the overrides
    set_override(demo, "get_customer", rate="2/hour")  # saved in this process
    # The next call, on either process, is the third of the hour: over the new limit at once.
    is_error, text = agent.call(1, "get_customer")
    assert is_error and text.startswith("Rate limit reached for get_customer: at most 2 calls per hour.")
    assert agent.call(0, "get_customer")[0] is True

    set_override(demo, "get_customer", rate="6/hour")  # calls 3 and 4 were refused but counted: 4 of 6
    assert [n for n, _ in agent.calls(3, "get_customer")] == [3]

    # A rate per another period counts in a window of its own, from the first call after the change.
    seconds_left = 60 - time.time() % 60
    if seconds_left < 10:
        time.sleep(seconds_left + 0.5)
    set_override(demo, "get_customer", rate="3/minute")
    refused = agent.calls(4, "get_customer")
    assert [n for n, _ in refused] == [4]
    assert refused[0][1].startswith("Rate limit reached for get_customer: at most 3 calls per minute.")

    # An empty rate: no limit for this tool.
    set_override(demo, "get_customer", rate="")
    assert agent.calls(8, "get_customer") == []

    # Deleted: the settings' 5/hour is back, against this hour's count (7 calls before the empty rate).
    delete_override(demo, "get_customer")
    is_error, text = agent.call(1, "get_customer")
    assert is_error and "at most 5 calls per hour" in text


def test_a_session_rate_set_in_the_admin_limits_each_session_of_a_tool(agent, demo):
    set_override(demo, "search_orders", session_rate="2/hour")
    first, second = agent.open_session(0), agent.open_session(1)
    assert [agent.call(0, "search_orders", session=first)[0] for _ in range(3)] == [False, False, True]
    is_error, text = agent.call(0, "search_orders", session=first)
    assert text.startswith("Rate limit reached for search_orders: at most 2 calls per hour in this session.")
    assert agent.call(0, "search_customers", session=first)[0] is False  # other tools of the session: not limited
    assert [agent.call(1, "search_orders", session=second)[0] for _ in range(3)] == [False, False, True]
    assert agent.calls(5, "search_orders") == []  # stateless calls have no session
    delete_override(demo, "search_orders")
    assert agent.call(1, "search_orders", session=second)[0] is False


def test_a_rate_that_does_not_parse_is_refused_in_the_admin(shared_redis, demo):
    client = admin_client(demo)
    tool = Tool.objects.get(name="get_customer")
    response = client.post(
        "/admin/mcp_bridge/toolratelimit/add/", {"tool": tool.pk, "rate": "ten per minute", "session_rate": "0/hour"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "&#x27;ten per minute&#x27; is not a rate: use &#x27;&lt;calls&gt;/&lt;period&gt;&#x27;" in page
    assert "&#x27;0/hour&#x27; is not a rate" in page
    assert not ToolRateLimit.objects.exists()


def test_a_bad_stored_rate_is_logged_and_ignored(agent, demo, caplog):
    """Written around the admin (the shell, a data migration): calls go on at the settings' rate."""
    ToolRateLimit.objects.create(tool=Tool.objects.get(name="get_customer"), rate="lots", session_rate="1/fortnight")
    refused = agent.calls(6, "get_customer")
    assert [n for n, _ in refused] == [6]
    assert "at most 5 calls per hour" in refused[0][1]
    # In this process, too: logged once per generation, not once per call.
    with caplog.at_level("WARNING", logger="mcp_bridge.throttling"):
        assert throttling.tool_rate_overrides.load()["get_customer"] == (throttling.DEFAULT, None)
    assert "Ignoring the rate of the rate limit of the tool 'get_customer': 'lots' is not a rate" in caplog.text
    assert "Ignoring the session_rate" in caplog.text


def test_the_override_costs_no_query_once_read(shared_redis, demo):
    """The warm path: the overrides are read once per access generation, then every call reads none."""
    tool = site.registry.tools["get_customer"]
    ToolRateLimit.objects.create(tool=Tool.objects.get(name="get_customer"), rate="2/hour")
    request = McpRequest(None, principal=local_principal(demo["support_agent"]))

    def call():
        throttles = throttling.get_throttles(tool)
        _, counts = access_generation(throttling.counters(throttles, request, tool))
        throttling.check(throttles, request, tool, counts)

    with CaptureQueriesContext(connection) as first:
        call()
    assert len(first) == 1  # the overrides of this generation
    with CaptureQueriesContext(connection) as warm:
        call()
    assert len(warm) == 0
    with pytest.raises(throttling.Throttled, match="at most 2 calls per hour"):
        call()


def test_a_bad_stored_rate_is_e341_when_checks_read_the_database(shared_redis, demo):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from mcp_bridge.checks import check_tool_rate_limits

    assert check_tool_rate_limits(databases=["default"]) == []
    limit = ToolRateLimit.objects.create(tool=Tool.objects.get(name="get_customer"), rate="10/week")
    assert check_tool_rate_limits() == []  # without databases: no query
    (error,) = check_tool_rate_limits(databases=["default"])
    assert error.id == "mcp_bridge.E341" and error.obj == limit
    assert error.msg.startswith("The rate of the rate limit of the tool 'get_customer' is invalid: '10/week' is not")
    with pytest.raises(SystemCheckError, match="mcp_bridge.E341"):
        call_command("check", databases=["default"])


@pytest.mark.parametrize(
    "headers, stateless, session",
    [
        ({"mcp-session-id": "abc123", "mcp-protocol-version": "2025-11-25"}, False, "abc123"),
        ({"mcp-session-id": "abc123"}, False, "abc123"),  # 2025-03-26 clients may omit the version
        ({"mcp-session-id": "abc123", "mcp-protocol-version": "2026-07-28"}, False, None),  # stateless era
        ({"mcp-session-id": "abc123", "mcp-protocol-version": "2025-11-25"}, True, None),  # STATELESS_HTTP
        ({"mcp-protocol-version": "2025-11-25"}, False, None),
    ],
)
def test_which_calls_belong_to_a_session(settings, headers, stateless, session):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "STATELESS_HTTP": stateless}
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "query_string": b"",
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
    }
    assert throttling.handshake_session_id(McpRequest(None, scope=scope)) == session
