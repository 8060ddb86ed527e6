"""Prepare a benchmark database: migrate, seed (unless already seeded at that size), grant, issue keys.

Prints one JSON object on stdout: {"customers": N, "orders": M, "seeded": bool, "keys": {user: key}}.
"""

import json

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management import create_contenttypes
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from customers.models import Customer, Order
from mcp_bridge.grants import sync_tool_permissions
from mcp_bridge.models import ApiKey, Tool
from mcp_bridge.sites import site


class Command(BaseCommand):
    help = "Prepare the benchmark database (bench settings only)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, required=True)
        parser.add_argument("--orders-per-customer", type=int, default=3)
        parser.add_argument("--reseed", action="store_true")
        parser.add_argument("--keys", default="support_agent", help="Comma-separated users to issue API keys for.")

    def handle(self, *args, customers, orders_per_customer, reseed, keys, **options):
        if settings.BENCH_PROXY_MODELS:
            # The proxy app has no migrations (its model count varies), so migrate runs without it
            # (see bench/run.py); here its content types, permissions and tool grants are created.
            app_config = apps.get_app_config("bench_proxies")
            create_contenttypes(app_config, verbosity=0)
            create_permissions(app_config, verbosity=0)
            sync_tool_permissions()
        else:
            call_command("migrate", verbosity=0, interactive=False)
        User = get_user_model()
        seeded = False
        have = (Customer.objects.count(), Order.objects.count())
        if (
            reseed
            or have != (customers, customers * orders_per_customer)
            or not User.objects.filter(username="support_agent").exists()
        ):
            call_command("seed_demo", customers=customers, orders_per_customer=orders_per_customer, stdout=_Null())
            seeded = True
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
        self.grant_proxy_tools()
        issued = {}
        for username in [u for u in keys.split(",") if u]:
            user = User.objects.get(username=username)
            ApiKey.objects.filter(user=user, name__startswith="bench ").delete()
            issued[username] = ApiKey.issue(user, "bench key")[1]
        self.stdout.write(
            json.dumps(
                {
                    "customers": Customer.objects.count(),
                    "orders": Order.objects.count(),
                    "seeded": seeded,
                    "keys": issued,
                    "tools": len(site.registry.tools),
                }
            )
        )

    def grant_proxy_tools(self):
        """With BENCH_PROXY_MODELS, let the support group use every proxy model's tools (bench only)."""
        proxy_tools = [name for name in site.registry.tools if "customer_view" in name]
        if not proxy_tools:
            return
        support = Group.objects.get(name="support")
        perms = Permission.objects.filter(content_type__app_label="bench_proxies", codename__startswith="view_")
        grants = Permission.objects.filter(
            content_type__app_label=Tool._meta.app_label,
            codename__in=[Tool.permission_codename(n) for n in proxy_tools],
        )
        support.permissions.add(*perms, *grants)


class _Null:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
