"""System checks report annotation and settings mistakes with stable ids, hints and the object at fault.

As in Django's tests/modeladmin/test_checks.py, every test compares whole Error/Warning objects
(message, hint, obj and id). Mistakes only a registry build finds are declared on a second admin
site added to MCP_BRIDGE['ADMIN_SITES'] (the `other_site` fixture), and reported by check_annotations.
"""

import gc
import logging

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.auth.models import Group
from django.core import checks
from rest_framework import serializers

import mcp_bridge
from customers.models import Customer, Order, SupportTicket
from mcp_bridge import McpAdminMixin
from mcp_bridge.backends import McpModelBackend
from mcp_bridge.checks import (
    as_check_message,
    check_annotations,
    check_authentication_backends,
    check_cache,
    check_model_admin,
    check_oauth_settings,
    check_reports,
    check_settings,
    check_throttles,
)
from mcp_bridge.conf import DEFAULTS
from mcp_bridge.exceptions import AnnotationError
from mcp_bridge.requests import McpRequest
from mcp_bridge.sites import McpSite, site

LONG = "Close one order. Use it when the customer asks to close it. Returns nothing; cannot be undone."
ADMIN_PERMISSIONS = "'add', 'change', 'delete', 'module', 'view', 'view_or_change'"


def admin_for(model=Customer, **attrs):
    attrs.setdefault("search_fields", ("name",))
    admin_class = type("BrokenAdmin", (McpAdminMixin, admin.ModelAdmin), attrs)
    return admin_class(model, admin.AdminSite(name="checks"))


@pytest.fixture
def other_site(settings):
    """A second admin site, added to MCP_BRIDGE['ADMIN_SITES'] for one test."""
    forget_earlier_admin_classes()
    other = admin.AdminSite(name="other")
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "ADMIN_SITES": ["django.contrib.admin.site", other]}
    yield other
    site.reset()


def forget_earlier_admin_classes():
    """Free the admin classes earlier tests declared: their decorated methods are served by no admin site
    any more, and mcp_bridge.W007 would report them until the collector frees the classes' reference cycles."""
    gc.collect()


def other_orders_admin(**attrs):
    """An Order admin for the second site, named so that its generated tools do not clash with the demo's."""
    attrs = {"mcp_name": "other_order", "mcp_name_plural": "other_orders", "search_fields": ("status",), **attrs}
    return type("OtherOrderAdmin", (McpAdminMixin, admin.ModelAdmin), attrs)


def test_demo_is_clean():
    forget_earlier_admin_classes()
    assert check_annotations() == []
    assert check_settings() == []
    assert check_cache() == []
    assert check_authentication_backends() == []


# -- E0xx: ModelAdmin options and settings ---------------------------------------------------------


def test_operations_must_be_a_list():
    model_admin = admin_for(mcp_operations="search")
    assert check_model_admin(model_admin) == [
        checks.Error(
            "The value of 'mcp_operations' must be a list or tuple.", obj=type(model_admin), id="mcp_bridge.E001"
        ),
    ]


def test_unknown_operation():
    model_admin = admin_for(mcp_operations=("search", "purge"))
    assert check_model_admin(model_admin) == [
        checks.Error(
            "The value of 'mcp_operations' contains 'purge', which is not an operation.",
            hint="Use any of search, get, create, update, delete.",
            obj=type(model_admin),
            id="mcp_bridge.E002",
        ),
    ]


def test_unknown_operation_stops_the_registry_build_with_the_same_error(other_site):
    admin_class = other_orders_admin(mcp_operations=("search", "purge"))
    other_site.register(Order, admin_class)
    with pytest.raises(AnnotationError) as raised:
        McpSite(name="fresh").build()
    assert as_check_message(raised.value) == checks.Error(
        "The value of 'mcp_operations' contains 'purge', which is not an operation.",
        hint="Use any of search, get, create, update, delete.",
        obj=admin_class,
        id="mcp_bridge.E002",
    )


def test_unknown_field():
    model_admin = admin_for(mcp_fields=("id", "emial"))
    assert check_model_admin(model_admin) == [
        checks.Error(
            "The value of 'mcp_fields[1]' refers to 'emial', which is not a field of 'customers.Customer'.",
            hint="Fields of customers.Customer: id, name, email, phone, company, country, status, lifetime_value, "
            "is_internal, created.",
            obj=type(model_admin),
            id="mcp_bridge.E003",
        ),
    ]


