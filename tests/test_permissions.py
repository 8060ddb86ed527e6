"""Who may do what over MCP: the permission matrix, row scoping, and attempts to get around them.

Every tool needs both the model permission the Django admin would ask for and the per-tool grant
`mcp_bridge.call_<tool>`; a tool the caller may not use is neither listed nor callable, and calling
it fails exactly like calling a tool that does not exist. Permission changes made while a client is
connected apply from the caller's next request.
"""

import json
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import anyio
import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, INVALID_REQUEST, ResourceTemplateReference

from customers.models import Customer, Order, Refund, SupportTicket
from mcp_bridge.results import RESOURCE_NOT_FOUND, resource_not_found_code
from mcp_bridge.sites import site
from tasks.models import Job

from .conftest import ROLES, mcp_client

pytestmark = pytest.mark.anyio

# -- the matrix --------------------------------------------------------------------------------------
#                                    admin  support_agent  analyst
_MATRIX = {
    "search_customers": (True, True, True),
    "get_customer": (True, True, True),
    "create_customer": (True, False, False),
    "update_customer": (True, False, False),
    "delete_customer": (True, False, False),
    "search_orders": (True, True, True),
    "get_order": (True, True, True),
    "search_support_tickets": (True, True, True),
    "get_support_ticket": (True, True, True),
    "create_support_ticket": (True, False, False),
    "update_support_ticket": (True, False, False),
    "mark_resolved_support_tickets": (True, False, False),
    "update_ticket_status": (True, True, False),
    "search_refunds": (True, False, True),
    "get_refund": (True, False, True),
    "issue_refund": (True, True, False),
    "revenue_report": (True, False, True),
    "churn_risk_report": (True, False, True),
    "get_job_status": (True, False, True),
    "cancel_job": (True, False, True),
}
EXPECTED = {tool: dict(zip(ROLES, row, strict=True)) for tool, row in _MATRIX.items()}


def allowed_tools(role):
    return {tool for tool, by_role in EXPECTED.items() if by_role[role]}


ALL_TEMPLATES = {
    "customers://customer/{id}",
    "customers://customer/{id}/orders",
    "customers://customer/{id}/tickets",
    "customers://order/{id}",
    "customers://order/{id}/refunds",
    "customers://support_ticket/{id}",
    "customers://refund/{id}",
    "jobs://{job_id}",
    "jobs://{job_id}/result",
    "jobs://{job_id}/files/{name}",
}
JOB_TEMPLATES = {"jobs://{job_id}", "jobs://{job_id}/result", "jobs://{job_id}/files/{name}"}
EXPECTED_TEMPLATES = {
    "admin": ALL_TEMPLATES,
    # No search_refunds / get_refund grant, so neither the refund resource nor an order's refunds; no
    # report, so no jobs.
    "support_agent": ALL_TEMPLATES - {"customers://order/{id}/refunds", "customers://refund/{id}"} - JOB_TEMPLATES,
    "analyst": ALL_TEMPLATES,
}
EXPECTED_PROMPTS = {role: {"customer_health_review"} for role in ROLES}


# -- helpers -----------------------------------------------------------------------------------------
def _perm(dotted):
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _make_user(username, perms=(), *, superuser=False):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", None, is_superuser=superuser)
    if perms:
        user.user_permissions.add(*[_perm(p) for p in perms])
    return user


make_user = sync_to_async(_make_user)


@sync_to_async
def grant(user, *perms):
    user.user_permissions.add(*[_perm(p) for p in perms])


@sync_to_async
def revoke(user, *perms):
    user.user_permissions.remove(*[_perm(p) for p in perms])


@sync_to_async
def save_user(user, **changes):
    for name, value in changes.items():
        setattr(user, name, value)
    user.save()


@sync_to_async
def snapshot():
    """Every row of the demo domain plus the admin log: equal snapshots mean nothing was written."""
    rows = [list(model.objects.order_by("pk").values_list()) for model in (Customer, Order, SupportTicket, Refund)]
    return rows, LogEntry.objects.count()


def _fresh_customer(tag):
    """A customer with no orders, so nothing protects it from deletion."""
    return Customer.objects.create(name=f"Disposable {tag}", email=f"disposable.{tag}@example.com", country="DE")


fresh_customer = sync_to_async(_fresh_customer)


async def tool_names(client):
    return {tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools}


async def template_uris(client):
    return {t.uri_template for t in (await client.list_resource_templates(cache_mode="bypass")).resource_templates}


async def prompt_names(client):
    return {p.name for p in (await client.list_prompts(cache_mode="bypass")).prompts}


async def expect_unknown_tool(client, name, arguments):
    with pytest.raises(MCPError) as caught:
        await client.call_tool(name, arguments)
    assert caught.value.code == INVALID_PARAMS, caught.value
    assert caught.value.message == f"Unknown tool: {name}"
    return caught.value


