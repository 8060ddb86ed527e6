"""Throttle classes: rates, fixed windows, scopes, per-tool classes, the one cache round trip, and their checks."""

import selectors
import socket
import threading

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from customers.models import Order, Refund
from mcp_bridge import throttling
from mcp_bridge.authentication import Principal
from mcp_bridge.cache import shared_cache
from mcp_bridge.checks import check_throttles
from mcp_bridge.permissions import access_generation
from mcp_bridge.requests import McpRequest
from mcp_bridge.sites import site
from mcp_bridge.throttling import (
    BaseThrottle,
    CredentialRateThrottle,
    SimpleRateThrottle,
    Throttled,
    ToolRateThrottle,
    parse_rate,
)
from mcp_bridge.tools import McpTool

from .conftest import Clock, mcp_client


@pytest.fixture
def rates(settings):
    """Set THROTTLE_RATES (and optionally THROTTLE_CLASSES) on an empty MCP cache."""

    def apply(rates, classes=None):
        extra = {} if classes is None else {"THROTTLE_CLASSES": classes}
        settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "THROTTLE_RATES": rates, **extra}
        shared_cache().clear()

    return apply


def make_tool(name, **attributes):
    return type("ExampleTool", (McpTool,), {"name": name, **attributes})()


def request_by(principal):
    return McpRequest(None, principal=principal)


def call(principal, tool):
    """Count and check one call as the server's unit of work does: counted in the generation's round trip."""
    request = request_by(principal)
    throttles = throttling.get_throttles(tool)
    _, counts = access_generation(throttling.counters(throttles, request, tool))
    throttling.check(throttles, request, tool, counts)


ALICE = Principal(kind="api_key", user_id=1, credential_id=10)
BOB = Principal(kind="api_key", user_id=1, credential_id=11)  # another key of the same user
GET_CUSTOMER, ISSUE_REFUND = make_tool("get_customer"), make_tool("issue_refund")


