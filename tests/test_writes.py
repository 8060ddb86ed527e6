"""Writes over MCP behave like the Django admin: same validation, same history, all or nothing.

The admin is the reference: where a test says "like the admin", it performs the same change
through the admin's own views (Django's test client, logged in as the same user) and compares
the LogEntry rows both leave behind. Searches are compared with the ORM over the admin's own
queryset and search.
"""

import datetime
import json
import math
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.test import Client as DjangoClient
from django.test import RequestFactory

from customers.models import LARGE_REFUND_THRESHOLD, Customer, Order, Refund, SupportTicket

from .conftest import mcp_client

pytestmark = pytest.mark.anyio

SNAPSHOT_MODELS = (Customer, Order, SupportTicket, Refund, LogEntry)
CENT = Decimal("0.01")


# -- helpers (synchronous; call through sync_to_async from the tests) ----------------------------


def _snapshot():
    return {model.__name__: list(model.objects.order_by("pk").values_list()) for model in SNAPSHOT_MODELS}


snapshot = sync_to_async(_snapshot)


@sync_to_async
def last_log_pk():
    return LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@sync_to_async
def log_entries_after(pk):
    return list(LogEntry.objects.filter(pk__gt=pk).select_related("content_type").order_by("pk"))


@sync_to_async
def orm(func, *args, **kwargs):
    return func(*args, **kwargs)


def text_of(result):
    return " ".join(c.text for c in result.content if c.type == "text")


def ok(result):
    assert not result.is_error, text_of(result)
    return result.structured_content


def error(result, *fragments):
    text = text_of(result)
    assert result.is_error, f"expected isError, got {text[:500]}"
    assert result.structured_content is None
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    return text


def admin_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def customer_form_data(customer, **changes):
    """The admin change form's POST data for *customer*, with *changes* applied."""
    data = {
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "company": customer.company,
        "country": customer.country,
        "status": customer.status,
        "_save": "Save",
    }
    if customer.is_internal:
        data["is_internal"] = "on"
    data.update(changes)
    return data


@sync_to_async
def admin_post(user, url, data):
    """POST *data* to an admin view as *user*, exactly as the admin's browser form would."""
    client = DjangoClient()
    client.force_login(user)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]


def visible_customers(user):
    """The customers the admin changelist shows *user*."""
    return admin.site.get_model_admin(Customer).get_queryset(admin_request(user))


def log_row(entry):
    """The parts of a LogEntry that say what happened, comparable across objects."""
    return {
        "action_flag": entry.action_flag,
        "user_id": entry.user_id,
        "content_type": entry.content_type.model_class(),
        "change_message": json.loads(entry.change_message) if entry.change_message else entry.change_message,
    }


def logged_fields(entry):
    return [name for part in json.loads(entry.change_message) for name in part.get("changed", {}).get("fields", [])]


# -- create / update / delete and the admin log --------------------------------------------------


async def test_create_customer_logs_like_the_admin(demo, mode):
    admin_user = demo["admin"]
    mark = await last_log_pk()
    async with mcp_client(admin_user, mode) as client:
        created = ok(
            await client.call_tool(
                "create_customer",
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.org",
                    "company": "Analytical Engines",
                    "country": "GB",
                    "status": "active",
                },
            )
        )
        fetched = ok(await client.call_tool("get_customer", {"id": created["id"]}))
    assert created == fetched
    customer = await orm(Customer.objects.get, email="ada@example.org")
    assert created["id"] == customer.pk
    assert (customer.name, customer.company, customer.country, customer.status) == (
        "Ada Lovelace",
        "Analytical Engines",
        "GB",
        "active",
    )
    assert customer.lifetime_value == Decimal("0.00") and created["lifetime_value"] == "0.00"
    assert not customer.is_internal

    [entry] = await log_entries_after(mark)
    assert entry.action_flag == ADDITION
    assert entry.user_id == admin_user.pk
    assert entry.content_type_id == (await orm(ContentType.objects.get_for_model, Customer)).pk
    assert entry.object_id == str(customer.pk)
    assert entry.object_repr == str(customer)
    assert json.loads(entry.change_message) == [{"added": {}}]

    # The same kind of record added through the admin's add form.
    mark = await last_log_pk()
    await admin_post(
        admin_user,
        "/admin/customers/customer/add/",
        {
            "name": "Grace Hopper",
            "email": "grace@example.org",
            "phone": "",
            "company": "Navy",
            "country": "US",
            "status": "active",
            "_save": "Save",
        },
    )
    [admin_entry] = await log_entries_after(mark)
    grace = await orm(Customer.objects.get, email="grace@example.org")
    assert admin_entry.object_id == str(grace.pk) and admin_entry.object_repr == str(grace)
    assert await orm(log_row, entry) == await orm(log_row, admin_entry)
    assert entry.get_change_message() == admin_entry.get_change_message()