async def expect_resource_not_found(client, uri):
    with pytest.raises(MCPError) as caught:
        await client.read_resource(uri, cache_mode="bypass")
    assert caught.value.code == resource_not_found_code(client.protocol_version), caught.value
    assert caught.value.message == f"Resource not found: {uri}"
    return caught.value


async def read_json(client, uri):
    result = await client.read_resource(uri, cache_mode="bypass")
    return json.loads(result.contents[0].text)


def _refundable_order(**extra):
    return Order.objects.filter(status__in=Order.REFUNDABLE, **extra).order_by("pk").first()


# -- the matrix --------------------------------------------------------------------------------------
def test_matrix_covers_every_registered_tool():
    registered = set(site.registry.tools)
    assert registered - set(EXPECTED) == set(), "registered tools missing from the permission matrix"
    assert set(EXPECTED) - registered == set(), "the permission matrix names tools that are not registered"


@sync_to_async
def _matrix_objects():
    visible = Customer.objects.filter(is_internal=False)
    customer = visible.order_by("pk").first()
    orders = list(Order.objects.filter(customer__is_internal=False, status__in=Order.REFUNDABLE).order_by("pk")[:2])
    for order in orders:  # deterministic amounts, whatever the seed drew
        order.total, order.refunded_total = Decimal("200.00"), Decimal("0.00")
        order.save()
    refunded_order, order = orders
    # created_by stays empty and the reason is one the matrix's own refunds do not use: see
    # test_refunds_issued_over_mcp_match_their_output_schema for why.
    refund = Refund.objects.create(order=refunded_order, amount=Decimal("5.00"), reason=Refund.Reason.OTHER)
    tickets = list(SupportTicket.objects.filter(customer__is_internal=False).order_by("pk")[:2])
    for ticket in tickets:
        ticket.status = SupportTicket.Status.OPEN
        ticket.save()
    return SimpleNamespace(customer=customer, order=order, refund=refund, ticket=tickets[0], action_ticket=tickets[1])


def _build_call(name, role, mode, ns):
    """Return (arguments, check): valid arguments for *name*, and a sync check of an allowed call."""
    tag = f"{role}-{mode}"

    def search_check(result):
        assert result.structured_content["items"], f"{name} found nothing"

    def id_check(expected_id):
        def check(result):
            assert result.structured_content["id"] == expected_id

        return check

    if name == "search_refunds":
        return {"reason": "other", "page_size": 5}, search_check
    if name.endswith("_report"):

        def check(result):
            job = Job.objects.get(pk=result.structured_content["job_id"])
            assert (job.tool, job.owner.username, job.status) == (name, role, "queued")

        return ({"start_month": "2025-01", "end_month": "2025-06"} if name == "revenue_report" else {"top": 5}), check
    if name in ("get_job_status", "cancel_job"):
        job = Job.objects.create(
            owner=get_user_model().objects.get(username=role),
            tool="revenue_report",
            expires_at=timezone.now() + timedelta(hours=1),
        )

        def check(result):
            assert result.structured_content["job_id"] == job.pk
            expected = "cancelled" if name == "cancel_job" else "queued"
            assert result.structured_content["status"] == expected == Job.objects.get(pk=job.pk).status

        return {"job_id": job.pk}, check
    if name.startswith("search_"):
        return {"page_size": 5}, search_check
    if name == "get_customer":
        return {"id": ns.customer.pk}, id_check(ns.customer.pk)
    if name == "get_order":
        return {"id": ns.order.pk}, id_check(ns.order.pk)
    if name == "get_support_ticket":
        return {"id": ns.ticket.pk}, id_check(ns.ticket.pk)
    if name == "get_refund":
        return {"id": ns.refund.pk}, id_check(ns.refund.pk)
    if name == "create_customer":
        email = f"matrix.{tag}@example.com"

        def check(result):
            assert Customer.objects.filter(email=email, pk=result.structured_content["id"]).exists()

        return {"name": f"Matrix {tag}", "email": email, "country": "FR"}, check
    if name == "update_customer":
        company = f"Updated by {tag}"

        def check(result):
            assert Customer.objects.get(pk=ns.customer.pk).company == company

        return {"id": ns.customer.pk, "company": company}, check
    if name == "delete_customer":
        victim = _fresh_customer(tag)  # its own customer: no orders whose refunds would protect it

        def check(result):
            assert result.structured_content["deleted"] is True
            assert not Customer.objects.filter(pk=victim.pk).exists()

        return {"id": victim.pk}, check
    if name == "create_support_ticket":
        subject = f"Matrix ticket {tag}"

        def check(result):
            assert SupportTicket.objects.filter(subject=subject, customer=ns.customer).exists()

        return {"customer": ns.customer.pk, "subject": subject, "body": "Created by the permission matrix."}, check
    if name == "update_support_ticket":
        subject = f"Renamed by {tag}"

        def check(result):
            assert SupportTicket.objects.get(pk=ns.ticket.pk).subject == subject

        return {"id": ns.ticket.pk, "subject": subject}, check
    if name == "mark_resolved_support_tickets":

        def check(result):
            assert SupportTicket.objects.get(pk=ns.action_ticket.pk).status == SupportTicket.Status.RESOLVED

        return {"ids": [ns.action_ticket.pk]}, check
    if name == "update_ticket_status":
        status = {"admin": "pending", "support_agent": "resolved", "analyst": "closed"}[role]

        def check(result):
            assert result.structured_content["status"] == status
            assert SupportTicket.objects.get(pk=ns.ticket.pk).status == status

        return {"ticket_id": ns.ticket.pk, "status": status, "note": f"matrix {tag}"}, check
    if name == "issue_refund":
        before = Refund.objects.filter(order=ns.order).count()

        def check(result):
            assert result.structured_content["order_id"] == ns.order.pk
            assert Refund.objects.filter(order=ns.order).count() == before + 1

        return {"order_id": ns.order.pk, "amount": "1.50", "reason": "goodwill"}, check
    raise AssertionError(f"No arguments for {name}: add it to _build_call")  # pragma: no cover