def test_unknown_action():
    model_admin = admin_for(mcp_actions=("nuke",))
    assert check_model_admin(model_admin) == [
        checks.Error(
            "The value of 'mcp_actions' contains 'nuke', which is not an action of BrokenAdmin.",
            hint="List the action in the ModelAdmin's `actions` first.",
            obj=type(model_admin),
            id="mcp_bridge.E004",
        ),
    ]


def test_cache_alias_must_exist(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "missing"}
    assert check_cache() == [
        checks.Error(
            "MCP_BRIDGE['CACHE_ALIAS'] is 'missing', which is not a key of CACHES.",
            hint="Use one of 'default', or add 'missing' to CACHES.",
            id="mcp_bridge.E005",
        ),
    ]


def test_misspelt_setting(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIASS": "default"}
    assert check_settings() == [
        checks.Error(
            "MCP_BRIDGE has the key 'CACHE_ALIASS', which is not a setting of mcp_bridge.",
            hint="Did you mean 'CACHE_ALIAS'?",
            id="mcp_bridge.E006",
        ),
    ]


def test_unknown_setting_without_a_close_match(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "COLOUR": "blue"}
    assert check_settings() == [
        checks.Error(
            "MCP_BRIDGE has the key 'COLOUR', which is not a setting of mcp_bridge.",
            hint=f"The settings are: {', '.join(DEFAULTS)}.",
            id="mcp_bridge.E006",
        ),
    ]


def test_writable_foreign_key_to_a_model_the_admin_site_does_not_register(other_site):
    admin_class = type(
        "OtherTicketAdmin",
        (McpAdminMixin, admin.ModelAdmin),
        {
            "mcp_name": "other_ticket",
            "mcp_name_plural": "other_tickets",
            "search_fields": ("subject",),
            "mcp_operations": ("search", "get", "create"),
            "mcp_fields": ("id", "customer", "subject"),
        },
    )
    other_site.register(SupportTicket, admin_class)
    assert check_annotations() == [
        checks.Error(
            "OtherTicketAdmin lets MCP callers set 'customer', a relation to 'customers.Customer', which the admin "
            "site 'other' does not register, so no customers.Customer can be chosen.",
            hint="Register customers.Customer in that admin site (its get_queryset() decides which rows callers may "
            "choose), or remove 'customer' from mcp_write_fields.",
            obj=admin_class,
            id="mcp_bridge.E007",
        ),
    ]


def test_writable_many_to_many_to_a_model_the_admin_site_does_not_register(other_site):
    admin_class = type(
        "OtherGroupAdmin",
        (McpAdminMixin, admin.ModelAdmin),
        {
            "search_fields": ("name",),
            "mcp_operations": ("search", "get", "update"),
            "mcp_fields": ("id", "name", "permissions"),
        },
    )
    other_site.register(Group, admin_class)
    assert check_annotations() == [
        checks.Error(
            "OtherGroupAdmin lets MCP callers set 'permissions', a relation to 'auth.Permission', which the admin "
            "site 'other' does not register, so no auth.Permission can be chosen.",
            hint="Register auth.Permission in that admin site (its get_queryset() decides which rows callers may "
            "choose), or remove 'permissions' from mcp_write_fields.",
            obj=admin_class,
            id="mcp_bridge.E007",
        ),
    ]


def test_related_resource_that_is_not_a_reverse_relation(other_site):
    admin_class = type(
        "OtherCustomerAdmin",
        (McpAdminMixin, admin.ModelAdmin),
        {
            "mcp_name": "other_customer",
            "mcp_name_plural": "other_customers",
            "search_fields": ("name",),
            "mcp_related_resources": ("orderz",),
        },
    )
    other_site.register(Customer, admin_class)
    assert check_annotations() == [
        checks.Error(
            "The value of 'mcp_related_resources' contains 'orderz', which is not a reverse relation of 'customers.Customer'.",
            hint="Reverse relations of customers.Customer: orders, tickets.",
            obj=admin_class,
            id="mcp_bridge.E008",
        ),
    ]


def test_related_resource_without_get(other_site):
    admin_class = type(
        "OtherCustomerAdmin",
        (McpAdminMixin, admin.ModelAdmin),
        {
            "mcp_name": "other_customer",
            "mcp_name_plural": "other_customers",
            "search_fields": ("name",),
            "mcp_operations": ("search",),
            "mcp_related_resources": ("orders",),
        },
    )
    other_site.register(Customer, admin_class)
    assert check_annotations() == [
        checks.Error(
            "The value of 'mcp_related_resources' contains 'orders', but OtherCustomerAdmin has no 'get' operation: "
            "a related resource's URI starts from one object.",
            hint="Add 'get' to mcp_operations, or remove mcp_related_resources.",
            obj=admin_class,
            id="mcp_bridge.E009",
        ),
    ]


def test_related_resource_whose_model_has_no_search(other_site):
    admin_class = type(
        "OtherGroupAdmin",
        (McpAdminMixin, admin.ModelAdmin),
        {
            "search_fields": ("name",),
            "mcp_related_resources": ("user_set",),
        },
    )
    other_site.register(Group, admin_class)
    assert check_annotations() == [
        checks.Error(
            "The value of 'mcp_related_resources' contains 'user_set', but auth.User is not exposed with a 'search' "
            "operation.",
            hint="Register auth.User with an McpAdminMixin ModelAdmin whose mcp_operations include 'search', or "
            "remove 'user_set'.",
            obj=admin_class,
            id="mcp_bridge.E010",
        ),
    ]


def test_schema_hook_that_takes_a_request():
    def get_mcp_fields(self, request):
        return ("id", "name")

    model_admin = admin_for(get_mcp_fields=get_mcp_fields)
    assert check_model_admin(model_admin) == [
        checks.Error(
            "BrokenAdmin.get_mcp_fields() takes 'request', but it is called once at start-up, without a request: the "
            "tool schemas it shapes are the same for every caller.",
            hint="Remove the parameter from get_mcp_fields(); narrow what a caller sees or may do per request in "
            "get_mcp_queryset(request) or the has_*_permission(request) methods.",
            obj=type(model_admin),
            id="mcp_bridge.E011",
        ),
    ]


def test_schema_hook_with_an_optional_request_and_a_cooperative_override():
    def get_mcp_write_fields(self, request=None):
        return ()

    def get_mcp_operations(self, *args, **kwargs):  # passes whatever it gets on to the default: nothing
        return super(type(self), self).get_mcp_operations(*args, **kwargs)

    model_admin = admin_for(get_mcp_write_fields=get_mcp_write_fields, get_mcp_operations=get_mcp_operations)
    assert [(message.id, message.msg.split(" takes")[0]) for message in check_model_admin(model_admin)] == [
        ("mcp_bridge.E011", "BrokenAdmin.get_mcp_write_fields()"),
    ]


def test_schema_hook_that_takes_a_request_stops_the_registry_build(other_site):
    def get_mcp_operations(self, request):
        return ("search",)

    admin_class = other_orders_admin(get_mcp_operations=get_mcp_operations)
    other_site.register(Order, admin_class)
    assert [(message.id, message.obj) for message in check_annotations()] == [("mcp_bridge.E011", admin_class)]


@pytest.mark.parametrize(
    "descriptions, problem",
    [
        (["Mark churned."], "must be a dict"),
        ({"updtae": "Mark a customer churned."}, "has the key 'updtae' with str 'Mark a customer churned.'"),
        ({"update": ["Mark churned."]}, "has the key 'update' with list"),
        ({"delete": "Not exposed."}, "has the key 'delete'"),  # operations are search and get only
    ],
)
def test_tool_descriptions_must_name_exposed_operations_and_be_text(descriptions, problem):
    model_admin = admin_for(mcp_tool_descriptions=descriptions)
    [message] = check_model_admin(model_admin)
    assert (message.id, message.obj) == ("mcp_bridge.E014", type(model_admin))
    assert problem in message.msg


def test_a_tool_description_follows_the_admin_description_on_its_tool_only(other_site):
    admin_class = other_orders_admin(
        mcp_description="Amounts are in EUR.", mcp_tool_descriptions={"get": "The total includes VAT."}
    )
    other_site.register(Order, admin_class)
    site.reset()
    tools = site.registry.tools
    assert tools["get_other_order"].description.endswith(" Amounts are in EUR. The total includes VAT.")
    assert tools["search_other_orders"].description.endswith(" Amounts are in EUR.")
    assert check_annotations() == []


class EmailBackend(ModelBackend):
    """A project's own ModelBackend subclass (logs in by email, say)."""


class McpEmailBackend(McpModelBackend, EmailBackend):
    """The same, fixed as W012's hint says."""


class TokenBackend(BaseBackend):
    """A backend that has nothing to do with Django's permission tables."""


@pytest.mark.parametrize(
    "backends, expected",
    [
        (
            ["django.contrib.auth.backends.ModelBackend"],
            [
                checks.Warning(
                    "AUTHENTICATION_BACKENDS has 'django.contrib.auth.backends.ModelBackend' but no "
                    "mcp_bridge.backends.McpModelBackend, so every MCP call loads the caller's permissions from the database "
                    "again instead of using the set mcp_bridge has already loaded.",
                    hint="Use 'mcp_bridge.backends.McpModelBackend' in place of 'django.contrib.auth.backends.ModelBackend': it "
                    "is a ModelBackend, so logins and the admin work as before.",
                    id="mcp_bridge.W012",
                )
            ],
        ),
        (
            ["tests.test_checks.TokenBackend", "tests.test_checks.EmailBackend"],
            [
                checks.Warning(
                    "AUTHENTICATION_BACKENDS has 'tests.test_checks.EmailBackend' but no mcp_bridge.backends.McpModelBackend, so "
                    "every MCP call loads the caller's permissions from the database again instead of using the set mcp_bridge "
                    "has already loaded.",
                    hint="Make mcp_bridge.backends.McpModelBackend the first base class of 'tests.test_checks.EmailBackend' (or, "
                    "for a class you cannot edit, list a subclass of both in its place).",
                    id="mcp_bridge.W012",
                )
            ],
        ),
        (["mcp_bridge.backends.McpModelBackend"], []),
        (["django.contrib.auth.backends.ModelBackend", "tests.test_checks.McpEmailBackend"], []),
        (["tests.test_checks.TokenBackend"], []),  # no Django permissions at all: nothing to load
    ],
)
def test_model_backend_without_mcp_model_backend(settings, backends, expected):
    settings.AUTHENTICATION_BACKENDS = backends
    assert check_authentication_backends() == expected


# -- E1xx: tools, prompts and resources ------------------------------------------------------------


def test_duplicate_tool_names(other_site):
    class DuplicateAdmin(McpAdminMixin, admin.ModelAdmin):
        search_fields = ("name",)

    other_site.register(Customer, DuplicateAdmin)
    assert check_annotations() == [
        checks.Error(
            "Two MCP tools are named 'search_customers': one from customers.admin.CustomerAdmin, one from "
            "tests.test_checks.test_duplicate_tool_names.<locals>.DuplicateAdmin.",
            hint="Rename one with the name= option (or mcp_name / mcp_name_plural on the ModelAdmin).",
            obj=DuplicateAdmin,
            id="mcp_bridge.E101",
        ),
    ]


def test_duplicate_prompt_names(other_site):
    class OtherOrderAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_name, mcp_name_plural = "other_order", "other_orders"
        search_fields = ("status",)

        @mcp_bridge.prompt(name="customer_health_review", description="Review a customer, a second time.")
        def review(self, request):
            return "Review."

    other_site.register(Order, OtherOrderAdmin)
    assert check_annotations() == [
        checks.Error(
            "Two MCP prompts are named 'customer_health_review': one from customers.admin.CustomerAdmin, one from "
            "tests.test_checks.test_duplicate_prompt_names.<locals>.OtherOrderAdmin.",
            hint="Rename one with the name= option.",
            obj=OtherOrderAdmin,
            id="mcp_bridge.E102",
        ),
    ]


def tool_on_other_orders(other_site, **options):
    """Register an Order admin on *other_site* with one tool declared with *options*; return the admin class."""
    options.setdefault("description", LONG)
    options.setdefault("permissions", ("change",))

    @mcp_bridge.tool(**options)
    def close_order(self, request, data):
        return {}

    admin_class = other_orders_admin(close_order=close_order)
    other_site.register(Order, admin_class)
    return admin_class


def test_tool_name_not_snake_case(other_site):
    admin_class = tool_on_other_orders(other_site, name="Close-Order")
    assert check_annotations() == [
        checks.Error(
            "Tool name 'Close-Order' must be snake_case: lowercase letters, digits and underscores, at most 64 characters.",
            hint="Name it with the name= option, e.g. name='close_order'.",
            obj=admin_class,
            id="mcp_bridge.E103",
        ),
    ]


def test_prompt_name_not_snake_case(other_site):
    class OtherOrderAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_name, mcp_name_plural = "other_order", "other_orders"
        search_fields = ("status",)

        @mcp_bridge.prompt(name="Review Order", description="Review one order.")
        def review(self, request):
            return "Review."

    other_site.register(Order, OtherOrderAdmin)
    assert check_annotations() == [
        checks.Error(
            "Prompt name 'Review Order' must be snake_case: lowercase letters, digits and underscores, at most 64 characters.",
            hint="Name it with the name= option, e.g. name='customer_review'.",
            obj=OtherOrderAdmin,
            id="mcp_bridge.E103",
        ),
    ]


def test_tool_without_description(other_site):
    admin_class = tool_on_other_orders(other_site, description="")
    assert check_annotations() == [
        checks.Error(
            "Tool 'close_order' has no description.",
            hint="Pass description= or write a docstring: what it does, when to use it, what it returns and its limits.",
            obj=admin_class,
            id="mcp_bridge.E104",
        ),
    ]


def test_resource_without_description_fails_where_it_is_declared():
    def stray_resource(request):
        return ""

    with pytest.raises(AnnotationError) as raised:
        McpSite(name="fresh").resource("test://nothing")(stray_resource)
    assert as_check_message(raised.value) == checks.Error(
        "Resource 'test://nothing' has no description.",
        hint="Pass description= or write a docstring: what the resource holds.",
        obj=stray_resource,
        id="mcp_bridge.E104",
    )


class CloseInput(serializers.Serializer):
    order_id = serializers.IntegerField()


def test_tool_with_input_serializer_and_input_schema_fails_where_it_is_declared():
    def close_order(request, data):
        return {}

    with pytest.raises(AnnotationError) as raised:
        McpSite(name="fresh").tool(description=LONG, input_serializer=CloseInput, input_schema={"type": "object"})(
            close_order
        )
    assert as_check_message(raised.value) == checks.Error(
        "Tool 'close_order' has both an input_serializer and an input_schema.",
        hint="Pass only one: the input schema of an input_serializer is generated from its fields.",
        obj=close_order,
        id="mcp_bridge.E105",
    )


def test_prompt_requiring_an_unknown_tool(other_site):
    class OtherOrderAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_name, mcp_name_plural = "other_order", "other_orders"
        search_fields = ("status",)

        @mcp_bridge.prompt(description="Review one order.", requires_tools=("get_other_order", "close_ordr"))
        def review_order(self, request):
            return "Review."

    other_site.register(Order, OtherOrderAdmin)
    assert check_annotations() == [
        checks.Error(
            "Prompt 'review_order' requires the tool(s) 'close_ordr', which do not exist.",
            hint="List only tools the registry has in requires_tools (see manage.py mcp_inspect).",
            obj=OtherOrderAdmin,
            id="mcp_bridge.E106",
        ),
    ]


def test_tool_permission_without_a_permission_method(other_site):
    admin_class = tool_on_other_orders(other_site, permissions=("publsh",))
    assert check_annotations() == [
        checks.Error(
            "OtherOrderAdmin must define a has_publsh_permission() method for the 'close_order' MCP tool.",
            hint=f"Use one of {ADMIN_PERMISSIONS}, or an 'app_label.codename' permission.",
            obj=admin_class,
            id="mcp_bridge.E107",
        ),
    ]


def test_tool_permission_close_to_a_permission_method(other_site):
    admin_class = tool_on_other_orders(other_site, permissions=("chnage",))
    assert check_annotations() == [
        checks.Error(
            "OtherOrderAdmin must define a has_chnage_permission() method for the 'close_order' MCP tool.",
            hint=f"Did you mean 'change'? Use one of {ADMIN_PERMISSIONS}, or an 'app_label.codename' permission.",
            obj=admin_class,
            id="mcp_bridge.E107",
        ),
    ]


def test_admin_style_permission_outside_a_model_admin_fails_where_it_is_declared():
    def ping(request, data):
        return "pong"

    with pytest.raises(AnnotationError) as raised:
        McpSite(name="fresh").tool(description=LONG, permissions=("change",))(ping)
    assert as_check_message(raised.value) == checks.Error(
        "Tool 'ping' requires the admin-style permission 'change', but belongs to no ModelAdmin.",
        hint="Outside a ModelAdmin, name a full permission as 'app_label.codename', e.g. 'customers.change_customer'.",
        obj=ping,
        id="mcp_bridge.E108",
    )


def test_tool_permission_of_an_app_that_is_not_installed(other_site):
    admin_class = tool_on_other_orders(other_site, permissions=("custmers.issue_large_refund",))
    assert check_annotations() == [
        checks.Error(
            "Tool 'close_order' requires the permission 'custmers.issue_large_refund', but no installed app has the "
            "label 'custmers'.",
            hint="Did you mean 'customers'? Write permissions as 'app_label.codename'.",
            obj=admin_class,
            id="mcp_bridge.E109",
        ),
    ]


def test_a_failing_permission_hook_hides_its_tool_and_leaves_the_others_listed(other_site, caplog):
    class OtherOrderAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_name, mcp_name_plural = "other_order", "other_orders"
        search_fields = ("status",)

        def has_publish_permission(self, request):
            raise AttributeError("'Order' object has no attribute 'published'")

        @mcp_bridge.tool(description=LONG, permissions=("publish",))
        def publish_order(self, request, data):
            return {}

    other_site.register(Order, OtherOrderAdmin)
    superuser = get_user_model()(username="root", is_superuser=True, is_active=True)
    with caplog.at_level(logging.ERROR, logger="mcp_bridge.sites"):
        visible = site.visible_tool_names(McpRequest(superuser), generation="test")
    assert set(site.registry.tools) - visible == {"publish_order"}
    assert [record.getMessage() for record in caplog.records] == [
        "The permission check of MCP tool 'publish_order' failed; the tool is hidden from this caller.",
    ]


# -- warnings ----------------------------------------------------------------------------------------


class HasRefundsFilter(admin.SimpleListFilter):
    title, parameter_name = "has refunds", "has_refunds"

    def lookups(self, request, model_admin):
        return [("yes", "Yes")]

    def queryset(self, request, queryset):
        return queryset


def test_list_filter_that_is_not_a_field_path(other_site):
    admin_class = other_orders_admin(list_filter=("status", HasRefundsFilter))
    other_site.register(Order, admin_class)
    assert check_annotations() == [
        checks.Warning(
            f"list_filter entry {HasRefundsFilter!r} of OtherOrderAdmin is not a model field path, so search tools "
            "cannot offer it as a filter.",
            hint="Use field paths in list_filter, or accept that MCP callers cannot filter on it.",
            obj=admin_class,
            id="mcp_bridge.W001",
        ),
    ]


def test_search_without_search_fields_or_filters():
    model_admin = admin_for(Order, search_fields=(), list_filter=())
    assert check_model_admin(model_admin) == [
        checks.Warning(
            "BrokenAdmin exposes 'search' without search_fields or list_filter, so callers can only page.",
            hint="Add search_fields and/or list_filter to the ModelAdmin.",
            obj=type(model_admin),
            id="mcp_bridge.W002",
        ),
    ]
    assert check_model_admin(admin_for(Order, search_fields=(), list_filter=("status",))) == []


def test_short_description_and_write_without_permission(other_site):
    admin_class = tool_on_other_orders(other_site, description="Close it.", permissions=())
    assert check_annotations() == [
        checks.Warning(
            "Tool 'close_order' has a short description (9 characters).",
            hint="Say what it does, when to use it, what it returns and its limits.",
            obj=admin_class,
            id="mcp_bridge.W003",
        ),
        checks.Warning(
            "Write tool 'close_order' requires no model permission, only its per-tool grant.",
            hint="Pass permissions=('change',) or an 'app_label.codename' so the admin's permissions apply too.",
            obj=admin_class,
            id="mcp_bridge.W004",
        ),
    ]


@pytest.mark.parametrize(
    "backend, expected",
    [
        (
            "django.core.cache.backends.locmem.LocMemCache",
            [
                checks.Warning(
                    "The cache 'mcp' is local to each process: each process counts rate limits on its own, so several processes "
                    "together allow more calls than CALL_RATE and TOOL_RATES, and every call reads the access generation from the "
                    "database (one query) instead of the cache.",
                    hint="With more than one process (gunicorn workers, runmcp beside the server), use Redis, Memcached, the "
                    "database or a file cache for MCP_BRIDGE['CACHE_ALIAS'].",
                    id="mcp_bridge.W006",
                )
            ],
        ),
        (
            "django.core.cache.backends.dummy.DummyCache",
            [
                checks.Warning(
                    "The cache 'mcp' is a DummyCache: rate limits never trigger and permission sets are loaded on every call.",
                    hint="Point MCP_BRIDGE['CACHE_ALIAS'] at a real cache (Redis in production).",
                    id="mcp_bridge.W005",
                )
            ],
        ),
        ("django.core.cache.backends.filebased.FileBasedCache", []),
    ],
)
def test_cache_that_other_processes_cannot_see_is_reported(settings, tmp_path, backend, expected):
    settings.CACHES = {**settings.CACHES, "mcp": {"BACKEND": backend, "LOCATION": str(tmp_path)}}
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "mcp"}
    assert check_cache() == expected