# -- rates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rate, parsed",
    [
        ("10/s", (10, 1)),
        ("10/sec", (10, 1)),
        ("10/second", (10, 1)),
        ("100/m", (100, 60)),
        ("100/min", (100, 60)),
        ("100/minute", (100, 60)),
        ("5/h", (5, 3600)),
        ("5/hour", (5, 3600)),
        ("1000/d", (1000, 86400)),
        ("1000/day", (1000, 86400)),
        (" 7 / MIN ", (7, 60)),
        (None, (None, None)),
    ],
)
def test_rates_in_every_form_drf_accepts(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize(
    "rate",
    [
        "lots",
        "10/week",
        "10/sausage",
        "10/",
        "/min",
        "ten/min",
        "1.5/min",
        "0/min",
        "-1/min",
        "10/min/h",
        600,
        ["10/min"],
    ],
)
def test_anything_else_is_an_error_that_names_the_forms(rate):
    message = (
        f"Invalid throttle rate {rate!r} for the scope 'issue_refund' in MCP_BRIDGE['THROTTLE_RATES']: use "
        "'<calls>/<period>' with a whole number of calls, at least 1, per s, sec, m, min, h, hour, d or day, "
        "e.g. '600/min', or None for no limit."
    )
    with pytest.raises(ImproperlyConfigured) as error:
        parse_rate(rate, "issue_refund")
    assert str(error.value) == message


def test_a_throttle_takes_its_rate_from_its_scope_or_its_own_rate(rates):
    rates({"credential": "3/hour"})
    assert (CredentialRateThrottle().num_requests, CredentialRateThrottle().duration) == (3, 3600)

    class Fixed(CredentialRateThrottle):
        rate = "2/s"

    assert (Fixed().num_requests, Fixed().duration) == (2, 1)

    class Unscoped(SimpleRateThrottle):
        pass

    with pytest.raises(ImproperlyConfigured, match="set either `.scope` or `.rate` for the 'Unscoped' throttle"):
        Unscoped()


def test_a_rate_setting_change_reaches_throttles_built_afterwards(rates):
    """THROTTLE_RATES is read when a throttle is built, not bound at import as DRF binds it."""
    rates({"credential": "3/hour"})
    assert CredentialRateThrottle().rate == "3/hour"
    rates({"credential": "4/day"})
    assert CredentialRateThrottle().rate == "4/day"


# -- windows, scopes and classes -------------------------------------------------------------------


def test_a_credential_has_a_budget_per_window(rates, clock):
    rates({"credential": "2/min"})
    call(ALICE, GET_CUSTOMER)
    call(ALICE, make_tool("search_customers"))
    with pytest.raises(Throttled) as refused:
        call(ALICE, GET_CUSTOMER)
    assert refused.value.wait == 40  # the window ends 40 s later
    assert refused.value.message == (
        "Rate limit reached: at most 2 tool calls per minute for this credential. Try again in 40 s, and batch work "
        "into fewer calls where a tool allows it."
    )
    call(BOB, GET_CUSTOMER)  # each credential has its own budget
    clock.now += 39.5
    with pytest.raises(Throttled) as refused:
        call(ALICE, GET_CUSTOMER)
    assert refused.value.wait == 1
    clock.now += 0.5
    call(ALICE, GET_CUSTOMER)  # a new window, a new budget


def test_calls_of_unknown_names_count_against_the_credential(rates, clock):
    rates({"credential": "1/min"})
    call(ALICE, None)
    with pytest.raises(Throttled):
        call(ALICE, GET_CUSTOMER)


def test_a_tool_rate_is_counted_apart_from_the_credential_rate(rates, clock):
    rates({"credential": "100/min", "issue_refund": "1/hour"})
    call(ALICE, ISSUE_REFUND)
    call(ALICE, GET_CUSTOMER)
    call(BOB, ISSUE_REFUND)
    clock.now += 30
    with pytest.raises(Throttled) as refused:
        call(ALICE, ISSUE_REFUND)
    assert refused.value.message == "Rate limit reached for issue_refund: at most 1 call per hour. Try again in 3550 s."
    assert refused.value.wait == 3550


def test_tools_of_one_throttle_scope_share_a_budget(rates, clock):
    rates({"refunds": "2/day"})
    partial = make_tool("refund_part", throttle_scope="refunds")
    full = make_tool("refund_all", throttle_scope="refunds")
    call(ALICE, partial)
    call(ALICE, full)
    with pytest.raises(Throttled) as refused:
        call(ALICE, partial)
    assert refused.value.message.startswith(
        "Rate limit reached for refund_part: at most 2 calls per day (shared by the tools of throttle scope 'refunds')."
    )
    call(ALICE, make_tool("refund_status"))  # its own scope, its name, has no rate


def test_of_two_refusals_the_longer_wait_is_reported(rates, clock):
    rates({"credential": "1/min", "issue_refund": "1/hour"})
    call(ALICE, ISSUE_REFUND)
    with pytest.raises(Throttled) as refused:
        call(ALICE, ISSUE_REFUND)
    assert refused.value.wait == 3580 and "issue_refund" in refused.value.message


def test_a_scope_without_a_rate_is_not_limited(rates, clock):
    rates({"credential": None})
    for _ in range(5):
        call(ALICE, ISSUE_REFUND)
    request = request_by(ALICE)
    assert throttling.counters(throttling.get_throttles(ISSUE_REFUND), request, ISSUE_REFUND) == []


def test_the_counters_a_call_counts_in(rates, clock):
    rates({"credential": "5/min", "issue_refund": "2/hour"})
    request = request_by(ALICE)
    assert throttling.counters(throttling.get_throttles(ISSUE_REFUND), request, ISSUE_REFUND) == [
        ("mcp_bridge:throttle:credential:api_key:10:16680", 61),
        ("mcp_bridge:throttle:issue_refund:api_key:10:278", 3601),
    ]


class RefuseRefunds(BaseThrottle):
    """A throttle that counts nothing in the cache and decides alone, as DRF's own throttles may."""

    def allow_request(self, request, tool):
        return tool is None or not tool.name.startswith("issue_refund")


def test_a_tools_throttle_classes_replace_the_settings(rates, clock):
    rates({"credential": "1/min", "issue_refund": "1/min"})
    unthrottled = make_tool("issue_refund", throttle_classes=[])
    for _ in range(3):
        call(ALICE, unthrottled)
    per_tool_only = make_tool("issue_refund", throttle_classes=[ToolRateThrottle])
    call(BOB, GET_CUSTOMER)  # spends Bob's whole credential budget
    call(BOB, per_tool_only)
    with pytest.raises(Throttled, match="for issue_refund: at most 1 call per minute"):
        call(BOB, per_tool_only)
    with pytest.raises(Throttled) as refused:
        call(BOB, make_tool("issue_refund_twice", throttle_classes=[RefuseRefunds]))
    assert refused.value.message == "Rate limit reached for issue_refund_twice. Try again later."
    assert refused.value.wait is None


def test_the_setting_lists_the_throttle_classes(rates, clock):
    rates({"credential": "1/min"}, classes=["tests.test_throttling.RefuseRefunds"])
    for _ in range(3):
        call(ALICE, GET_CUSTOMER)  # no CredentialRateThrottle any more
    with pytest.raises(Throttled):
        call(ALICE, ISSUE_REFUND)


# -- one cache round trip ---------------------------------------------------------------------------


class RoundTrips:
    """A TCP proxy in front of Redis that counts round trips: each time the client speaks after an answer."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.count = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.peers = {}  # each socket: the socket at the other end of the proxy
        self.clients = set()
        self.client_spoke_last = set()
        self.stopping = False
        self.thread = threading.Thread(target=self.serve)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping = True
        self.thread.join()
        for sock in [self.listener, *self.peers]:
            sock.close()
        self.selector.close()

    def serve(self):
        while not self.stopping:
            for key, _ in self.selector.select(timeout=0.05):
                if key.fileobj is self.listener:
                    client, _ = self.listener.accept()
                    server = socket.create_connection(self.upstream)
                    self.peers.update({client: server, server: client})
                    self.clients.add(client)
                    self.selector.register(client, selectors.EVENT_READ)
                    self.selector.register(server, selectors.EVENT_READ)
                    continue
                sock = key.fileobj
                data = sock.recv(65536)
                if not data:  # one end hung up: so does the proxy, to both
                    for end in (sock, self.peers.pop(sock)):
                        self.selector.unregister(end)
                        self.peers.pop(end, None)
                        end.close()
                    continue
                if sock in self.clients:
                    if sock not in self.client_spoke_last:
                        self.count += 1
                        self.client_spoke_last.add(sock)
                else:
                    self.client_spoke_last.discard(self.peers[sock])
                self.peers[sock].sendall(data)


@pytest.fixture
def redis_cache(settings):
    """The MCP cache on Redis (database 4), reached through a proxy that counts round trips."""
    with RoundTrips(("127.0.0.1", 6379)) as round_trips:
        settings.CACHES = {
            **settings.CACHES,
            "mcp": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{round_trips.port}/4",
            },
        }
        settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "mcp"}
        shared_cache().clear()
        yield round_trips
        shared_cache().clear()


def test_a_calls_counters_are_counted_in_the_round_trip_that_reads_the_generation(redis_cache, rates, clock):
    rates({"credential": "2/min", "issue_refund": "1/hour"})
    call(ALICE, GET_CUSTOMER)  # connects, and sets the first generation
    redis_cache.count = 0
    call(ALICE, ISSUE_REFUND)  # two counters and the generation
    assert redis_cache.count == 1
    call(BOB, ISSUE_REFUND)
    with pytest.raises(Throttled, match="for issue_refund"):
        call(BOB, ISSUE_REFUND)
    with pytest.raises(Throttled, match="for this credential"):
        call(ALICE, GET_CUSTOMER)


def test_a_cache_other_than_redis_counts_with_djangos_cache_api(settings, tmp_path, rates, clock):
    settings.CACHES = {
        **settings.CACHES,
        "mcp": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "mcp"}
    rates({"credential": "1/s"})
    call(ALICE, GET_CUSTOMER)
    clock.now += 1
    call(ALICE, GET_CUSTOMER)
    with pytest.raises(Throttled, match="at most 1 tool call per second"):
        call(ALICE, GET_CUSTOMER)


# -- end to end --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_call_over_the_limit_is_an_error_result_and_writes_nothing(demo, rates, clock):
    from asgiref.sync import sync_to_async

    await sync_to_async(rates)({"credential": "100/min", "issue_refund": "1/min"})
    order = await Order.objects.filter(status="paid", customer__is_internal=False).afirst()
    async with mcp_client(demo["support_agent"]) as client:
        first = await client.call_tool("issue_refund", {"order_id": order.pk, "amount": 1, "reason": "goodwill"})
        assert not first.is_error
        second = await client.call_tool("issue_refund", {"order_id": order.pk, "amount": 1, "reason": "goodwill"})
        assert second.is_error
        assert second.content[0].text == (
            "Rate limit reached for issue_refund: at most 1 call per minute. Try again in 40 s."
        )
        other = await client.call_tool("get_order", {"id": order.pk})
        assert not other.is_error
    assert await sync_to_async(Refund.objects.filter(order=order).count)() == 1


@pytest.mark.anyio
async def test_calls_of_hidden_tools_count_against_the_credential(demo, rates, clock):
    """Probing for tools the caller may not see spends the same budget as real calls."""
    from asgiref.sync import sync_to_async
    from mcp.shared.exceptions import MCPError

    await sync_to_async(rates)({"credential": "2/min"})
    async with mcp_client(demo["analyst"]) as client:
        for _ in range(2):
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("issue_refund", {"order_id": 1, "amount": 1, "reason": "probe"})
        limited = await client.call_tool("search_customers", {})
        assert limited.is_error and "Rate limit reached: at most 2 tool calls per minute" in limited.content[0].text


def test_one_cache_instance_serves_every_thread():
    """Django's `cache` is a different backend object per thread and per asyncio task (with RedisCache,
    a new connection each time); mcp_bridge's counters and permission sets use one per process."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        seen = set(pool.map(lambda _: id(shared_cache()), range(16)))
    assert seen == {id(shared_cache())}