build_call = sync_to_async(_build_call)


async def test_permission_matrix(demo, mode):
    assert set(site.registry.tools) == set(EXPECTED)
    ns = await _matrix_objects()
    for role in ROLES:
        async with mcp_client(demo[role], mode) as client:
            assert await tool_names(client) == allowed_tools(role), role
            for name in site.registry.tools:
                arguments, check = await build_call(name, role, mode, ns)
                if EXPECTED[name][role]:
                    result = await client.call_tool(name, arguments)
                    assert not result.is_error, f"{role} calling {name}: {result.content[0].text}"
                    await sync_to_async(check)(result)
                else:
                    before = await snapshot()
                    await expect_unknown_tool(client, name, arguments)
                    assert await snapshot() == before, f"{role} calling hidden {name} changed data"


async def test_templates_and_prompts_per_role(demo, mode):
    for role in ROLES:
        async with mcp_client(demo[role], mode) as client:
            assert await template_uris(client) == EXPECTED_TEMPLATES[role], role
            assert await prompt_names(client) == EXPECTED_PROMPTS[role], role


# -- grants and model permissions are both required ---------------------------------------------------
async def test_model_permission_without_grant_hides_the_tool(demo, mode):
    user = await make_user("viewer_no_grant", ["customers.view_customer"])
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(user, mode) as client:
        assert await tool_names(client) == set()
        await expect_unknown_tool(client, "get_customer", {"id": customer.pk})
        await expect_unknown_tool(client, "search_customers", {})
        assert await template_uris(client) == set()
        await expect_resource_not_found(client, f"customers://customer/{customer.pk}")


async def test_grant_without_model_permission_hides_the_tool(demo, mode):
    user = await make_user("granted_no_perm", ["mcp_bridge.call_delete_customer"])
    victim = await fresh_customer("grant-only")
    async with mcp_client(user, mode) as client:
        assert await tool_names(client) == set()
        await expect_unknown_tool(client, "delete_customer", {"id": victim.pk})
    assert await Customer.objects.filter(pk=victim.pk).aexists()


async def test_direct_grant_applies_and_revocation_applies_on_the_next_call(demo, mode):
    user = await make_user("direct")
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(user, mode) as client:
        await expect_unknown_tool(client, "get_customer", {"id": customer.pk})
        await grant(user, "customers.view_customer")
        await expect_unknown_tool(client, "get_customer", {"id": customer.pk})  # still no grant
        await grant(user, "mcp_bridge.call_get_customer")
        result = await client.call_tool("get_customer", {"id": customer.pk})
        assert not result.is_error and result.structured_content["id"] == customer.pk
        await revoke(user, "mcp_bridge.call_get_customer")
        await expect_unknown_tool(client, "get_customer", {"id": customer.pk})
        await grant(user, "mcp_bridge.call_get_customer")
        assert await tool_names(client) == {"get_customer"}
        await revoke(user, "customers.view_customer")
        await expect_unknown_tool(client, "get_customer", {"id": customer.pk})
        assert await tool_names(client) == set()


async def test_group_grant_applies_and_leaving_the_group_revokes_on_the_next_call(demo, mode):
    user = await make_user("grouped")

    @sync_to_async
    def make_group():
        group = Group.objects.create(name="customer readers")
        group.permissions.add(_perm("customers.view_customer"), _perm("mcp_bridge.call_get_customer"))
        return group

    group = await make_group()
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(user, mode) as client:
        assert await tool_names(client) == set()
        await sync_to_async(user.groups.add)(group)
        result = await client.call_tool("get_customer", {"id": customer.pk})
        assert not result.is_error, result.content[0].text
        assert await tool_names(client) == {"get_customer"}
        await sync_to_async(user.groups.remove)(group)
        await expect_unknown_tool(client, "get_customer", {"id": customer.pk})  # the very next call
        assert await tool_names(client) == set()


