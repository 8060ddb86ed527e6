"""Rate limits per credential and per tool."""

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from customers.models import Order, Refund
from mcp_bridge.authentication import Principal, local_principal
from mcp_bridge.permissions import access_generation
from mcp_bridge.throttling import RateLimited, enforce, limits_for, parse_rate

from .conftest import mcp_client


@pytest.fixture
def limits(settings):
    def apply(call_rate=None, tool_rates=None):
        settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "THROTTLE_RATES": {"credential": call_rate, **(tool_rates or {})}}
        cache.clear()

    return apply


def check_rate_limits(principal, tool_name, now):
    """Count one call as a tool call's unit of work does: in the round trip that reads the access generation."""
    limits = limits_for(principal, tool_name, now)
    _, counts = access_generation([(limit.counter, limit.timeout) for limit in limits])
    enforce(limits, counts, now)


def test_parse_rate():
    assert parse_rate("600/min") == (600, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate(None) is None
    with pytest.raises(ImproperlyConfigured, match="'<count>/<s|min|hour|day>'"):
        parse_rate("lots")


def test_call_rate_counts_per_credential_and_window(limits):
    limits(call_rate="2/min")
    alice, bob = Principal(kind="api_key", user_id=1, credential_id=10), Principal(kind="api_key", user_id=1, credential_id=11)
    now = 1_000_040.0  # 20 s into a minute window (1_000_020 is a multiple of 60)
    check_rate_limits(alice, "get_customer", now)
    check_rate_limits(alice, "search_customers", now)
    with pytest.raises(RateLimited) as refused:
        check_rate_limits(alice, "get_customer", now)
    assert refused.value.retry_after == 41
    check_rate_limits(bob, "get_customer", now)  # another key of the same user has its own budget
    check_rate_limits(alice, "get_customer", now + 60)  # the next window starts afresh


def test_tool_rate_is_separate_from_the_call_rate(limits):
    limits(call_rate="100/min", tool_rates={"issue_refund": "1/hour"})
    principal = Principal(kind="local", user_id=7)
    check_rate_limits(principal, "issue_refund", 10.0)
    check_rate_limits(principal, "get_customer", 10.0)
    with pytest.raises(RateLimited, match="at most 1 calls per hour"):
        check_rate_limits(principal, "issue_refund", 11.0)


@pytest.mark.anyio
async def test_limited_call_is_an_error_result_and_writes_nothing(demo, limits):
    from asgiref.sync import sync_to_async

    limits(call_rate="100/min", tool_rates={"issue_refund": "1/min"})
    order = await Order.objects.filter(status="paid", customer__is_internal=False).afirst()
    async with mcp_client(demo["support_agent"]) as client:
        first = await client.call_tool("issue_refund", {"order_id": order.pk, "amount": 1, "reason": "goodwill"})
        assert not first.is_error
        second = await client.call_tool("issue_refund", {"order_id": order.pk, "amount": 1, "reason": "goodwill"})
        assert second.is_error and "Rate limit reached for issue_refund" in second.content[0].text
        other = await client.call_tool("get_order", {"id": order.pk})
        assert not other.is_error
    assert await sync_to_async(Refund.objects.filter(order=order).count)() == 1
    assert local_principal(demo["support_agent"]).session_identity == f"local:{demo['support_agent'].pk}"


@pytest.mark.anyio
async def test_calls_of_hidden_tools_count_against_the_call_rate(demo, limits):
    """Probing for tools the caller may not see spends the same budget as real calls."""
    from mcp.shared.exceptions import MCPError

    limits(call_rate="2/min")
    async with mcp_client(demo["analyst"]) as client:
        for _ in range(2):
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("issue_refund", {"order_id": 1, "amount": 1, "reason": "probe"})
        limited = await client.call_tool("search_customers", {})
        assert limited.is_error and "Rate limit reached" in limited.content[0].text


def test_one_cache_instance_serves_every_thread():
    """Django's `cache` is a different backend object per thread and per asyncio task (with RedisCache,
    a new connection each time); mcp_bridge's counters and permission sets use one per process."""
    from concurrent.futures import ThreadPoolExecutor

    from mcp_bridge.cache import shared_cache

    with ThreadPoolExecutor(4) as pool:
        seen = set(pool.map(lambda _: id(shared_cache()), range(16)))
    assert seen == {id(shared_cache())}
