"""Create deterministic demo data, the support and analyst groups, and the demo users.

The same arguments give the same rows with the same ids on every run, on any database, so
documentation can quote them. Every row passes its model's full_clean() and no date lies in the
future (tests/test_seed_demo.py checks both; validating each row here would make seeding slow).
"""

import random
import secrets
import unicodedata
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer, Order, Refund, SupportTicket
from mcp_bridge.grants import sync_tool_permissions
from mcp_bridge.models import Tool

FIRST = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farah",
    "Gustavo",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Lena",
    "Mateo",
    "Nia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Almeida",
    "Becker",
    "Chen",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hughes",
    "Ito",
    "Jansen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Visser",
]
COMPANIES = [
    "",
    "",
    "Acme Ltd",
    "Globex",
    "Initech",
    "Umbrella GmbH",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Imports",
    "Soylent SA",
    "Tyrell Corp",
    "Cyberdyne",
    "Wonka Foods",
]
SUBJECTS = [
    "Parcel arrived damaged",
    "Where is my order?",
    "Invoice has the wrong VAT number",
    "Cannot log in",
    "Refund not received yet",
    "Wrong size delivered",
    "Change delivery address",
    "Charged twice",
]

SUPPORT_PERMISSIONS = [
    "view_customer",
    "view_order",
    "view_supportticket",
    "change_supportticket",
    "view_refund",
    "add_refund",
]
SUPPORT_TOOLS = [
    "search_customers",
    "get_customer",
    "search_orders",
    "get_order",
    "search_support_tickets",
    "get_support_ticket",
    "update_ticket_status",
    "issue_refund",
]
REPORT_TOOLS = ["call_revenue_report", "call_churn_risk_report", "call_cancel_job"]
ANALYST_PERMISSIONS = ["view_customer", "view_order", "view_supportticket", "view_refund"]
BATCH = 5000
DEMO_MODELS = (Customer, Order, SupportTicket, Refund)