async def test_update_customer_returns_the_changed_object_and_logs_a_change(demo, mode):
    admin_user = demo["admin"]
    customer = await orm(lambda: Customer.objects.exclude(status="churned").order_by("pk").first())
    mark = await last_log_pk()
    async with mcp_client(admin_user, mode) as client:
        updated = ok(
            await client.call_tool(
                "update_customer", {"id": customer.pk, "name": "Renamed Person", "status": "churned"}
            )
        )
        fetched = ok(await client.call_tool("get_customer", {"id": customer.pk}))
    assert updated == fetched
    assert updated["name"] == "Renamed Person" and updated["status"] == "churned"
    after = await orm(Customer.objects.get, pk=customer.pk)
    assert (after.name, after.status) == ("Renamed Person", "churned")
    # Everything not sent is untouched, including the read-only fields.
    for field in ("email", "phone", "company", "country", "lifetime_value", "created", "is_internal"):
        assert getattr(after, field) == getattr(customer, field), field

    [entry] = await log_entries_after(mark)
    assert entry.action_flag == CHANGE
    assert entry.user_id == admin_user.pk
    assert entry.object_id == str(customer.pk)
    assert entry.object_repr == str(after)
    assert [f.lower() for f in logged_fields(entry)] == ["name", "status"]


async def test_update_change_message_matches_the_admin(demo):
    """The admin logs the form labels of the changed fields ('Name', 'Status')."""
    admin_user = demo["admin"]
    first, second = await orm(lambda: list(Customer.objects.exclude(status="churned").order_by("pk")[:2]))
    mark = await last_log_pk()
    async with mcp_client(admin_user) as client:
        ok(await client.call_tool("update_customer", {"id": first.pk, "name": "Renamed Person", "status": "churned"}))
    [mcp_entry] = await log_entries_after(mark)

    mark = await last_log_pk()
    await admin_post(
        admin_user,
        f"/admin/customers/customer/{second.pk}/change/",
        customer_form_data(second, name="Renamed Person", status="churned"),
    )
    [admin_entry] = await log_entries_after(mark)

    assert await orm(log_row, admin_entry) == {
        "action_flag": CHANGE,
        "user_id": admin_user.pk,
        "content_type": Customer,
        "change_message": [{"changed": {"fields": ["Name", "Status"]}}],
    }
    assert await orm(log_row, mcp_entry) == await orm(log_row, admin_entry)
    assert mcp_entry.get_change_message() == admin_entry.get_change_message()


async def test_update_logs_only_the_fields_that_changed(demo):
    """Sending a field with its current value is not a change, as in the admin's form.changed_data."""
    customer = await orm(lambda: Customer.objects.exclude(status="churned").order_by("pk").first())
    mark = await last_log_pk()
    async with mcp_client(demo["admin"]) as client:
        ok(
            await client.call_tool(
                "update_customer", {"id": customer.pk, "name": "Renamed Person", "country": customer.country}
            )
        )
    [entry] = await log_entries_after(mark)
    assert [f.lower() for f in logged_fields(entry)] == ["name"]


