"""The demo's reports as plain functions: exact figures, month bounds, scoping, scores and their reasons.

Querysets come from the demo admins' own get_queryset(), as the report tools get them, for a staff
user who is not a superuser, so internal customers are hidden.
"""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from customers.models import Customer, Order, SupportTicket
from customers.reports import (
    CHURN_CSV_HEADER,
    REVENUE_CSV_HEADER,
    churn_risk,
    months_between,
    revenue_by_country_month,
    revenue_csv,
)
from customers.serializers import ChurnRiskReportInput, RevenueReportInput

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2025, 7, 1, tzinfo=UTC)
PAID, SHIPPED, PENDING = Order.Status.PAID, Order.Status.SHIPPED, Order.Status.PENDING
CANCELLED, REFUNDED = Order.Status.CANCELLED, Order.Status.REFUNDED


def at(year, month, day, *time):
    return datetime.datetime(year, month, day, *time, tzinfo=UTC)


def customer(name, country="DE", signed_up=None, internal=False):
    slug = name.lower().replace(" ", ".")
    return Customer.objects.create(
        name=name,
        email=f"{slug}@example.com",
        country=country,
        is_internal=internal,
        created=signed_up or at(2024, 1, 1),
    )


def order(who, created, total, status=PAID, refunded="0.00"):
    return Order.objects.create(
        customer=who, created=created, total=Decimal(total), status=status, refunded_total=Decimal(refunded)
    )


def ticket(who, status=SupportTicket.Status.OPEN, priority=SupportTicket.Priority.NORMAL):
    return SupportTicket.objects.create(
        customer=who, subject="Help", body="Please help.", status=status, priority=priority, created=NOW
    )


@pytest.fixture
def staff_request():
    """A request by a staff user who is not a superuser: the admins hide internal customers from them."""
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.create_user("reporter", is_staff=True)
    return request


def scoped(model, request):
    return admin.site.get_model_admin(model).get_queryset(request)


# -- revenue -------------------------------------------------------------------------------------------


@pytest.fixture
def sales():
    alice = customer("Alice", "DE")
    bob = customer("Bob", "FR")
    carol = customer("Carol Internal", "DE", internal=True)
    # January, Germany: every status; revenue counts paid, shipped and (fully) refunded orders.
    order(alice, at(2025, 1, 1), "100.00", PAID)
    order(alice, at(2025, 1, 10), "50.50", SHIPPED, refunded="20.25")
    order(alice, at(2025, 1, 11), "30.00", PENDING)
    order(alice, at(2025, 1, 12), "10.00", CANCELLED)
    order(alice, at(2025, 1, 13), "40.00", REFUNDED, refunded="40.00")
    order(carol, at(2025, 1, 14), "1000.00", PAID)
    # The first and last instants of the range are in it; the instants around it are not.
    order(bob, at(2025, 1, 1, 0, 0, 0), "0.10", PAID)
    order(bob, at(2024, 12, 31, 23, 59, 59, 999999), "500.00", PAID)
    order(alice, at(2025, 3, 31, 23, 59, 59, 999999), "12.34", PAID)
    order(alice, at(2025, 4, 1, 0, 0, 0), "999.00", PAID)
    # Amounts a float sum gets wrong (0.2 + 0.7 = 0.8999999999999999).
    order(bob, at(2025, 2, 5), "0.20", PAID)
    order(bob, at(2025, 2, 6), "0.70", SHIPPED)


def test_revenue_figures_per_country_and_month(sales, staff_request):
    rows, totals = revenue_by_country_month(
        scoped(Order, staff_request), datetime.date(2025, 1, 1), datetime.date(2025, 3, 1)
    )
    assert rows == [
        {"month": "2025-01", "country": "DE", "orders": 5, "revenue": "190.50", "refunds": "60.25", "net": "130.25"},
        {"month": "2025-01", "country": "FR", "orders": 1, "revenue": "0.10", "refunds": "0.00", "net": "0.10"},
        {"month": "2025-02", "country": "FR", "orders": 2, "revenue": "0.90", "refunds": "0.00", "net": "0.90"},
        {"month": "2025-03", "country": "DE", "orders": 1, "revenue": "12.34", "refunds": "0.00", "net": "12.34"},
    ]
    assert totals == {"orders": 9, "revenue": "203.84", "refunds": "60.25", "net": "143.59"}