async def test_removing_a_permission_from_the_group_revokes_on_the_next_call(demo, mode):
    """support_agent's tools come from its group; taking the grant away from the group hides them."""
    customer = await Customer.objects.filter(is_internal=False).afirst()
    support = await Group.objects.aget(name="support")
    async with mcp_client(demo["support_agent"], mode) as client:
        assert not (await client.call_tool("get_customer", {"id": customer.pk})).is_error
        await sync_to_async(support.permissions.remove)(await sync_to_async(_perm)("mcp_bridge.call_get_customer"))
        await expect_unknown_tool(client, "get_customer", {"id": customer.pk})
        assert await tool_names(client) == allowed_tools("support_agent") - {"get_customer"}
        # Without get_customer, its resources and the prompt that needs it go too.
        assert await prompt_names(client) == set()
        assert await template_uris(client) == {"customers://order/{id}", "customers://support_ticket/{id}"}


async def test_inactive_user_is_refused(demo, mode):
    user = await make_user("leaver", ["customers.view_customer", "mcp_bridge.call_get_customer"])
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(user, mode) as client:
        assert not (await client.call_tool("get_customer", {"id": customer.pk})).is_error
        await save_user(user, is_active=False)
        with pytest.raises(MCPError) as caught:
            await client.call_tool("get_customer", {"id": customer.pk})
        assert caught.value.code == INVALID_REQUEST
        assert "inactive" in caught.value.message
        with pytest.raises(MCPError):
            await client.list_tools(cache_mode="bypass")
    async with mcp_client(user, mode) as client:  # a new connection as the inactive user
        with pytest.raises(MCPError) as caught:
            await client.call_tool("get_customer", {"id": customer.pk})
        assert caught.value.code == INVALID_REQUEST
        for listing in (client.list_tools, client.list_resource_templates, client.list_prompts):
            with pytest.raises(MCPError):
                await listing(cache_mode="bypass")
        with pytest.raises(MCPError):
            await client.read_resource(f"customers://customer/{customer.pk}", cache_mode="bypass")


async def test_superuser_flag_removed_loses_every_tool(demo, mode):
    boss = await make_user("boss", superuser=True)
    victim = await fresh_customer("demoted")
    async with mcp_client(boss, mode) as client:
        assert await tool_names(client) == set(EXPECTED)
        assert await template_uris(client) == ALL_TEMPLATES
        assert await prompt_names(client) == {"customer_health_review"}
        await save_user(boss, is_superuser=False)
        await expect_unknown_tool(client, "delete_customer", {"id": victim.pk})
        await expect_unknown_tool(client, "get_customer", {"id": victim.pk})
        assert await tool_names(client) == set()
        assert await template_uris(client) == set()
        assert await prompt_names(client) == set()
        await expect_resource_not_found(client, f"customers://customer/{victim.pk}")
    assert await Customer.objects.filter(pk=victim.pk).aexists()


@pytest.mark.parametrize("credential_cache_timeout, wait", [(1, 1.1), (0, 0)], ids=["remembered", "not-remembered"])
async def test_superuser_flag_removed_without_signals_loses_every_tool(
    demo, mode, settings, credential_cache_timeout, wait
):
    """A demotion that bypasses model signals (QuerySet.update, a data migration, raw SQL).

    The access generation is not replaced, so a remembered credential and user serve calls until
    CREDENTIAL_CACHE_TIMEOUT runs out (with 0, nothing is remembered); after that the next call
    loads the user afresh with is_superuser=False, and nothing granted only by the flag may survive
    it, as in the Django admin.
    """
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CREDENTIAL_CACHE_TIMEOUT": credential_cache_timeout}
    boss = await make_user("bulk_boss", superuser=True)
    victim = await fresh_customer("bulk-demoted")
    async with mcp_client(boss, mode) as client:
        assert await tool_names(client) == set(EXPECTED)
        await sync_to_async(get_user_model().objects.filter(pk=boss.pk).update)(is_superuser=False)
        await anyio.sleep(wait)
        await expect_unknown_tool(client, "delete_customer", {"id": victim.pk})
        assert await tool_names(client) == set()
    assert await Customer.objects.filter(pk=victim.pk).aexists()


# -- business rule: refunds over 500 EUR ----------------------------------------------------------------
@sync_to_async
def _large_order():
    order = _refundable_order(customer__is_internal=False)
    order.total, order.refunded_total = Decimal("1000.00"), Decimal("0.00")
    order.save()
    return order


@sync_to_async
def _order_state(order):
    order.refresh_from_db()
    return order.status, order.refunded_total, Refund.objects.filter(order=order).count(), Refund.objects.count()


async def test_support_refund_over_500_is_refused_and_writes_nothing(demo, mode):
    order = await _large_order()
    before_state, before_rows = await _order_state(order), await snapshot()
    async with mcp_client(demo["support_agent"], mode) as client:
        for amount in ("600.00", 500.01, "1000"):
            result = await client.call_tool(
                "issue_refund", {"order_id": order.pk, "amount": amount, "reason": "damaged"}
            )
            assert result.is_error, amount
            assert "500" in result.content[0].text
    assert await _order_state(order) == before_state
    assert await snapshot() == before_rows