def ascii_letters(text):
    """'Chloé' -> 'chloe': names keep their accents, email addresses must be ASCII to be valid."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


class Command(BaseCommand):
    help = "Replace the demo data with a deterministic data set; create groups and demo users."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1000, help="How many customers (default 1000).")
        parser.add_argument("--orders-per-customer", type=int, default=3)
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, customers, orders_per_customer, seed, **options):
        if customers < 1 or orders_per_customer < 0:
            raise CommandError("--customers must be at least 1 and --orders-per-customer at least 0.")
        rng = random.Random(seed)
        started = timezone.now()
        with transaction.atomic():
            Refund.objects.all().delete()
            SupportTicket.objects.all().delete()
            Order.objects.all().delete()
            Customer.objects.all().delete()
            # Orders are placed up to `orders_per_customer` days after sign-up: sign-ups end early
            # enough for the last of them to lie in the past.
            signed_up = self.create_customers(rng, customers, until=started - timedelta(days=orders_per_customer + 1))
            self.create_orders(rng, signed_up, orders_per_customer)
            self.create_tickets(rng, signed_up)
            self.reset_sequences()
            sync_tool_permissions()
            self.create_groups()
        passwords = self.create_users()
        elapsed = (timezone.now() - started).total_seconds()
        self.stdout.write(
            f"Seeded {Customer.objects.count()} customers, {Order.objects.count()} orders and "
            f"{SupportTicket.objects.count()} tickets in {elapsed:.1f}s."
        )
        for username, password in passwords.items():
            self.stdout.write(f"Created user {username!r} with password {password!r} (shown once).")

    def create_customers(self, rng, count, until):
        """Create customers 1..count, one sign-up a minute up to *until*; return [(id, created)]."""
        countries = [c for c, _ in Customer.Country.choices]
        statuses = ["active"] * 6 + ["lead"] * 3 + ["churned"]
        batch, signed_up = [], []
        for i in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            customer = Customer(
                pk=i + 1,
                name=f"{first} {last}",
                email=f"{ascii_letters(first)}.{ascii_letters(last)}.{i}@example.com",
                phone=f"+44 20 7{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                company=rng.choice(COMPANIES),
                country=rng.choice(countries),
                status=rng.choice(statuses),
                lifetime_value=Decimal(rng.randrange(0, 500000)) / 100,
                is_internal=(i % 97 == 0),
                created=until - timedelta(minutes=count - 1 - i),
            )
            batch.append(customer)
            signed_up.append((customer.pk, customer.created))
            if len(batch) >= BATCH:
                Customer.objects.bulk_create(batch)
                batch = []
        Customer.objects.bulk_create(batch)
        return signed_up

    def create_orders(self, rng, signed_up, per_customer):
        statuses = ["paid"] * 4 + ["shipped"] * 4 + ["pending", "cancelled"]
        batch, order_id = [], 0
        for customer_id, created in signed_up:
            for n in range(per_customer):
                order_id += 1
                batch.append(
                    Order(
                        pk=order_id,
                        customer_id=customer_id,
                        status=rng.choice(statuses),
                        total=Decimal(rng.randrange(500, 150000)) / 100,
                        created=created + timedelta(days=n + 1),
                    )
                )
                if len(batch) >= BATCH:
                    Order.objects.bulk_create(batch)
                    batch = []
        Order.objects.bulk_create(batch)

    def create_tickets(self, rng, signed_up):
        statuses = [s for s, _ in SupportTicket.Status.choices]
        priorities = [p for p, _ in SupportTicket.Priority.choices]
        batch = []
        for ticket_id, (customer_id, created) in enumerate(signed_up[::2], 1):  # every other customer has a ticket
            subject = rng.choice(SUBJECTS)
            batch.append(
                SupportTicket(
                    pk=ticket_id,
                    customer_id=customer_id,
                    subject=subject,
                    body=f"{subject}. Please help, order reference in my account.",
                    status=rng.choice(statuses),
                    priority=rng.choice(priorities),
                    created=created + timedelta(hours=5),
                )
            )
            if len(batch) >= BATCH:
                SupportTicket.objects.bulk_create(batch)
                batch = []
        SupportTicket.objects.bulk_create(batch)

    def reset_sequences(self):
        """Continue each demo table's ids after the seeded ones, as loaddata does after a fixture.

        sequence_reset_sql() is what PostgreSQL needs. SQLite's AUTOINCREMENT also remembers the
        highest id a table ever held (a refund issued before this run); sequence_reset_by_name_sql(),
        which flush uses, makes it forget, so the next id follows the rows the table holds now.
        """
        sequences = [{"table": model._meta.db_table, "column": model._meta.pk.column} for model in DEMO_MODELS]
        statements = [
            *connection.ops.sequence_reset_by_name_sql(no_style(), sequences),
            *connection.ops.sequence_reset_sql(no_style(), DEMO_MODELS),
        ]
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def create_groups(self):
        support, _ = Group.objects.get_or_create(name="support")
        analyst, _ = Group.objects.get_or_create(name="analyst")
        model_perms = Permission.objects.filter(content_type__app_label="customers")
        tool_perms = Permission.objects.filter(content_type__app_label=Tool._meta.app_label, content_type__model="tool")
        support.permissions.set(
            list(model_perms.filter(codename__in=SUPPORT_PERMISSIONS))
            + list(tool_perms.filter(codename__in=[Tool.permission_codename(t) for t in SUPPORT_TOOLS]))
        )
        # Analysts read everything and run the reports (get_job_status is one of the call_get_ grants).
        analyst_tools = [
            p for p in tool_perms if p.codename.startswith(("call_search_", "call_get_")) or p.codename in REPORT_TOOLS
        ]
        analyst.permissions.set(list(model_perms.filter(codename__in=ANALYST_PERMISSIONS)) + analyst_tools)

    def create_users(self):
        User = get_user_model()
        passwords = {}
        for username, group, superuser in (
            ("admin", None, True),
            ("support_agent", "support", False),
            ("analyst", "analyst", False),
        ):
            user = User.objects.filter(username=username).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(
                    username, f"{username}@example.com", password, is_staff=True, is_superuser=superuser
                )
                passwords[username] = password
            if group:
                user.groups.set([Group.objects.get(name=group)])
        return passwords