async def test_delete_customer_logs_like_the_admin(demo, mode):
    admin_user = demo["admin"]
    first, second = await orm(lambda: list(Customer.objects.filter(tickets__isnull=False).order_by("pk")[:2]))
    orders = await orm(lambda: Order.objects.filter(customer=first).count())
    tickets = await orm(lambda: SupportTicket.objects.filter(customer=first).count())
    assert orders and tickets
    totals = await orm(lambda: (Customer.objects.count(), Order.objects.count(), SupportTicket.objects.count()))

    mark = await last_log_pk()
    async with mcp_client(admin_user, mode) as client:
        deleted = ok(await client.call_tool("delete_customer", {"id": first.pk}))
        gone = await client.call_tool("get_customer", {"id": first.pk})
    assert deleted == {"deleted": True, "id": first.pk, "also_deleted": {"orders": orders, "support tickets": tickets}}
    error(gone, "No customer with id")
    assert await orm(lambda: (Customer.objects.count(), Order.objects.count(), SupportTicket.objects.count())) == (
        totals[0] - 1,
        totals[1] - orders,
        totals[2] - tickets,
    )
    assert not await orm(lambda: Order.objects.filter(customer_id=first.pk).exists())

    [entry] = await log_entries_after(mark)
    assert entry.action_flag == DELETION
    assert entry.user_id == admin_user.pk
    assert entry.object_id == str(first.pk)
    assert entry.object_repr == str(first)

    mark = await last_log_pk()
    await admin_post(admin_user, f"/admin/customers/customer/{second.pk}/delete/", {"post": "yes"})
    [admin_entry] = await log_entries_after(mark)
    assert admin_entry.object_repr == str(second)
    assert await orm(log_row, entry) == await orm(log_row, admin_entry)


async def test_readonly_fields_are_not_writable(demo, mode):
    customer = await orm(lambda: Customer.objects.order_by("pk").first())
    before = await snapshot()
    async with mcp_client(demo["admin"], mode) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        for name in ("create_customer", "update_customer"):
            properties = listed[name].input_schema["properties"]
            assert not {"lifetime_value", "created", "phone", "is_internal"} & set(properties), name
        for arguments in (
            {"lifetime_value": "1000000.00"},
            {"created": "2001-01-01T00:00:00Z"},
            {"name": "Changed", "lifetime_value": "1000000.00"},
        ):
            error(await client.call_tool("update_customer", {"id": customer.pk, **arguments}), "Unknown argument")
        error(
            await client.call_tool(
                "create_customer",
                {
                    "name": "Ann",
                    "email": "ann.new@example.org",
                    "country": "GB",
                    "lifetime_value": "9.99",
                },
            ),
            "'lifetime_value'",
        )
    assert await snapshot() == before


async def test_delete_refused_when_refunds_protect_the_orders(demo, mode):
    admin_user = demo["admin"]
    order = await orm(
        lambda: Order.objects.filter(status__in=Order.REFUNDABLE, customer__is_internal=False).order_by("pk").first()
    )
    async with mcp_client(admin_user, mode) as client:
        ok(await client.call_tool("issue_refund", {"order_id": order.pk, "amount": "1.00", "reason": "goodwill"}))
        before = await snapshot()
        text = error(
            await client.call_tool("delete_customer", {"id": order.customer_id}), "cannot be deleted", "protect"
        )
        assert "Refund" in text
        still_there = ok(await client.call_tool("get_customer", {"id": order.customer_id}))
    assert still_there["id"] == order.customer_id
    assert await snapshot() == before


async def test_protected_delete_message_is_plain_text(demo):
    """The refusal is read by a model: it should name the records, not carry the admin's HTML links."""
    order = await orm(
        lambda: Order.objects.filter(status__in=Order.REFUNDABLE, customer__is_internal=False).order_by("pk").first()
    )
    async with mcp_client(demo["admin"]) as client:
        ok(await client.call_tool("issue_refund", {"order_id": order.pk, "amount": "1.00", "reason": "goodwill"}))
        text = error(await client.call_tool("delete_customer", {"id": order.customer_id}), "cannot be deleted")
    assert "<a " not in text and "href=" not in text, text


# -- refunds -------------------------------------------------------------------------------------