async def test_support_refund_of_exactly_500_is_allowed(demo, mode):
    order = await _large_order()
    async with mcp_client(demo["support_agent"], mode) as client:
        result = await client.call_tool("issue_refund", {"order_id": order.pk, "amount": "500.00", "reason": "damaged"})
    assert not result.is_error, result.content[0].text
    status, refunded, refunds, _ = await _order_state(order)
    assert (refunded, refunds) == (Decimal("500.00"), 1)


async def test_large_refund_permission_lifts_the_limit_on_the_next_call(demo, mode):
    order = await _large_order()  # total 1000.00
    agent = demo["support_agent"]
    arguments = {"order_id": order.pk, "amount": "600.00", "reason": "damaged"}
    async with mcp_client(agent, mode) as client:
        assert (await client.call_tool("issue_refund", arguments)).is_error
        await grant(agent, "customers.issue_large_refund")
        result = await client.call_tool("issue_refund", arguments)
        assert not result.is_error, result.content[0].text
        assert result.structured_content["order_refunded_total"] == "600.00"
        assert result.structured_content["order_remaining"] == "400.00"
        assert (await _order_state(order))[1:3] == (Decimal("600.00"), 1)
        # More than what is left is still refused, large-refund permission or not.
        over = await client.call_tool("issue_refund", {**arguments, "amount": "400.01"})
        assert over.is_error and "400.00" in over.content[0].text
        # Revoked: the limit is back on the next call.
        await revoke(agent, "customers.issue_large_refund")
        await sync_to_async(Order.objects.filter(pk=order.pk).update)(total=Decimal("2000.00"))
        again = await client.call_tool("issue_refund", arguments)
        assert again.is_error and "500" in again.content[0].text, again.content[0].text
    assert (await _order_state(order))[1:3] == (Decimal("600.00"), 1)


# -- row scoping: internal customers are for superusers only -------------------------------------------
@sync_to_async
def _internal_objects():
    customer = Customer.objects.get(is_internal=True)
    order = customer.orders.order_by("pk").first()
    order.status, order.total, order.refunded_total = Order.Status.PAID, Decimal("100.00"), Decimal("0.00")
    order.save()
    ticket = customer.tickets.order_by("pk").first()
    ticket.status = SupportTicket.Status.OPEN
    ticket.save()
    return SimpleNamespace(customer=customer, order=order, ticket=ticket)


async def _all_ids(client, tool, **filters):
    ids, cursor = [], None
    while True:
        arguments = {"page_size": 100, **filters, **({"cursor": cursor} if cursor else {})}
        page = await client.call_tool(tool, arguments)
        assert not page.is_error, page.content[0].text
        ids += [item["id"] for item in page.structured_content["items"]]
        cursor = page.structured_content["next_cursor"]
        if cursor is None:
            return ids


@pytest.mark.parametrize("role", ["support_agent", "analyst"])
async def test_internal_customer_is_invisible_to_non_superusers(demo, mode, role):
    internal = await _internal_objects()
    visible_count = await Customer.objects.filter(is_internal=False).acount()
    missing_id = 10**9
    async with mcp_client(demo[role], mode) as client:
        got = await client.call_tool("get_customer", {"id": internal.customer.pk})
        assert got.is_error and "not" in got.content[0].text and got.structured_content is None
        # Not found reads exactly like a customer that does not exist: no existence oracle.
        missing = await client.call_tool("get_customer", {"id": missing_id})
        assert got.content[0].text.replace(str(internal.customer.pk), "ID") == missing.content[0].text.replace(
            str(missing_id), "ID"
        )

        customer_ids = await _all_ids(client, "search_customers")
        assert internal.customer.pk not in customer_ids and len(customer_ids) == visible_count
        assert await _all_ids(client, "search_customers", query=internal.customer.email) == []
        assert internal.customer.pk not in await _all_ids(client, "search_customers", query=internal.customer.name)
        assert await _all_ids(client, "search_orders", customer=internal.customer.pk) == []
        assert await _all_ids(client, "search_support_tickets", customer=internal.customer.pk) == []
        assert internal.order.pk not in await _all_ids(client, "search_orders")
        assert (await client.call_tool("get_order", {"id": internal.order.pk})).is_error
        assert (await client.call_tool("get_support_ticket", {"id": internal.ticket.pk})).is_error

        for template, object_id in (
            ("customers://customer/{id}", internal.customer.pk),
            ("customers://customer/{id}/orders", internal.customer.pk),
            ("customers://customer/{id}/tickets", internal.customer.pk),
            ("customers://order/{id}", internal.order.pk),
            ("customers://support_ticket/{id}", internal.ticket.pk),
        ):
            uri, absent_uri = template.format(id=object_id), template.format(id=missing_id)
            error = await expect_resource_not_found(client, uri)
            absent = await expect_resource_not_found(client, absent_uri)
            assert error.data == {"uri": uri} and absent.data == {"uri": absent_uri}

        ref = ResourceTemplateReference(type="ref/resource", uri="customers://customer/{id}")
        for value in (internal.customer.email, str(internal.customer.pk)):
            completion = await client.complete(ref, {"name": "id", "value": value})
            assert str(internal.customer.pk) not in completion.completion.values