def test_decorated_function_that_no_model_admin_serves():
    forget_earlier_admin_classes()

    @mcp_bridge.tool(description=LONG, permissions=("change",))
    def close_order(request, data):
        return {}

    assert check_annotations() == [
        checks.Warning(
            "tests.test_checks.test_decorated_function_that_no_model_admin_serves.<locals>.close_order is marked with "
            "@mcp_bridge.tool but is not a method of an McpAdminMixin ModelAdmin registered in "
            "MCP_BRIDGE['ADMIN_SITES'], so it is not served.",
            hint="For a function that belongs to no model, use @mcp_bridge.site.tool or @mcp_bridge.site.prompt in an "
            "app's mcp.py; for a method, register its ModelAdmin (with McpAdminMixin) in one of the ADMIN_SITES.",
            obj=close_order,
            id="mcp_bridge.W007",
        ),
    ]


def test_decorated_method_of_a_model_admin_that_no_admin_site_registers():
    forget_earlier_admin_classes()

    class UnregisteredOrderAdmin(McpAdminMixin, admin.ModelAdmin):
        @mcp_bridge.prompt(description="Review one order.")
        def review_order(self, request):
            return "Review."

    assert check_annotations() == [
        checks.Warning(
            "tests.test_checks.test_decorated_method_of_a_model_admin_that_no_admin_site_registers.<locals>."
            "UnregisteredOrderAdmin.review_order is marked with @mcp_bridge.prompt but is not a method of an "
            "McpAdminMixin ModelAdmin registered in MCP_BRIDGE['ADMIN_SITES'], so it is not served.",
            hint="For a function that belongs to no model, use @mcp_bridge.site.tool or @mcp_bridge.site.prompt in an "
            "app's mcp.py; for a method, register its ModelAdmin (with McpAdminMixin) in one of the ADMIN_SITES.",
            obj=UnregisteredOrderAdmin.review_order,
            id="mcp_bridge.W007",
        ),
    ]