async def test_issue_refund_partial_then_full(demo, mode):
    agent = demo["support_agent"]
    order = await orm(
        lambda: (
            Order.objects.filter(
                status__in=Order.REFUNDABLE,
                customer__is_internal=False,
                total__lt=LARGE_REFUND_THRESHOLD,
                total__gt=30,
            )
            .order_by("pk")
            .first()
        )
    )
    original_status = order.status
    part = (order.total / 3).quantize(CENT)
    rest = order.total - part
    mark = await last_log_pk()

    async with mcp_client(agent, mode) as client:
        first = ok(
            await client.call_tool(
                "issue_refund",
                {
                    "order_id": order.pk,
                    "amount": str(part),
                    "reason": "damaged",
                    "note": "Box crushed.",
                },
            )
        )
        assert first["order_id"] == order.pk
        assert Decimal(first["amount"]) == part
        assert Decimal(first["order_refunded_total"]) == part
        assert Decimal(first["order_remaining"]) == rest
        assert first["order_status"] == original_status

        refund = await orm(Refund.objects.get, pk=first["refund_id"])
        assert (refund.order_id, refund.amount, refund.reason, refund.note, refund.created_by_id) == (
            order.pk,
            part,
            "damaged",
            "Box crushed.",
            agent.pk,
        )
        after_first = await orm(Order.objects.get, pk=order.pk)
        assert (after_first.refunded_total, after_first.status) == (part, original_status)
        entries = await log_entries_after(mark)
        assert [(e.action_flag, e.content_type.model_class(), e.object_id, e.user_id) for e in entries] == [
            (ADDITION, Refund, str(refund.pk), agent.pk),
            (CHANGE, Order, str(order.pk), agent.pk),
        ]

        # One cent more than what is left: refused, nothing written.
        before = await snapshot()
        error(
            await client.call_tool(
                "issue_refund", {"order_id": order.pk, "amount": str(rest + CENT), "reason": "goodwill"}
            ),
            f"has only {rest} EUR left to refund",
            f"Refund at most {rest} EUR",
        )
        assert await snapshot() == before

        # Exactly what is left: the order becomes fully refunded.
        second = ok(
            await client.call_tool("issue_refund", {"order_id": order.pk, "amount": str(rest), "reason": "goodwill"})
        )
        assert Decimal(second["order_refunded_total"]) == order.total
        assert Decimal(second["order_remaining"]) == 0
        assert second["order_status"] == "refunded"
        after_second = await orm(Order.objects.get, pk=order.pk)
        assert (after_second.refunded_total, after_second.status) == (order.total, "refunded")
        assert await orm(lambda: sum(r.amount for r in Refund.objects.filter(order=order))) == order.total

        # Nothing is left: any further refund is refused.
        before = await snapshot()
        error(
            await client.call_tool("issue_refund", {"order_id": order.pk, "amount": "0.01", "reason": "goodwill"}),
            f"Order {order.pk} is refunded",
            "only paid or shipped orders can be refunded",
        )
        assert await snapshot() == before


async def test_large_refund_with_permission(demo):
    order = await orm(
        lambda: (
            Order.objects.filter(status__in=Order.REFUNDABLE, total__gt=LARGE_REFUND_THRESHOLD).order_by("pk").first()
        )
    )
    async with mcp_client(demo["admin"]) as client:
        result = ok(
            await client.call_tool(
                "issue_refund", {"order_id": order.pk, "amount": str(order.total), "reason": "not_received"}
            )
        )
    assert result["order_status"] == "refunded"
    after = await orm(Order.objects.get, pk=order.pk)
    assert (after.refunded_total, after.status) == (order.total, "refunded")


# -- all or nothing ------------------------------------------------------------------------------