async def test_superuser_sees_the_internal_customer(demo, mode):
    internal = await _internal_objects()
    async with mcp_client(demo["admin"], mode) as client:
        got = await client.call_tool("get_customer", {"id": internal.customer.pk})
        assert not got.is_error and got.structured_content["id"] == internal.customer.pk
        assert internal.customer.pk in await _all_ids(client, "search_customers")
        data = await read_json(client, f"customers://customer/{internal.customer.pk}/orders")
        assert internal.order.pk in {item["id"] for item in data["items"]}


async def test_support_agent_cannot_write_to_an_internal_customers_records(demo, mode):
    internal = await _internal_objects()
    before = await snapshot()
    async with mcp_client(demo["support_agent"], mode) as client:
        refund = await client.call_tool(
            "issue_refund", {"order_id": internal.order.pk, "amount": "10.00", "reason": "goodwill"}
        )
        assert refund.is_error and "search_orders" in refund.content[0].text
        status = await client.call_tool("update_ticket_status", {"ticket_id": internal.ticket.pk, "status": "closed"})
        assert status.is_error and "search_support_tickets" in status.content[0].text
    assert await snapshot() == before


async def test_granted_write_tools_still_cannot_reach_or_point_at_internal_records(demo, mode):
    """Give support_agent more write tools: they still act only on rows its admin queryset shows."""
    internal = await _internal_objects()
    agent = demo["support_agent"]
    await grant(
        agent,
        "customers.add_supportticket",
        "mcp_bridge.call_create_support_ticket",
        "mcp_bridge.call_update_support_ticket",
        "mcp_bridge.call_mark_resolved_support_tickets",
    )

    @sync_to_async
    def visible_ticket():
        ticket = SupportTicket.objects.filter(customer__is_internal=False).order_by("pk").first()
        ticket.status = SupportTicket.Status.OPEN
        ticket.save()
        return ticket

    ticket = await visible_ticket()
    missing_id = 10**9
    before = await snapshot()
    async with mcp_client(agent, mode) as client:
        assert {"create_support_ticket", "update_support_ticket", "mark_resolved_support_tickets"} <= await tool_names(
            client
        )
        # An admin action on a mix of visible and internal ids: refused as a whole.
        action = await client.call_tool("mark_resolved_support_tickets", {"ids": [ticket.pk, internal.ticket.pk]})
        assert action.is_error and str(internal.ticket.pk) in action.content[0].text
        absent = await client.call_tool("mark_resolved_support_tickets", {"ids": [ticket.pk, missing_id]})
        assert action.content[0].text.replace(str(internal.ticket.pk), "ID") == absent.content[0].text.replace(
            str(missing_id), "ID"
        )
        # Editing an internal ticket.
        edit = await client.call_tool("update_support_ticket", {"id": internal.ticket.pk, "subject": "mine now"})
        assert edit.is_error
        # Attaching a visible ticket, or a new one, to the internal customer.
        for name, arguments in (
            ("update_support_ticket", {"id": ticket.pk}),
            ("create_support_ticket", {"subject": "Probe", "body": "Probe."}),
        ):
            hidden = await client.call_tool(name, {**arguments, "customer": internal.customer.pk})
            assert hidden.is_error, f"{name} attached a record to an internal customer"
            absent = await client.call_tool(name, {**arguments, "customer": missing_id})
            assert absent.is_error
            assert hidden.content[0].text.replace(str(internal.customer.pk), "ID") == absent.content[0].text.replace(
                str(missing_id), "ID"
            )
        assert await snapshot() == before
        # The same tools work on visible rows.
        done = await client.call_tool("mark_resolved_support_tickets", {"ids": [ticket.pk]})
        assert not done.is_error, done.content[0].text
    assert (await SupportTicket.objects.aget(pk=ticket.pk)).status == SupportTicket.Status.RESOLVED


