"""A relation written over MCP is scoped by the related model's admin; without one, nothing can be chosen."""

import pytest
from django.contrib import admin

from customers.models import Customer, SupportTicket
from mcp_bridge import McpAdminMixin
from mcp_bridge.requests import McpRequest
from mcp_bridge.sites import site


class OtherTicketAdmin(McpAdminMixin, admin.ModelAdmin):
    mcp_name, mcp_name_plural = "other_ticket", "other_tickets"
    search_fields = ("subject",)
    mcp_operations = ("search", "get", "create")
    mcp_fields = ("id", "customer", "subject", "body")


@pytest.fixture
def site_without_customers(settings):
    """A second admin site in ADMIN_SITES that registers support tickets but not customers."""
    other = admin.AdminSite(name="other")
    other.register(SupportTicket, OtherTicketAdmin)
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "ADMIN_SITES": ["django.contrib.admin.site", other]}
    site.reset()
    yield other
    site.reset()


@pytest.mark.django_db
def test_foreign_key_to_a_model_the_admin_site_does_not_register_accepts_no_id(
    site_without_customers, django_user_model
):
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    customer = Customer.objects.create(name="Ana Tanaka", email="ana.tanaka@example.com", country="JP")
    result = site.registry.tools["create_other_ticket"].call(
        McpRequest(superuser),
        {"customer": customer.pk, "subject": "Parcel damaged", "body": "Box crushed."},
    )
    assert result.is_error
    assert result.data == (
        "create_other_ticket rejected the input: customer: Customers cannot be chosen here: the admin does not "
        "manage them, so none is visible to you. Correct these values and call create_other_ticket again."
    )
    assert not SupportTicket.objects.exists()