# -- system checks ----------------------------------------------------------------------------------


HINT_RATE = "Use '<calls>/<period>' with a period of s, sec, m, min, h, hour, d or day, e.g. '600/min', or None."
HINT_CLASSES = "List subclasses of mcp_bridge.throttling.BaseThrottle, such as CredentialRateThrottle"


def test_valid_throttle_settings_pass(rates):
    rates({"credential": "1200/min", "issue_refund": "30/min", "delete_customer": None})
    assert check_throttles() == []


def test_an_invalid_rate_is_e012(rates):
    rates({"credential": "1200/minutes", "issue_refund": "30/min"})
    assert check_throttles() == [
        checks.Error(
            "Invalid throttle rate '1200/minutes' for the scope 'credential' in MCP_BRIDGE['THROTTLE_RATES']: use "
            "'<calls>/<period>' with a whole number of calls, at least 1, per s, sec, m, min, h, hour, d or day, e.g. "
            "'600/min', or None for no limit.",
            hint=HINT_RATE,
            id="mcp_bridge.E012",
        )
    ]


def test_rates_that_are_not_a_dict_are_e012(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "THROTTLE_RATES": [("credential", "10/min")]}
    assert check_throttles() == [
        checks.Error(
            "MCP_BRIDGE['THROTTLE_RATES'] must be a dict of scope: rate, not list.",
            hint="For example {'credential': '1200/min', 'issue_refund': '30/min'}.",
            id="mcp_bridge.E012",
        )
    ]


