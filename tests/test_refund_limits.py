"""The demo's 500 EUR refund rule as the business means it: a user's refunds add up, per order and per day.

Without the large-refund permission a user refunds at most 500 EUR in total on one order, and at most
500 EUR in total per day (the project's TIME_ZONE day) over all orders. Each test tries to break the
rule: by splitting a refund, by spreading refunds over orders, and by sending refunds at the same time
to a real server process (on PostgreSQL, rows are locked; on SQLite, writes serialize).
"""

import asyncio
import datetime
from decimal import Decimal

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from customers.limits import REFUND_LIMITS, LimitExceeded, RefundsPerDay, RefundsPerOrder, lock_user
from customers.models import Order, Refund
from mcp_bridge.models import ApiKey

from .conftest import mcp_client
from .test_http import modern_headers, modern_request, orm, rpc_messages

pytestmark = pytest.mark.anyio

LIMIT = Decimal("500.00")


@sync_to_async
def orders(count, total="1000.00"):
    """*count* paid orders of visible customers, each with *total* EUR and nothing refunded yet."""
    chosen = list(Order.objects.filter(customer__is_internal=False).order_by("pk")[:count])
    for order in chosen:
        order.status, order.total, order.refunded_total = Order.Status.PAID, Decimal(total), Decimal("0.00")
        order.save()
    return chosen


@sync_to_async
def refunded(user, order=None):
    """What *user* has refunded in all (on *order*, if given), from the database."""
    rows = Refund.objects.filter(created_by=user)
    if order is not None:
        rows = rows.filter(order=order)
    return sum((refund.amount for refund in rows), Decimal("0.00"))


@sync_to_async
def grant_large_refunds(user):
    user.user_permissions.add(Permission.objects.get(codename="issue_large_refund"))


@sync_to_async
def second_support_agent():
    user = get_user_model().objects.create_user("support_agent_2", password="unused-in-tests")
    user.groups.add(Group.objects.get(name="support"))
    return user


async def refund(client, order, amount):
    return await client.call_tool("issue_refund", {"order_id": order.pk, "amount": str(amount), "reason": "goodwill"})


def text(result):
    return result.content[0].text


# -- one order -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_splitting_a_refund_does_not_dodge_the_limit_on_an_order(demo, mode):
    """Six refunds of 100 EUR on one order: the sixth is refused, and nothing of it is written."""
    (order,) = await orders(1)
    agent = demo["support_agent"]
    async with mcp_client(agent, mode) as client:
        for _ in range(4):
            result = await refund(client, order, 100)
            assert not result.is_error, text(result)
        over = await refund(client, order, 150)  # 400 + 150 > 500: says what is left
        assert over.is_error
        assert "You have refunded 400.00 EUR on order" in text(over)
        assert "You can refund at most 100.00 EUR more on order" in text(over)
        assert "ask a supervisor" in text(over) and "Can issue refunds over 500 EUR" in text(over)
        fifth = await refund(client, order, 100)
        assert not fifth.is_error, text(fifth)
        sixth = await refund(client, order, 100)
        assert sixth.is_error
        assert f"You can refund nothing more on order {order.pk}" in text(sixth)
        smallest = await refund(client, order, "0.01")
        assert smallest.is_error
    assert await refunded(agent, order) == LIMIT
    await sync_to_async(order.refresh_from_db)()
    assert order.refunded_total == LIMIT  # the refused refunds changed nothing on the order


async def test_the_per_order_total_is_per_user(demo):
    """Another agent's refunds on the same order do not spend this agent's budget, nor the other way round."""
    (order,) = await orders(1)
    other = await second_support_agent()
    async with mcp_client(demo["support_agent"]) as client:
        assert not (await refund(client, order, 400)).is_error
    async with mcp_client(other) as client:
        result = await refund(client, order, 500)
        assert not result.is_error, text(result)
        assert (await refund(client, order, 1)).is_error
    async with mcp_client(demo["support_agent"]) as client:
        assert not (await refund(client, order, 100)).is_error
    assert await refunded(demo["support_agent"], order) == LIMIT
    assert await refunded(other, order) == LIMIT


# -- one day ---------------------------------------------------------------------------------------------


async def test_spreading_refunds_over_orders_does_not_dodge_the_daily_limit(demo):
    first, second, third = await orders(3)
    agent = demo["support_agent"]
    async with mcp_client(agent) as client:
        assert not (await refund(client, first, 300)).is_error
        assert not (await refund(client, second, 150)).is_error
        over = await refund(client, third, 100)  # nothing refunded on this order yet, but 450 today
        assert over.is_error
        assert "You have refunded 450.00 EUR today (UTC day)" in text(over)
        assert "You can refund at most 50.00 EUR more today" in text(over)
        assert "at most 500.00 EUR per day in total" in text(over)
        assert not (await refund(client, third, 50)).is_error
        assert (await refund(client, first, "0.01")).is_error
    assert await refunded(agent) == LIMIT