def test_revenue_covers_whole_months_given_any_day_in_them(sales, staff_request):
    rows, _totals = revenue_by_country_month(
        scoped(Order, staff_request), datetime.date(2025, 2, 17), datetime.date(2025, 3, 5)
    )
    assert [(row["month"], row["country"]) for row in rows] == [("2025-02", "FR"), ("2025-03", "DE")]


def test_revenue_excludes_months_outside_the_range(sales, staff_request):
    rows, totals = revenue_by_country_month(
        scoped(Order, staff_request), datetime.date(2025, 5, 1), datetime.date(2025, 6, 1)
    )
    assert rows == []
    assert totals == {"orders": 0, "revenue": "0.00", "refunds": "0.00", "net": "0.00"}


def test_revenue_of_internal_customers_shows_only_in_an_unscoped_queryset(sales, staff_request):
    january = (datetime.date(2025, 1, 1), datetime.date(2025, 1, 1))
    scoped_rows, _ = revenue_by_country_month(scoped(Order, staff_request), *january)
    all_rows, all_totals = revenue_by_country_month(Order.objects.all(), *january)
    assert scoped_rows[0] == {
        "month": "2025-01",
        "country": "DE",
        "orders": 5,
        "revenue": "190.50",
        "refunds": "60.25",
        "net": "130.25",
    }
    assert all_rows[0]["orders"] == 6
    assert all_rows[0]["revenue"] == "1190.50"
    assert all_totals == {"orders": 7, "revenue": "1190.60", "refunds": "60.25", "net": "1130.35"}


def test_revenue_reports_progress_per_month(sales, staff_request):
    calls = []
    revenue_by_country_month(
        scoped(Order, staff_request),
        datetime.date(2024, 12, 1),
        datetime.date(2025, 2, 1),
        progress=lambda done, total, message: calls.append((done, total, message)),
    )
    assert calls == [(1, 3, "Added up 2024-12."), (2, 3, "Added up 2025-01."), (3, 3, "Added up 2025-02.")]


def test_revenue_csv_has_a_header_and_one_line_per_row(sales, staff_request):
    rows, _ = revenue_by_country_month(
        scoped(Order, staff_request), datetime.date(2025, 1, 1), datetime.date(2025, 3, 1)
    )
    lines = list(csv.reader(io.StringIO(revenue_csv(rows))))
    assert lines[0] == list(REVENUE_CSV_HEADER)
    assert len(lines) == 1 + len(rows)
    assert lines[1] == ["2025-01", "DE", "5", "190.50", "60.25", "130.25"]


def test_months_between_crosses_years():
    assert months_between(datetime.date(2024, 11, 1), datetime.date(2025, 2, 1)) == [
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
    ]


# -- churn risk ----------------------------------------------------------------------------------------


@pytest.fixture
def accounts():
    """Customers whose scores are worked out by hand in test_churn_scores_and_reasons."""
    steady = customer("Steady", "DE", signed_up=at(2025, 1, 1))
    for month in range(1, 7):
        order(steady, at(2025, month, 25), "80.00")
    steady_twin = customer("Steady Twin", "FR", signed_up=at(2025, 1, 1))
    for month in range(1, 7):
        order(steady_twin, at(2025, month, 25), "80.00")

    dormant = customer("Dormant", "DE", signed_up=at(2024, 1, 1))
    order(dormant, at(2024, 1, 10), "100.00")
    order(dormant, at(2024, 1, 15), "100.00")
    ticket(dormant, priority=SupportTicket.Priority.URGENT)
    ticket(dormant, status=SupportTicket.Status.PENDING)
    ticket(dormant, status=SupportTicket.Status.RESOLVED, priority=SupportTicket.Priority.URGENT)

    refunder = customer("Refunder", "FR", signed_up=at(2025, 3, 1))
    order(refunder, at(2025, 6, 1), "200.00", SHIPPED, refunded="76.00")
    order(refunder, at(2025, 6, 20), "50.00")
    ticket(refunder, status=SupportTicket.Status.PENDING, priority=SupportTicket.Priority.HIGH)

    never = customer("Never Ordered", "US", signed_up=at(2024, 12, 1))

    internal = customer("Internal Tester", "DE", signed_up=at(2020, 1, 1), internal=True)
    ticket(internal, priority=SupportTicket.Priority.URGENT)
    return {
        "steady": steady,
        "steady_twin": steady_twin,
        "dormant": dormant,
        "refunder": refunder,
        "never": never,
        "internal": internal,
    }


