"""An annotated admin (search + get, like CustomerAdmin's reads) for each benchmark proxy model."""

from django.contrib import admin

from customers.admin import HideInternalCustomersMixin
from mcp_bridge import McpAdminMixin

from .models import PROXY_MODELS


class CustomerViewAdmin(HideInternalCustomersMixin, McpAdminMixin, admin.ModelAdmin):
    customer_path = ""
    list_display = ("name", "email", "company", "country", "status", "lifetime_value", "created")
    list_filter = ("status", "country", "created")
    search_fields = ("name", "email", "company")
    ordering = ("-created", "-id")
    mcp_operations = ("search", "get")
    mcp_fields = ("id", "name", "email", "phone", "company", "country", "status", "lifetime_value", "created")
    mcp_redacted_fields = ("phone",)


for _model in PROXY_MODELS:
    admin.site.register(_model, CustomerViewAdmin)