def test_a_throttle_class_setting_that_is_not_a_throttle_is_e013(rates):
    rates(
        {"credential": "10/min"},
        classes=[
            "mcp_bridge.throttling.CredentialRateThrottle",
            "mcp_bridge.throttling.CredentailRateThrottle",
            "mcp_bridge.throttling.parse_rate",
            Clock,
        ],
    )
    errors = check_throttles()
    assert [error.id for error in errors] == ["mcp_bridge.E013"] * 3
    assert errors[0].msg.startswith(
        "MCP_BRIDGE['THROTTLE_CLASSES'][1] is 'mcp_bridge.throttling.CredentailRateThrottle', which cannot be "
        "imported: "
    )
    assert errors[1:] == [
        checks.Error(
            "MCP_BRIDGE['THROTTLE_CLASSES'][2] is 'mcp_bridge.throttling.parse_rate', which is not a throttle class.",
            hint=HINT_CLASSES + " (or their import paths).",
            id="mcp_bridge.E013",
        ),
        checks.Error(
            f"MCP_BRIDGE['THROTTLE_CLASSES'][3] is {Clock!r}, which is not a throttle class.",
            hint=HINT_CLASSES + " (or their import paths).",
            id="mcp_bridge.E013",
        ),
    ]
    rates({"credential": "10/min"}, classes="mcp_bridge.throttling.CredentialRateThrottle")
    assert check_throttles() == [
        checks.Error(
            "MCP_BRIDGE['THROTTLE_CLASSES'] must be a list or tuple, not str.",
            hint=HINT_CLASSES + " (or their import paths).",
            id="mcp_bridge.E013",
        )
    ]