def run_churn(request, top=10, **options):
    return churn_risk(
        scoped(Customer, request), scoped(Order, request), scoped(SupportTicket, request), NOW, top, **options
    )


def test_churn_scores_and_reasons(accounts, staff_request):
    top, _csv_text, bands = run_churn(staff_request)
    assert [(row["name"], row["score"], row["band"], row["reasons"]) for row in top] == [
        # 533 idle days: 45; 2 orders in 547 days (1.33 a year): 15.55; 2 open tickets, 1 urgent: 6 + 4.
        (
            "Dormant",
            71,
            "high",
            ["no order for 533 days", "only 2 orders in 547 days", "2 open tickets (1 urgent)"],
        ),
        # 212 idle days: 45 * 182 / 300 = 27.3; no orders at all: 20.
        ("Never Ordered", 47, "medium", ["no order since signing up 212 days ago"]),
        # 76 of 250 refunded: 20 * 0.304 / 0.5 = 12.16; 1 open high ticket: 3 + 2; 2 orders in 122 days: 0.05.
        ("Refunder", 17, "low", ["30% of spend refunded", "1 open ticket (1 high)"]),
        # Equal scores: lower id first.
        ("Steady", 0, "low", []),
        ("Steady Twin", 0, "low", []),
    ]
    assert bands == {"low": 3, "medium": 1, "high": 1}
    dormant = top[0]
    assert dormant["customer_id"] == accounts["dormant"].pk
    assert dormant["last_order"] == "2024-01-15T00:00:00+00:00"
    assert dormant["days_since_last_order"] == 533
    assert (dormant["orders"], dormant["spent"], dormant["refunded"]) == (2, "200.00", "0.00")
    assert (dormant["open_tickets"], dormant["urgent_tickets"]) == (2, 1)
    assert top[1]["last_order"] is None
    assert top[2]["spent"] == "250.00"


def test_churn_top_keeps_the_highest_scores(accounts, staff_request):
    top, csv_text, bands = run_churn(staff_request, top=2)
    assert [row["name"] for row in top] == ["Dormant", "Never Ordered"]
    # The CSV and the bands still cover everyone.
    assert len(csv_text.splitlines()) == 1 + 5
    assert sum(bands.values()) == 5


def test_churn_min_score_filters_the_list_and_the_csv_but_not_the_bands(accounts, staff_request):
    top, csv_text, bands = run_churn(staff_request, min_score=40)
    assert [row["name"] for row in top] == ["Dormant", "Never Ordered"]
    assert [line[1] for line in csv.reader(io.StringIO(csv_text))][1:] == ["Dormant", "Never Ordered"]
    assert bands == {"low": 3, "medium": 1, "high": 1}


def test_churn_ignores_customers_outside_the_scoped_queryset(accounts, staff_request):
    top, csv_text, bands = run_churn(staff_request)
    assert "Internal Tester" not in [row["name"] for row in top]
    assert "Internal Tester" not in csv_text

    everyone_top, _csv, everyone_bands = churn_risk(
        Customer.objects.all(), Order.objects.all(), SupportTicket.objects.all(), NOW, 10
    )
    assert everyone_top[0]["name"] == "Internal Tester"
    assert everyone_top[0]["reasons"] == ["no order since signing up 2008 days ago", "1 open ticket (1 urgent)"]
    assert sum(everyone_bands.values()) == 6