# -- reports (E120, E121, E012 for REPORT_THROTTLE_RATE, W014) ------------------------------------------
REPORT_DESCRIPTION = (
    "Sum every order. Use it for a monthly review. Returns a job to poll; the result has one row per month."
)


def report_function(request, data, job):
    return {}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"time_limit": 0}, "time_limit must be a positive number of seconds (got 0)"),
        ({"result_ttl": "1 day"}, "result_ttl must be a positive number of seconds (got '1 day')"),
        (
            {"soft_time_limit": 60, "time_limit": 60},
            "soft_time_limit (60) must be below time_limit (60), so the report can stop cleanly before its "
            "process is killed",
        ),
        ({"queue": 5}, "queue must be a Celery queue name (got 5)"),
        ({"task_support": "always"}, "task_support must be one of optional, required (got 'always')"),
        ({"prepare": "ask first"}, "prepare must be a function (request, data, context)"),
    ],
)
def test_report_options_that_cannot_work_fail_where_they_are_declared(options, problem):
    with pytest.raises(AnnotationError) as raised:
        McpSite(name="fresh").report(description=REPORT_DESCRIPTION, **options)(report_function)
    assert as_check_message(raised.value) == checks.Error(
        f"Report 'report_function': {problem}.",
        hint="Fix the options of @mcp_bridge.report / site.report (see docs/reports.md).",
        obj=report_function,
        id="mcp_bridge.E121",
    )


