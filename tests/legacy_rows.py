"""Rows today's validation refuses, stored the way imports, bulk writes and old code store them.

A real database holds such rows; what the server sends about them must still match what it
declares. bulk_create() runs no validation, so each row keeps exactly these values.
"""

from decimal import Decimal

from django.db import connection
from django.utils import timezone

from customers.models import Customer, Order, Refund, SupportTicket


def insert_legacy_rows():
    """Add a legacy customer with an order, a ticket and a refund, newer than any other row (so
    they lead every first page); return {model: pk}."""
    now = timezone.now()
    # SQLite stores a string of any length in a varchar column; PostgreSQL refuses it.
    overlong = " (imported from the old CRM, notes kept verbatim)" * 6 if connection.vendor == "sqlite" else ""
    customer = Customer(
        name=f"José Núñez{overlong}",
        email="josé.núñez@example.com",  # a non-ASCII local part: EmailValidator and Ajv's "email" refuse it
        phone="+34 91 000 0000",
        company="Legacy Imports SL",
        country="EU",  # not one of today's countries
        status="vip",  # not one of today's statuses
        lifetime_value=Decimal("-12.50"),
        created=now,
    )
    Customer.objects.bulk_create([customer])
    order = Order(customer_id=customer.pk, status="disputed", total=Decimal("-5.00"), created=now)
    Order.objects.bulk_create([order])
    ticket = SupportTicket(
        customer_id=customer.pk,
        subject=f"Imported ticket{overlong}",
        body="",
        status="escalated",
        priority="critical",
        created=now,
    )
    SupportTicket.objects.bulk_create([ticket])
    refund = Refund(order_id=order.pk, amount=Decimal("-3.00"), reason="chargeback", created=now)
    Refund.objects.bulk_create([refund])
    rows = {Customer: customer.pk, Order: order.pk, SupportTicket: ticket.pk, Refund: refund.pk}
    assert all(rows.values()), "bulk_create did not return the new ids"
    return rows