def test_a_tools_throttle_classes_that_are_not_throttles_are_e013(rates, monkeypatch):
    rates({"credential": "10/min"})
    tool = site.registry.tools["issue_refund"]
    monkeypatch.setattr(tool, "throttle_classes", [ToolRateThrottle, "mcp_bridge.throttling.ToolRateThrottle"])
    assert check_throttles() == [
        checks.Error(
            "The value of 'throttle_classes[1]' of the tool 'issue_refund' is 'mcp_bridge.throttling.ToolRateThrottle', "
            "which is not a throttle class.",
            hint=HINT_CLASSES + " (the classes themselves, not import paths).",
            obj=site.registry.tool_owners["issue_refund"],
            id="mcp_bridge.E013",
        )
    ]


def test_a_rate_no_throttle_reads_is_w013(rates, monkeypatch):
    rates({"credential": "10/min", "issue_refnd": "30/min", "nightly": "1/day"})
    assert check_throttles() == [
        checks.Warning(
            "MCP_BRIDGE['THROTTLE_RATES'] has a rate for the scope 'issue_refnd', which no throttle reads, so it "
            "limits nothing.",
            hint="Did you mean 'issue_refund'?",
            id="mcp_bridge.W013",
        ),
        checks.Warning(
            "MCP_BRIDGE['THROTTLE_RATES'] has a rate for the scope 'nightly', which no throttle reads, so it limits "
            "nothing.",
            hint="A tool's scope is its throttle_scope, by default its name, and is read by "
            f"ToolRateThrottle; the scopes read now are: {', '.join(sorted(['credential', 'session', *site.registry.tools]))}.",
            id="mcp_bridge.W013",
        ),
    ]
    monkeypatch.setattr(site.registry.tools["issue_refund"], "throttle_scope", "nightly")
    assert [warning.msg.split("'")[3] for warning in check_throttles()] == ["issue_refnd"]


def test_a_tool_rate_is_w013_when_the_tools_classes_do_not_read_it(rates, monkeypatch):
    rates({"credential": "10/min", "issue_refund": "30/min"}, classes=["mcp_bridge.throttling.CredentialRateThrottle"])
    assert [warning.id for warning in check_throttles()] == ["mcp_bridge.W013"]
    monkeypatch.setattr(site.registry.tools["issue_refund"], "throttle_classes", [ToolRateThrottle])
    rates({"issue_refund": "30/min"}, classes=["mcp_bridge.throttling.ToolRateThrottle"])
    assert check_throttles() == []


def test_the_throttle_checks_run_with_manage_py_check(rates):
    rates({"credential": "ten/min"})
    assert "mcp_bridge.E012" in [message.id for message in checks.run_checks(tags=["mcp_bridge"])]