def test_reports_without_a_job_model(other_site, settings):
    class OtherOrderAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_name, mcp_name_plural = "other_order", "other_orders"
        search_fields = ("status",)

        @mcp_bridge.report(description=REPORT_DESCRIPTION)
        def order_totals(self, request, data, job):
            return {}

    other_site.register(Order, OtherOrderAdmin)
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "JOB_MODEL": "customers.Order"}
    [error] = check_annotations()
    assert error.id == "mcp_bridge.E120"
    assert error.msg.startswith("MCP_BRIDGE['JOB_MODEL'] is 'customers.Order', which is not a subclass of ")
    assert "'churn_risk_report' stores its runs there" in error.msg
    assert "name it in MCP_BRIDGE['JOB_MODEL'], e.g. 'tasks.Job'" in error.hint
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "JOB_MODEL": None}
    [error] = check_annotations()
    assert error.id == "mcp_bridge.E120"
    assert error.msg.startswith("Reports need MCP_BRIDGE['JOB_MODEL']")


def test_a_report_rate_that_does_not_parse(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "REPORT_THROTTLE_RATE": "5 per hour"}
    errors = [message for message in check_throttles() if message.id == "mcp_bridge.E012"]
    assert len(errors) == 1 and "'5 per hour'" in errors[0].msg


