"""System checks report annotation mistakes with stable ids and hints."""

import pytest
from django.contrib import admin
from django.core import checks

from customers.models import Customer, Order
from mcp_bridge import McpAdminMixin
from mcp_bridge.checks import check_annotations, check_cache, check_model_admin
from mcp_bridge.sites import site


def admin_for(model=Customer, **attrs):
    attrs.setdefault("search_fields", ("name",))
    admin_class = type("BrokenAdmin", (McpAdminMixin, admin.ModelAdmin), attrs)
    return admin_class(model, admin.AdminSite(name="checks"))


def ids(messages):
    return [message.id for message in messages]


def test_demo_annotations_are_clean():
    assert [m for m in check_annotations() if m.level >= checks.WARNING] == []
    assert check_cache() == []


@pytest.mark.parametrize("backend, expected", [
    ("django.core.cache.backends.locmem.LocMemCache", ["mcp_bridge.W006"]),
    ("django.core.cache.backends.dummy.DummyCache", ["mcp_bridge.W005"]),
    ("django.core.cache.backends.filebased.FileBasedCache", []),
])
def test_cache_that_other_processes_cannot_see_is_reported(settings, tmp_path, backend, expected):
    settings.CACHES = {**settings.CACHES, "mcp": {"BACKEND": backend, "LOCATION": str(tmp_path)}}
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "mcp"}
    assert ids(check_cache()) == expected


def test_cache_alias_must_exist(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "missing"}
    messages = check_cache()
    assert ids(messages) == ["mcp_bridge.E005"] and "'default'" in messages[0].hint


def test_unknown_field():
    messages = check_model_admin(admin_for(mcp_fields=("id", "emial")))
    assert ids(messages) == ["mcp_bridge.E003"]
    assert messages[0].msg == "The value of 'mcp_fields[1]' refers to 'emial', which is not a field of 'customers.Customer'."
    assert "email" in messages[0].hint and messages[0].obj.__name__ == "BrokenAdmin"


def test_unknown_operation_and_bad_type():
    assert ids(check_model_admin(admin_for(mcp_operations=("search", "purge")))) == ["mcp_bridge.E002"]
    assert ids(check_model_admin(admin_for(mcp_operations="search"))) == ["mcp_bridge.E001"]


def test_unknown_action():
    messages = check_model_admin(admin_for(mcp_actions=("nuke",)))
    assert ids(messages) == ["mcp_bridge.E004"]


def test_search_without_search_fields_or_filters():
    assert ids(check_model_admin(admin_for(Order, search_fields=(), list_filter=()))) == ["mcp_bridge.W002"]
    assert ids(check_model_admin(admin_for(Order, search_fields=(), list_filter=("status",)))) == []


@pytest.fixture
def extra_admin_site(settings):
    """An admin site with a second annotated Customer admin, added to MCP_BRIDGE['ADMIN_SITES']."""
    other = admin.AdminSite(name="other")
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "ADMIN_SITES": ["django.contrib.admin.site", other]}
    yield other
    site.reset()


def test_duplicate_tool_names(extra_admin_site):
    extra_admin_site.register(Customer, type("DuplicateAdmin", (McpAdminMixin, admin.ModelAdmin), {"search_fields": ("name",)}))
    messages = check_annotations()
    assert ids(messages) == ["mcp_bridge.E101"]
    assert "Two MCP tools are named 'search_customers'" in messages[0].msg


def test_short_description_and_write_without_permission(extra_admin_site):
    import mcp_bridge

    class TerseAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_name, mcp_name_plural = "other_order", "other_orders"
        search_fields = ("status",)

        @mcp_bridge.tool(description="Close it.")
        def close_order(self, request, data):
            return {}

    extra_admin_site.register(Order, TerseAdmin)
    messages = check_annotations()
    assert sorted(ids(messages)) == ["mcp_bridge.W003", "mcp_bridge.W004"]


def test_invalid_tool_name(extra_admin_site):
    import mcp_bridge

    class BadNameAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_name, mcp_name_plural = "other_order", "other_orders"
        search_fields = ("status",)

        @mcp_bridge.tool(name="Close-Order", description="Close an order. Returns nothing. Use it when told to.")
        def close_order(self, request, data):
            return {}

    extra_admin_site.register(Order, BadNameAdmin)
    messages = check_annotations()
    assert ids(messages) == ["mcp_bridge.E103"] and "snake_case" in messages[0].msg