def test_churn_csv_has_a_header_and_one_line_per_customer(accounts, staff_request):
    _top, csv_text, _bands = run_churn(staff_request)
    lines = list(csv.reader(io.StringIO(csv_text)))
    assert lines[0] == list(CHURN_CSV_HEADER)
    assert len(lines) == 1 + 5
    # In id order, reasons joined into one column.
    assert [line[0] for line in lines[1:]] == sorted((line[0] for line in lines[1:]), key=int), (
        "customers appear in id order"
    )
    dormant = next(line for line in lines if line[1] == "Dormant")
    assert dict(zip(CHURN_CSV_HEADER, dormant, strict=True)) == {
        "customer_id": str(accounts["dormant"].pk),
        "name": "Dormant",
        "email": "dormant@example.com",
        "country": "DE",
        "status": "lead",
        "score": "71",
        "band": "high",
        "days_since_last_order": "533",
        "orders": "2",
        "spent": "200.00",
        "refunded": "0.00",
        "open_tickets": "2",
        "urgent_tickets": "1",
        "reasons": "no order for 533 days; only 2 orders in 547 days; 2 open tickets (1 urgent)",
    }


def test_churn_scores_a_customer_whose_orders_are_all_unpaid(staff_request):
    waiting = customer("Waiting", signed_up=at(2025, 6, 1))
    order(waiting, at(2025, 6, 2), "60.00", PENDING)
    order(waiting, at(2025, 6, 3), "20.00", CANCELLED)
    top, _csv_text, _bands = run_churn(staff_request)
    assert [(row["name"], row["orders"], row["spent"], row["refunded"]) for row in top] == [
        ("Waiting", 2, "0.00", "0.00")
    ]


def test_churn_reports_progress_and_stops_when_progress_raises(accounts, staff_request):
    calls = []
    run_churn(staff_request, progress=lambda done, total, message: calls.append((done, total, message)))
    assert calls[0] == (0, 5, "Scoring 5 customers.")
    assert calls[-1] == (5, 5, "Scored 5 of 5 customers.")
    assert [done for done, _total, _message in calls] == [0, 1, 2, 3, 4, 5]

    class Cancelled(Exception):
        pass

    def cancel_after_two(done, total, message):
        if done >= 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        run_churn(staff_request, progress=cancel_after_two)


# -- report inputs -------------------------------------------------------------------------------------


def test_revenue_input_accepts_months_and_dates():
    serializer = RevenueReportInput(data={"start_month": "2024-02", "end_month": "2026-01-31"})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {
        "start_month": datetime.date(2024, 2, 1),
        "end_month": datetime.date(2026, 1, 1),
    }
    serializer = RevenueReportInput(data={"start_month": datetime.date(2025, 3, 9), "end_month": "2025-03"})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["start_month"] == datetime.date(2025, 3, 1)


def test_revenue_input_rejects_more_than_24_months():
    serializer = RevenueReportInput(data={"start_month": "2024-01", "end_month": "2026-01"})
    assert not serializer.is_valid()
    assert serializer.errors == {
        "end_month": [
            "2024-01 to 2026-01 spans 25 months; a report covers at most 24. Move start_month to 2024-02 or "
            "later, or split the range into several reports."
        ]
    }


def test_revenue_input_rejects_an_end_before_the_start():
    serializer = RevenueReportInput(data={"start_month": "2025-03", "end_month": "2025-01"})
    assert not serializer.is_valid()
    assert serializer.errors == {
        "end_month": [
            "end_month (2025-01) is before start_month (2025-03). Set end_month to 2025-03 or later, or swap the two."
        ]
    }


@pytest.mark.parametrize("written", ["2025-13", "2025-02-30", "March 2025", "2025-1", "٢٠٢٥-01"])
def test_revenue_input_rejects_what_is_not_a_month(written):
    serializer = RevenueReportInput(data={"start_month": written, "end_month": "2025-12"})
    assert not serializer.is_valid()
    assert serializer.errors == {"start_month": ['Write a month as "YYYY-MM", e.g. "2026-01".']}


def test_churn_input_defaults_and_bounds():
    serializer = ChurnRiskReportInput(data={})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"top": 50, "min_score": 0}
    serializer = ChurnRiskReportInput(data={"top": 501, "country": "XX", "min_score": -1})
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"top", "country", "min_score"}
    serializer = ChurnRiskReportInput(data={"top": 500, "country": "JP", "min_score": 100})
    assert serializer.is_valid(), serializer.errors