async def test_delete_needs_delete_permission_on_everything_that_cascades(demo, mode):
    """delete_customer cascades to orders and tickets: like the admin, it needs delete on those too."""
    user = await make_user(
        "deleter", ["customers.view_customer", "customers.delete_customer", "mcp_bridge.call_delete_customer"]
    )

    @sync_to_async
    def customers():
        with_orders = Customer.objects.filter(is_internal=False, orders__isnull=False).distinct().order_by("pk")
        target, protected = with_orders[0], with_orders[1]
        Refund.objects.create(order=protected.orders.first(), amount=Decimal("1.00"), reason=Refund.Reason.OTHER)
        return target, protected

    target, protected = await customers()
    before = await snapshot()
    async with mcp_client(user, mode) as client:
        assert await tool_names(client) == {"delete_customer"}
        refused = await client.call_tool("delete_customer", {"id": target.pk})
        assert refused.is_error
        assert await snapshot() == before
        # The refusal should say what is missing, not report an unexpected failure.
        assert "would also delete order" in refused.content[0].text, refused.content[0].text
        await grant(user, "customers.delete_order", "customers.delete_supportticket")
        blocked = await client.call_tool("delete_customer", {"id": protected.pk})  # a refund PROTECTs its order
        assert blocked.is_error and "protect" in blocked.content[0].text, blocked.content[0].text
        assert await snapshot() == before
        deleted = await client.call_tool("delete_customer", {"id": target.pk})
        assert not deleted.is_error, deleted.content[0].text
    assert not await Customer.objects.filter(pk=target.pk).aexists()
    assert not await Order.objects.filter(customer_id=target.pk).aexists()
    assert await Customer.objects.filter(pk=protected.pk).aexists()


# -- the analyst reads only ------------------------------------------------------------------------------
async def test_analyst_cannot_use_write_tools_even_with_the_model_permissions(demo, mode):
    order = await sync_to_async(_refundable_order)(customer__is_internal=False)
    ticket = await SupportTicket.objects.filter(customer__is_internal=False).afirst()
    calls = {
        "update_ticket_status": {"ticket_id": ticket.pk, "status": "closed"},
        "issue_refund": {"order_id": order.pk, "amount": "1.00", "reason": "goodwill"},
        "mark_resolved_support_tickets": {"ids": [ticket.pk]},
        "update_support_ticket": {"id": ticket.pk, "status": "closed"},
    }
    before = await snapshot()
    analyst = await Group.objects.aget(name="analyst")
    async with mcp_client(demo["analyst"], mode) as client:
        for name, arguments in calls.items():
            await expect_unknown_tool(client, name, arguments)
        # The admin permissions alone do not expose them: the call_<tool> grants are missing.
        await sync_to_async(analyst.permissions.add)(
            *[await sync_to_async(_perm)(p) for p in ("customers.change_supportticket", "customers.add_refund")]
        )
        for name, arguments in calls.items():
            await expect_unknown_tool(client, name, arguments)
        assert await tool_names(client) == allowed_tools("analyst")
    assert await snapshot() == before


# -- hidden looks exactly like missing -------------------------------------------------------------------
def _same_shape(hidden_error, hidden_name, missing_error, missing_name):
    assert hidden_error.code == missing_error.code
    assert hidden_error.message.replace(hidden_name, "NAME") == missing_error.message.replace(missing_name, "NAME")
    assert hidden_error.data == (
        None
        if missing_error.data is None
        else {k: (hidden_name if v == missing_name else v) for k, v in missing_error.data.items()}
    )


async def test_hidden_and_missing_tools_fail_identically(demo, mode):
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(demo["support_agent"], mode) as client:
        for hidden, arguments in (
            ("delete_customer", {"id": customer.pk}),
            ("delete_customer", {"bogus": True}),  # argument validation must not reveal the tool either
            ("delete_customer", {}),
            ("search_refunds", {"page_size": 1}),
        ):
            hidden_error = await expect_unknown_tool(client, hidden, arguments)
            missing = "no_such_tool_" + hidden
            missing_error = await expect_unknown_tool(client, missing, arguments)
            _same_shape(hidden_error, hidden, missing_error, missing)
        # Completion of a hidden resource template answers like an unknown one: nothing.
        refund = await sync_to_async(Refund.objects.create)(
            order=await sync_to_async(_refundable_order)(customer__is_internal=False),
            amount=Decimal("1.00"),
            reason="other",
        )
        for uri in ("customers://refund/{id}", "customers://nothing/{id}"):
            ref = ResourceTemplateReference(type="ref/resource", uri=uri)
            completion = await client.complete(ref, {"name": "id", "value": str(refund.pk)})
            assert completion.completion.values == []


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
async def test_hidden_and_missing_prompts_and_resources_fail_identically(demo, mode):
    user = await make_user("only_get_customer", ["customers.view_customer", "mcp_bridge.call_get_customer"])
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(user, mode) as client:
        errors = {}
        for name in ("customer_health_review", "no_such_prompt"):
            with pytest.raises(MCPError) as caught:
                await client.get_prompt(name, {"customer_id": str(customer.pk)})
            errors[name] = caught.value
        assert errors["customer_health_review"].code == INVALID_PARAMS
        _same_shape(
            errors["customer_health_review"], "customer_health_review", errors["no_such_prompt"], "no_such_prompt"
        )

        hidden_uri = f"customers://customer/{customer.pk}/orders"  # needs search_orders too
        for missing_uri in (f"customers://customer/{customer.pk}/nothing", f"customers://customer/{10**9}/orders"):
            hidden_error = await expect_resource_not_found(client, hidden_uri)
            missing_error = await expect_resource_not_found(client, missing_uri)
            _same_shape(hidden_error, hidden_uri, missing_error, missing_uri)

        if mode != "legacy":
            return  # resources/subscribe is a handshake-era method (2026-07-28 clients listen instead)
        # Subscribing to a resource one may not read is refused like subscribing to none.
        missing_uri = f"customers://customer/{customer.pk}/nothing"
        errors = []
        for uri in (hidden_uri, missing_uri):
            with pytest.raises(MCPError) as caught:
                await client.subscribe_resource(uri)
            errors.append(caught.value)
        assert errors[0].code == RESOURCE_NOT_FOUND
        _same_shape(errors[0], hidden_uri, errors[1], missing_uri)
        await client.subscribe_resource(f"customers://customer/{customer.pk}")  # readable: accepted