def test_reports_without_status_urls_are_reported(settings):
    settings.ROOT_URLCONF = "tests.urls_without_jobs"
    assert check_reports() == [
        checks.Warning(
            "Reports are declared, but mcp_bridge.urls is not included in ROOT_URLCONF: jobs get no status URL.",
            hint="Add path('mcp/', include('mcp_bridge.urls')) to the project's urlpatterns (GET /mcp/jobs/<id>).",
            id="mcp_bridge.W014",
        )
    ]
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "JOB_STATUS_ORIGIN": "https://mcp.example.com"}
    assert check_reports() == []


def test_the_demo_reports_pass_every_check():
    assert check_reports() == []


def test_oauth_scopes_named_in_settings_must_be_defined(settings):
    settings.MCP_BRIDGE = {
        **settings.MCP_BRIDGE,
        "OAUTH_CHALLENGE_SCOPES": ["mcp:raed"],
        "OAUTH_SCOPE_HIERARCHY": {"mcp:admin": ["mcp:write"]},
    }
    hint = "Use the scopes of OAUTH_SCOPES (mcp:read, mcp:write, mcp:reports) or add these to it."
    assert check_oauth_settings() == [
        checks.Error(
            "MCP_BRIDGE['OAUTH_CHALLENGE_SCOPES'] names mcp:raed, not in MCP_BRIDGE['OAUTH_SCOPES'].",
            hint=hint,
            id="mcp_bridge.E020",
        ),
        checks.Error(
            "MCP_BRIDGE['OAUTH_SCOPE_HIERARCHY'] names mcp:admin, not in MCP_BRIDGE['OAUTH_SCOPES'].",
            hint=hint,
            id="mcp_bridge.E020",
        ),
    ]