async def test_refunds_of_an_earlier_day_do_not_count_today(demo):
    first, second = await orders(2)
    agent = demo["support_agent"]
    yesterday = timezone.now() - datetime.timedelta(days=1)
    await sync_to_async(Refund.objects.create)(
        order=first, amount=LIMIT, reason="goodwill", created_by=agent, created=yesterday
    )
    async with mcp_client(agent) as client:
        # Yesterday's 500 count on the order (a per-order total has no day), not on today.
        on_first = await refund(client, first, 1)
        assert on_first.is_error and f"on order {first.pk}" in text(on_first)
        result = await refund(client, second, 500)
        assert not result.is_error, text(result)


def test_a_day_is_a_calendar_day_of_the_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    start, end = RefundsPerDay.day_bounds(datetime.date(2026, 3, 29))  # the day clocks go forward: 23 hours
    assert start.isoformat() == "2026-03-29T00:00:00+01:00"
    assert end.isoformat() == "2026-03-30T00:00:00+02:00"


# -- the permission --------------------------------------------------------------------------------------


async def test_the_large_refund_permission_lifts_both_totals(demo):
    first, second = await orders(2)
    agent = demo["support_agent"]
    await grant_large_refunds(agent)
    async with mcp_client(agent) as client:
        for _ in range(6):
            result = await refund(client, first, 100)
            assert not result.is_error, text(result)
        result = await refund(client, second, 700)
        assert not result.is_error, text(result)
    assert await refunded(agent) == Decimal("1300.00")


def test_a_limit_is_a_reusable_rule(demo):
    """The rule object on its own: its limit and permission are parameters, and its refusal carries numbers."""
    order = Order.objects.filter(customer__is_internal=False).order_by("pk").first()
    agent = demo["support_agent"]
    Refund.objects.create(order=order, amount=Decimal("70.00"), reason="goodwill", created_by=agent)
    strict = RefundsPerOrder(limit="100", exempt_permission="customers.issue_large_refund")
    strict.check(agent, Decimal("30.00"), order=order)
    with pytest.raises(LimitExceeded) as refused:
        strict.check(agent, Decimal("30.01"), order=order)
    assert (refused.value.limit, refused.value.used, refused.value.remaining) == (
        Decimal("100"),
        Decimal("70.00"),
        Decimal("30.00"),
    )
    assert [type(limit) for limit in REFUND_LIMITS] == [RefundsPerOrder, RefundsPerDay]
    assert all(limit.limit == LIMIT for limit in REFUND_LIMITS)
    with pytest.raises(RuntimeError, match="needs a transaction"):
        lock_user(agent)


# -- at the same time ------------------------------------------------------------------------------------


@orm
def api_key_for(user):
    return ApiKey.issue(user, "test key (refund limits)")[1]


async def concurrent_refunds(base_url, key, order_ids, amount):
    """Send one issue_refund per order id, all at once; return the tool results."""

    async def one(http, request_id, order_id):
        arguments = {"order_id": order_id, "amount": str(amount), "reason": "goodwill"}
        response = await http.post(
            f"{base_url}/mcp",
            json=modern_request("tools/call", {"name": "issue_refund", "arguments": arguments}, request_id),
            headers=modern_headers(key, "tools/call", **{"Mcp-Name": "issue_refund"}),
        )
        (answer,) = [message for message in rpc_messages(response) if message.get("id") == request_id]
        assert "error" not in answer, answer
        return answer["result"]

    async with httpx2.AsyncClient(timeout=60) as http:
        return await asyncio.gather(*(one(http, index + 1, order_id) for index, order_id in enumerate(order_ids)))


def outcomes(results):
    """(how many succeeded, the texts of the refusals)."""
    refusals = [result["content"][0]["text"] for result in results if result.get("isError")]
    return len(results) - len(refusals), refusals


@pytest.mark.subprocess
async def test_concurrent_refunds_on_one_order_cannot_together_cross_the_limit(demo, live_server_url):
    """Eight refunds of 100 EUR on one order at the same moment: exactly five go through."""
    (order,) = await orders(1)
    agent = demo["support_agent"]
    key = await api_key_for(agent)
    results = await concurrent_refunds(live_server_url, key, [order.pk] * 8, 100)
    succeeded, refusals = outcomes(results)
    assert succeeded == 5, refusals
    assert all("You can refund nothing more on order" in refusal for refusal in refusals), refusals
    assert await refunded(agent, order) == LIMIT
    await sync_to_async(order.refresh_from_db)()
    assert order.refunded_total == LIMIT


@pytest.mark.subprocess
async def test_concurrent_refunds_on_many_orders_cannot_together_cross_the_daily_limit(demo, live_server_url):
    """Eight refunds of 120 EUR on eight orders at once: four go through (480), the other four are refused."""
    many = await orders(8)
    agent = demo["support_agent"]
    key = await api_key_for(agent)
    results = await concurrent_refunds(live_server_url, key, [order.pk for order in many], 120)
    succeeded, refusals = outcomes(results)
    assert succeeded == 4, refusals
    assert all("You can refund at most 20.00 EUR more today" in refusal for refusal in refusals), refusals
    assert await refunded(agent) == Decimal("480.00")