# -- resources and prompts follow the tools they need -------------------------------------------------------
async def test_prompt_needs_every_required_tool(demo, mode):
    user = await make_user("only_get_customer", ["customers.view_customer", "mcp_bridge.call_get_customer"])
    customer = await Customer.objects.filter(is_internal=False).afirst()
    async with mcp_client(user, mode) as client:
        assert await tool_names(client) == {"get_customer"}
        assert await prompt_names(client) == set()
        assert await template_uris(client) == {"customers://customer/{id}"}
        await grant(user, "customers.view_order", "mcp_bridge.call_search_orders")
        assert await prompt_names(client) == set()  # search_support_tickets is still missing
        await grant(user, "customers.view_supportticket", "mcp_bridge.call_search_support_tickets")
        assert await prompt_names(client) == {"customer_health_review"}
        prompt = await client.get_prompt("customer_health_review", {"customer_id": str(customer.pk)})
        assert f"get_customer with id {customer.pk}" in prompt.messages[0].content.text
        assert await template_uris(client) == {
            "customers://customer/{id}",
            "customers://customer/{id}/orders",
            "customers://customer/{id}/tickets",
        }


async def test_related_resource_needs_the_child_search_tool(demo, mode):
    user = await make_user("parent_only", ["customers.view_customer", "mcp_bridge.call_get_customer"])
    customer = await Customer.objects.filter(is_internal=False).order_by("pk").afirst()
    orders_uri = f"customers://customer/{customer.pk}/orders"
    async with mcp_client(user, mode) as client:
        assert (await read_json(client, f"customers://customer/{customer.pk}"))["id"] == customer.pk
        await expect_resource_not_found(client, orders_uri)
        await grant(user, "mcp_bridge.call_search_orders")  # the grant alone is not enough
        await expect_resource_not_found(client, orders_uri)
        await grant(user, "customers.view_order")
        data = await read_json(client, orders_uri)
        assert len(data["items"]) == 3 and {item["customer"] for item in data["items"]} == {customer.pk}
        await expect_resource_not_found(client, f"customers://customer/{customer.pk}/tickets")
        await revoke(user, "mcp_bridge.call_search_orders")
        await expect_resource_not_found(client, orders_uri)


async def test_support_agent_cannot_read_an_orders_refunds(demo, mode):
    """support_agent has view_refund but no search_refunds grant: the order resource yes, its refunds no."""
    order = await sync_to_async(_refundable_order)(customer__is_internal=False)
    async with mcp_client(demo["support_agent"], mode) as client:
        assert (await read_json(client, f"customers://order/{order.pk}"))["id"] == order.pk
        await expect_resource_not_found(client, f"customers://order/{order.pk}/refunds")
    async with mcp_client(demo["analyst"], mode) as client:
        assert (await read_json(client, f"customers://order/{order.pk}/refunds")) == {"items": []}


# -- reading back what a write tool recorded -------------------------------------------------------------
async def test_refunds_issued_over_mcp_match_their_output_schema(demo, mode):
    """The analyst may read refunds; one issued by support_agent records created_by, a user id.

    Refund.created_by is read-only (RefundAdmin.readonly_fields), and the generated output schema
    types read-only foreign keys as strings, so the SDK client rejects the integer it receives.
    """
    order = await sync_to_async(_refundable_order)(customer__is_internal=False)
    async with mcp_client(demo["support_agent"], mode) as client:
        issued = await client.call_tool("issue_refund", {"order_id": order.pk, "amount": "1.00", "reason": "goodwill"})
        assert not issued.is_error, issued.content[0].text
    refund_id = issued.structured_content["refund_id"]
    async with mcp_client(demo["analyst"], mode) as client:
        await client.list_tools()  # the client checks results against the listed output schemas
        got = await client.call_tool("get_refund", {"id": refund_id})
        assert not got.is_error and got.structured_content["created_by"] == demo["support_agent"].pk
        page = await client.call_tool("search_refunds", {"page_size": 5})
        assert refund_id in {item["id"] for item in page.structured_content["items"]}
