"""Create deterministic demo data, the support and analyst groups, and the demo users."""

import random
import secrets
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, Order, Refund, SupportTicket
from mcp_bridge.grants import sync_tool_permissions
from mcp_bridge.models import Tool

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farah", "Gustavo", "Hana", "Ivan", "Julia", "Kenji", "Lena",
         "Mateo", "Nia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Yusuf", "Zoe"]
LAST = ["Almeida", "Becker", "Chen", "Dubois", "Evans", "Fischer", "García", "Hughes", "Ito", "Jansen", "Kowalski",
        "López", "Müller", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka", "Usman", "Visser"]
COMPANIES = ["", "", "Acme Ltd", "Globex", "Initech", "Umbrella GmbH", "Stark Industries", "Wayne Enterprises",
             "Hooli", "Vandelay Imports", "Soylent SA", "Tyrell Corp", "Cyberdyne", "Wonka Foods"]
SUBJECTS = ["Parcel arrived damaged", "Where is my order?", "Invoice has the wrong VAT number", "Cannot log in",
            "Refund not received yet", "Wrong size delivered", "Change delivery address", "Charged twice"]

SUPPORT_PERMISSIONS = ["view_customer", "view_order", "view_supportticket", "change_supportticket", "view_refund", "add_refund"]
SUPPORT_TOOLS = ["search_customers", "get_customer", "search_orders", "get_order", "search_support_tickets",
                 "get_support_ticket", "update_ticket_status", "issue_refund"]
ANALYST_PERMISSIONS = ["view_customer", "view_order", "view_supportticket", "view_refund"]
BATCH = 5000


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
            self.create_customers(rng, customers)
            self.create_orders(rng, orders_per_customer)
            self.create_tickets(rng)
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

    def create_customers(self, rng, count):
        now = timezone.now()
        countries = [c for c, _ in Customer.Country.choices]
        statuses = ["active"] * 6 + ["lead"] * 3 + ["churned"]
        batch = []
        for i in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            batch.append(Customer(
                name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}.{i}@example.com",
                phone=f"+44 20 7{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                company=rng.choice(COMPANIES),
                country=rng.choice(countries),
                status=rng.choice(statuses),
                lifetime_value=Decimal(rng.randrange(0, 500000)) / 100,
                is_internal=(i % 97 == 0),
                created=now - timedelta(minutes=count - i),
            ))
            if len(batch) >= BATCH:
                Customer.objects.bulk_create(batch)
                batch = []
        Customer.objects.bulk_create(batch)

    def create_orders(self, rng, per_customer):
        statuses = ["paid"] * 4 + ["shipped"] * 4 + ["pending", "cancelled"]
        batch = []
        for customer_id, created in Customer.objects.order_by("pk").values_list("pk", "created").iterator(chunk_size=BATCH):
            for n in range(per_customer):
                batch.append(Order(
                    customer_id=customer_id,
                    status=rng.choice(statuses),
                    total=Decimal(rng.randrange(500, 150000)) / 100,
                    created=created + timedelta(days=n + 1),
                ))
                if len(batch) >= BATCH:
                    Order.objects.bulk_create(batch)
                    batch = []
        Order.objects.bulk_create(batch)

    def create_tickets(self, rng):
        statuses = [s for s, _ in SupportTicket.Status.choices]
        priorities = [p for p, _ in SupportTicket.Priority.choices]
        batch = []
        rows = Customer.objects.order_by("pk").values_list("pk", "created").iterator(chunk_size=BATCH)
        for index, (customer_id, created) in enumerate(rows):
            if index % 2:  # every other customer has a ticket
                continue
            subject = rng.choice(SUBJECTS)
            batch.append(SupportTicket(
                customer_id=customer_id, subject=subject, body=f"{subject}. Please help, order reference in my account.",
                status=rng.choice(statuses), priority=rng.choice(priorities), created=created + timedelta(hours=5),
            ))
            if len(batch) >= BATCH:
                SupportTicket.objects.bulk_create(batch)
                batch = []
        SupportTicket.objects.bulk_create(batch)

    def create_groups(self):
        support, _ = Group.objects.get_or_create(name="support")
        analyst, _ = Group.objects.get_or_create(name="analyst")
        model_perms = Permission.objects.filter(content_type__app_label="customers")
        tool_perms = Permission.objects.filter(content_type__app_label=Tool._meta.app_label, content_type__model="tool")
        support.permissions.set(
            list(model_perms.filter(codename__in=SUPPORT_PERMISSIONS))
            + list(tool_perms.filter(codename__in=[Tool.permission_codename(t) for t in SUPPORT_TOOLS]))
        )
        analyst_tools = [p for p in tool_perms if p.codename.startswith(("call_search_", "call_get_"))]
        analyst.permissions.set(list(model_perms.filter(codename__in=ANALYST_PERMISSIONS)) + analyst_tools)

    def create_users(self):
        User = get_user_model()
        passwords = {}
        for username, group, superuser in (("admin", None, True), ("support_agent", "support", False), ("analyst", "analyst", False)):
            user = User.objects.filter(username=username).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(username, f"{username}@example.com", password,
                                                is_staff=True, is_superuser=superuser)
                passwords[username] = password
            if group:
                user.groups.set([Group.objects.get(name=group)])
        return passwords