@pytest.mark.parametrize(
    "resource", ["mcp.example.com/mcp", "ftp://host/mcp", "https://host/mcp?x=1", "https://host/mcp#f"]
)
def test_oauth_resource_must_be_the_endpoints_absolute_url(settings, resource):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "OAUTH_RESOURCE": resource}
    assert check_oauth_settings() == [
        checks.Error(
            f"MCP_BRIDGE['OAUTH_RESOURCE'] is {resource!r}; it must be the endpoint's absolute URL.",
            hint="Give the URL clients connect to, without query or fragment: 'https://mcp.example.com/mcp'.",
            id="mcp_bridge.E021",
        )
    ]


def test_the_authorization_server_must_offer_the_mcp_scopes(settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "SCOPES": {"mcp:read": "Read"}}
    assert check_oauth_settings() == [
        checks.Error(
            "The authorization server does not offer mcp:write, mcp:reports: clients cannot get a token that "
            "carries them.",
            hint="Add them, with the descriptions of MCP_BRIDGE['OAUTH_SCOPES'], to OAUTH2_PROVIDER['SCOPES'].",
            id="mcp_bridge.E022",
        )
    ]


def test_a_tools_oauth_scope_must_be_defined():
    from mcp_bridge.exceptions import AnnotationError
    from mcp_bridge.tools import SerializerTool

    def export(request, data):
        return {}

    with pytest.raises(AnnotationError) as raised:
        SerializerTool(export, name="export_all", description="Export every record as JSON.", oauth_scope="mcp:admin")
    assert raised.value.id == "mcp_bridge.E123"
    assert raised.value.obj is export
    assert (
        raised.value.message
        == "Tool 'export_all' has the oauth_scope 'mcp:admin', which is not in MCP_BRIDGE['OAUTH_SCOPES']."
    )