def _fail_with(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.mark.parametrize("failure", ["validation", "crash"])
async def test_refund_failing_after_partial_work_leaves_nothing_behind(demo, monkeypatch, failure):
    """The refund row and its log entry are written before the order is updated; a failure then undoes them."""
    order = await orm(
        lambda: (
            Order.objects.filter(
                status__in=Order.REFUNDABLE, customer__is_internal=False, total__lt=LARGE_REFUND_THRESHOLD
            )
            .order_by("pk")
            .first()
        )
    )
    if failure == "validation":
        # A validation error raised while saving the order, after the refund was saved and logged.
        original_save = Order.save

        def failing_save(self, *args, **kwargs):
            if kwargs.get("update_fields"):
                raise ValidationError({"refunded_total": "Simulated check failed."})
            return original_save(self, *args, **kwargs)

        monkeypatch.setattr(Order, "save", failing_save)
        expected = ["issue_refund rejected the input", "refunded_total: Simulated check failed."]
    else:
        # A crash in the very last step, after the refund, its log entry and the order were all written.
        monkeypatch.setattr(type(admin.site.get_model_admin(Order)), "log_change", _fail_with(RuntimeError("boom")))
        expected = ["issue_refund failed unexpectedly; nothing was changed"]
    before = await snapshot()
    async with mcp_client(demo["support_agent"]) as client:
        error(
            await client.call_tool("issue_refund", {"order_id": order.pk, "amount": "1.00", "reason": "goodwill"}),
            *expected,
        )
    assert await snapshot() == before


async def test_generated_writes_failing_after_partial_work_leave_nothing_behind(demo, monkeypatch):
    customer_admin = type(admin.site.get_model_admin(Customer))
    customer = await orm(lambda: Customer.objects.filter(tickets__isnull=False).order_by("pk").first())
    before = await snapshot()
    async with mcp_client(demo["admin"]) as client:
        # The object is saved, then logging fails.
        monkeypatch.setattr(customer_admin, "log_addition", _fail_with(RuntimeError("boom")))
        error(
            await client.call_tool("create_customer", {"name": "Ann", "email": "ann.new@example.org", "country": "GB"}),
            "nothing was changed",
        )
        monkeypatch.setattr(customer_admin, "log_change", _fail_with(ValidationError("Simulated.")))
        error(
            await client.call_tool("update_customer", {"id": customer.pk, "name": "Renamed Person"}),
            "update_customer rejected the input",
        )
        # The deletion is logged, then deleting fails.
        monkeypatch.setattr(customer_admin, "delete_model", _fail_with(RuntimeError("boom")))
        error(await client.call_tool("delete_customer", {"id": customer.pk}), "nothing was changed")
    assert await snapshot() == before


async def test_ticket_status_failing_after_save_leaves_nothing_behind(demo, monkeypatch):
    ticket = await orm(
        lambda: (
            SupportTicket.objects.filter(customer__is_internal=False).exclude(status="closed").order_by("pk").first()
        )
    )
    monkeypatch.setattr(type(admin.site.get_model_admin(SupportTicket)), "log_change", _fail_with(RuntimeError("boom")))
    before = await snapshot()
    async with mcp_client(demo["support_agent"]) as client:
        error(
            await client.call_tool(
                "update_ticket_status", {"ticket_id": ticket.pk, "status": "closed", "note": "Done."}
            ),
            "nothing was changed",
        )
    assert await snapshot() == before


# -- tickets -------------------------------------------------------------------------------------


async def test_mark_resolved_action_is_all_or_nothing(demo, mode):
    tickets = await orm(lambda: list(SupportTicket.objects.exclude(status="resolved").order_by("pk")[:3]))
    ids = [t.pk for t in tickets]
    statuses_before = await orm(lambda: dict(SupportTicket.objects.values_list("pk", "status")))
    before = await snapshot()
    async with mcp_client(demo["admin"], mode) as client:
        error(
            await client.call_tool("mark_resolved_support_tickets", {"ids": [*ids, 999999]}),
            "999999",
            "Nothing was changed",
        )
        assert await snapshot() == before

        result = ok(await client.call_tool("mark_resolved_support_tickets", {"ids": ids}))
    assert result == {"ids": ids, "messages": [f"{len(ids)} ticket(s) marked as resolved."]}
    statuses = await orm(lambda: dict(SupportTicket.objects.values_list("pk", "status")))
    assert all(statuses[pk] == "resolved" for pk in ids)
    assert {pk: s for pk, s in statuses.items() if pk not in ids} == {
        pk: s for pk, s in statuses_before.items() if pk not in ids
    }


async def test_update_ticket_status_appends_the_note_and_logs_a_change(demo, mode):
    agent = demo["support_agent"]
    ticket = await orm(
        lambda: (
            SupportTicket.objects.filter(customer__is_internal=False, status="open").order_by("pk").first()
            or SupportTicket.objects.filter(customer__is_internal=False)
            .exclude(status="pending")
            .order_by("pk")
            .first()
        )
    )
    mark = await last_log_pk()
    async with mcp_client(agent, mode) as client:
        result = ok(
            await client.call_tool(
                "update_ticket_status",
                {
                    "ticket_id": ticket.pk,
                    "status": "pending",
                    "note": "Asked the customer for photos.",
                },
            )
        )
        assert result == {"ticket_id": ticket.pk, "previous_status": ticket.status, "status": "pending"}
        after = await orm(SupportTicket.objects.get, pk=ticket.pk)
        assert after.status == "pending"
        assert after.body == f"{ticket.body}\n\n[support_agent] Asked the customer for photos."
        assert (after.subject, after.priority, after.customer_id) == (
            ticket.subject,
            ticket.priority,
            ticket.customer_id,
        )
        [entry] = await log_entries_after(mark)
        assert (entry.action_flag, entry.user_id, entry.object_id, entry.content_type.model_class()) == (
            CHANGE,
            agent.pk,
            str(ticket.pk),
            SupportTicket,
        )
        assert "status" in [f.lower() for f in logged_fields(entry)]

        # Without a note the body stays as it is.
        ok(await client.call_tool("update_ticket_status", {"ticket_id": ticket.pk, "status": "resolved"}))
    final = await orm(SupportTicket.objects.get, pk=ticket.pk)
    assert (final.status, final.body) == ("resolved", after.body)


# -- searching -----------------------------------------------------------------------------------


async def walk(client, tool, arguments, page_size):
    """Follow next_cursor to the end; return the pages of ids."""
    pages, cursor = [], None
    while True:
        page = ok(
            await client.call_tool(
                tool, {**arguments, "page_size": page_size, **({"cursor": cursor} if cursor else {})}
            )
        )
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "runaway pagination"


def _expected_customers(user, filters, ordering):
    queryset = visible_customers(user).filter(**filters)
    return list(queryset.order_by(*ordering).values_list("pk", flat=True))


@pytest.mark.parametrize(
    "user,arguments,ordering,page_size",
    [
        ("support_agent", {}, ("-created", "-id"), 7),
        ("support_agent", {}, ("-created", "-id"), 13),  # 39 visible: exactly three full pages
        ("admin", {}, ("-created", "-id"), 6),
        ("support_agent", {"status": "active", "ordering": "name"}, ("name", "-pk"), 4),
        ("admin", {"ordering": "-lifetime_value"}, ("-lifetime_value", "-pk"), 9),
        ("support_agent", {"ordering": "country"}, ("country", "-pk"), 5),  # many ties
    ],
)
async def test_pagination_walks_every_page_once(demo, mode, user, arguments, ordering, page_size):
    filters = {k: v for k, v in arguments.items() if k != "ordering"}
    expected = await orm(_expected_customers, demo[user], filters, ordering)
    async with mcp_client(demo[user], mode) as client:
        pages = await walk(client, "search_customers", arguments, page_size)
    seen = [pk for page in pages for pk in page]
    assert seen == expected
    assert len(set(seen)) == len(seen)
    assert len(pages) == max(1, math.ceil(len(expected) / page_size))
    assert all(len(page) == page_size for page in pages[:-1])


async def test_pagination_of_orders_matches_the_orm(demo, mode):
    expected = await orm(
        lambda: list(
            Order.objects.filter(customer__is_internal=False, status="paid")
            .order_by("total", "-pk")
            .values_list("pk", flat=True)
        )
    )
    async with mcp_client(demo["support_agent"], mode) as client:
        pages = await walk(client, "search_orders", {"status": "paid", "ordering": "total"}, 8)
    assert [pk for page in pages for pk in page] == expected


def _admin_search(model, user, query):
    model_admin = admin.site.get_model_admin(model)
    request = admin_request(user)
    queryset, may_have_duplicates = model_admin.get_search_results(request, model_admin.get_queryset(request), query)
    return queryset.distinct() if may_have_duplicates else queryset


async def test_customer_search_with_query_filters_and_ordering_matches_the_orm(demo, mode):
    agent = demo["support_agent"]
    target = await orm(
        lambda: Customer.objects.filter(is_internal=False, status="active").exclude(company="").order_by("pk")[3]
    )
    first_name = target.name.split()[0]
    cases = [
        (
            {"query": first_name, "status": "active", "country": target.country, "ordering": "-lifetime_value"},
            first_name,
            {"status": "active", "country": target.country},
            ("-lifetime_value", "-pk"),
        ),
        (
            {"query": target.name, "status": "active", "created_before": "2999-01-01", "ordering": "email"},
            target.name,
            {"status": "active"},
            ("email", "-pk"),
        ),
        (
            {
                "query": target.company.split()[0].lower(),
                "status": "active",
                "country": target.country,
                "ordering": "name",
            },
            target.company.split()[0].lower(),
            {"status": "active", "country": target.country},
            ("name", "-pk"),
        ),
    ]
    async with mcp_client(agent, mode) as client:
        for arguments, query, filters, ordering in cases:
            expected = await orm(
                lambda query=query, filters=filters, ordering=ordering: list(
                    _admin_search(Customer, agent, query)
                    .filter(**filters)
                    .order_by(*ordering)
                    .values_list("pk", flat=True)
                )
            )
            assert target.pk in expected
            page = ok(await client.call_tool("search_customers", {**arguments, "page_size": 100}))
            assert [item["id"] for item in page["items"]] == expected, arguments
            assert page["next_cursor"] is None
            everyone = await orm(lambda: visible_customers(agent).count())
            assert len(expected) < everyone


async def test_ticket_search_with_query_filters_and_ordering_matches_the_orm(demo, mode):
    agent = demo["support_agent"]
    sample = await orm(lambda: SupportTicket.objects.filter(customer__is_internal=False).order_by("pk")[2])
    word = sample.subject.split()[-1].rstrip("?")
    arguments = {"query": word, "status": sample.status, "priority": sample.priority, "ordering": "created"}
    expected = await orm(
        lambda: list(
            _admin_search(SupportTicket, agent, word)
            .filter(status=sample.status, priority=sample.priority)
            .order_by("created", "-pk")
            .values_list("pk", flat=True)
        )
    )
    assert sample.pk in expected
    async with mcp_client(agent, mode) as client:
        page = ok(await client.call_tool("search_support_tickets", {**arguments, "page_size": 100}))
    assert [item["id"] for item in page["items"]] == expected


async def test_date_range_filters(demo, mode):
    admin_user = demo["admin"]
    created = await orm(lambda: list(Customer.objects.order_by("created").values_list("created", flat=True)))
    low, high = created[10], created[30]
    utc = datetime.UTC

    def customers_between(after=None, before=None):
        queryset = Customer.objects.all()
        if after is not None:
            queryset = queryset.filter(created__gte=after)
        if before is not None:
            queryset = queryset.filter(created__lt=before)
        return list(queryset.order_by("-created", "-id").values_list("pk", flat=True))

    order_days = await orm(lambda: sorted({c.date() for c in Order.objects.values_list("created", flat=True)}))
    day = order_days[len(order_days) // 2]
    midnight = datetime.datetime.combine(day, datetime.time.min, tzinfo=utc)

    async with mcp_client(admin_user, mode) as client:

        async def ids(tool, arguments):
            return [pk for page in await walk(client, tool, arguments, 50) for pk in page]

        # Full date-times (with offset or Z): on or after `after`, strictly before `before`.
        between = await ids("search_customers", {"created_after": low.isoformat(), "created_before": high.isoformat()})
        assert between == await orm(customers_between, low, high)
        assert len(between) == 20
        zulu = await ids("search_customers", {"created_after": low.isoformat().replace("+00:00", "Z")})
        assert zulu == await orm(customers_between, low)
        assert len(zulu) == 30
        assert await ids("search_customers", {"created_before": low.isoformat()}) == await orm(
            customers_between, None, low
        )
        # A naive date-time is read as UTC.
        naive = low.replace(tzinfo=None, microsecond=0)
        assert await ids("search_customers", {"created_after": naive.isoformat()}) == await orm(
            customers_between, naive.replace(tzinfo=utc)
        )
        # Date-only bounds on orders: from midnight UTC of that day.
        expected_after = await orm(
            lambda: list(
                Order.objects.filter(created__gte=midnight).order_by("-created", "-id").values_list("pk", flat=True)
            )
        )
        expected_before = await orm(
            lambda: list(
                Order.objects.filter(created__gte=midnight - datetime.timedelta(days=90), created__lt=midnight)
                .order_by("-created", "-id")
                .values_list("pk", flat=True)
            )
        )
        assert expected_after and expected_before
        assert await ids("search_orders", {"created_after": day.isoformat()}) == expected_after
        # The demo's order search takes ranges of at most 90 days (a business rule, mcp_rules).
        window = {"created_after": (day - datetime.timedelta(days=90)).isoformat(), "created_before": day.isoformat()}
        assert await ids("search_orders", window) == expected_before
        # An empty range is an empty page, not an error.
        assert (
            await ids("search_customers", {"created_after": high.isoformat(), "created_before": low.isoformat()}) == []
        )
