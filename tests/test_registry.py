"""The generated tool surface: names, schemas, descriptions, annotations, grants."""

import jsonschema
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

import mcp_bridge
from customers.models import Customer, SupportTicket
from mcp_bridge import McpAdminMixin
from mcp_bridge.declarations import NAME_RE
from mcp_bridge.exceptions import AnnotationError
from mcp_bridge.model_tools import ActionTool, ModelExposure
from mcp_bridge.models import Tool
from mcp_bridge.requests import McpRequest
from mcp_bridge.server import get_server
from mcp_bridge.sites import McpSite
from mcp_bridge.tools import SerializerTool

EXPECTED_TOOLS = {
    "search_customers",
    "get_customer",
    "create_customer",
    "update_customer",
    "delete_customer",
    "search_orders",
    "get_order",
    "search_support_tickets",
    "get_support_ticket",
    "create_support_ticket",
    "update_support_ticket",
    "mark_resolved_support_tickets",
    "update_ticket_status",
    "search_refunds",
    "get_refund",
    "issue_refund",
    "revenue_report",
    "churn_risk_report",
    "get_job_status",
    "cancel_job",
}


@pytest.fixture
def fresh_site():
    return McpSite(name="fresh")


def test_registry_builds_without_touching_the_database(fresh_site):
    # No db fixture: pytest-django fails any query made here.
    registry = fresh_site.build()
    assert set(registry.tools) == EXPECTED_TOOLS


def test_tool_names_and_descriptions(fresh_site):
    for name, tool in fresh_site.build().tools.items():
        assert NAME_RE.match(name), name
        assert len(tool.description) > 120, f"{name}: description should say what, when, returns and limits"
        assert "Returns" in tool.description or "returns" in tool.description, name


def test_schemas_are_valid_flat_json_schema(fresh_site):
    bridge = get_server()
    for tool in fresh_site.build().tools.values():
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        for name, prop in tool.input_schema["properties"].items():
            if name == "ids":
                continue
            # Flat: no nested objects in inputs.
            assert prop.get("type") != "object", f"{tool.name}.{name} is nested"
        if tool.output_schema is not None:
            jsonschema.Draft202012Validator.check_schema(tool.output_schema)
            assert tool.output_schema["type"] == "object"
        bridge.handlers.describe_tool(tool)  # the SDK's Tool model accepts it


def test_choices_become_enums_and_dates_become_ranges(fresh_site):
    search = fresh_site.build().tools["search_customers"]
    props = search.input_schema["properties"]
    assert props["status"]["enum"] == ["lead", "active", "churned"]
    assert {"created_after", "created_before"} <= set(props)
    assert props["page_size"]["maximum"] == 100
    assert "phone" not in {v.lstrip("-") for v in props["ordering"]["enum"]}  # redacted fields are not orderable
    create = fresh_site.build().tools["create_customer"]
    assert create.input_schema["properties"]["country"]["enum"][:2] == ["US", "GB"]
    assert create.input_schema["properties"]["email"]["description"].startswith("Primary contact email")  # help_text
    assert {"lifetime_value", "created", "id", "phone"}.isdisjoint(
        create.input_schema["properties"]
    )  # read-only / redacted


def test_annotations_tell_the_truth(fresh_site):
    tools = fresh_site.build().tools
    for name, tool in tools.items():
        if name.startswith(("search_", "get_")):
            assert tool.read_only and not tool.destructive and tool.idempotent, name
        elif name.endswith("_report"):
            # Reports change no data, and every call starts another job.
            assert tool.read_only and not tool.destructive and not tool.idempotent, name
        else:
            assert not tool.read_only, name
    cancel = tools["cancel_job"]
    assert (cancel.read_only, cancel.destructive, cancel.idempotent) == (False, False, True)
    assert tools["delete_customer"].destructive
    assert not tools["create_customer"].destructive
    assert not tools["issue_refund"].idempotent
    # The demo's action says, with @mcp_bridge.action, that resolving tickets twice changes nothing more.
    resolve = tools["mark_resolved_support_tickets"]
    assert (resolve.read_only, resolve.destructive, resolve.idempotent) == (False, False, True)
    assert resolve.description.endswith(
        "Returns the ids acted on and the admin's messages. Every chosen ticket ends "
        "resolved, closed ones included; resolved ones are left as they are."
    )


def test_resource_templates_and_prompts(fresh_site):
    registry = fresh_site.build()
    uris = {t.uri_template for t in registry.resource_templates}
    assert {"customers://customer/{id}", "customers://customer/{id}/orders", "customers://order/{id}/refunds"} <= uris
    assert set(registry.prompts) == {"customer_health_review"}


def test_migrate_creates_one_grant_permission_per_tool(db):
    # pytest-django ran migrate, whose post_migrate signal synced the registry.
    codenames = set(
        Permission.objects.filter(content_type__app_label="mcp_bridge", content_type__model="tool").values_list(
            "codename", flat=True
        )
    )
    assert {f"call_{name}" for name in EXPECTED_TOOLS} <= codenames
    assert set(Tool.objects.values_list("name", flat=True)) >= EXPECTED_TOOLS


def test_duplicate_tool_names_are_refused(fresh_site):
    from django.core.exceptions import ImproperlyConfigured

    @fresh_site.tool(name="search_customers", description="x" * 130 + " returns")
    def clash(request, data):
        return {}

    with pytest.raises(ImproperlyConfigured, match="Two MCP tools are named 'search_customers'"):
        fresh_site.build()


def test_permission_sets_are_cached(demo):
    """A warm get_customer costs one query for the credential/user and one for the row."""
    from mcp_bridge.authentication import local_principal
    from mcp_bridge.permissions import prime_permissions
    from mcp_bridge.requests import McpRequest
    from mcp_bridge.sites import site

    user = demo["support_agent"]
    principal = local_principal(user)
    tool = site.registry.tools["get_customer"]
    customer_id = Customer.objects.filter(is_internal=False).values_list("pk", flat=True).first()

    def one_call():
        loaded = principal.load_user()
        generation = prime_permissions(loaded)
        request = McpRequest(loaded, principal=principal)
        assert site.get_tool(request, "get_customer", generation) is not None
        return tool.call(request, {"id": customer_id})

    one_call()  # warm the permission cache
    with CaptureQueriesContext(connection) as queries:
        result = one_call()
    assert not result.is_error
    assert len(queries) == 2, [q["sql"] for q in queries]


# -- admin actions: hints and description from @mcp_bridge.action ---------------------------------------


def make_close_tickets():
    def close_tickets(modeladmin, request, queryset):
        queryset.update(status=SupportTicket.Status.CLOSED)

    return close_tickets


def action_tool(action, name="close_tickets"):
    """The ActionTool for *action*, a method action of a SupportTicket admin on a throwaway admin site."""
    admin_class = type("TicketActionsAdmin", (McpAdminMixin, admin.ModelAdmin), {"actions": (name,), name: action})
    return ActionTool(ModelExposure(admin_class(SupportTicket, admin.AdminSite(name="actions")), None), name)


def test_an_action_without_annotation_is_described_with_the_mcp_defaults():
    tool = action_tool(admin.action(description="Close selected tickets")(make_close_tickets()))
    assert (tool.name, tool.title) == ("close_tickets_support_tickets", "Close selected tickets")
    assert (tool.read_only, tool.destructive, tool.idempotent) == (False, True, False)
    assert tool.description.endswith("Returns the ids acted on and the admin's messages.")


def test_an_action_annotation_sets_its_hints_and_appends_its_description():
    @admin.action(description="Reopen selected tickets")
    @mcp_bridge.action(
        description="  Resolved and closed tickets become open again.  ", destructive=False, idempotent=True
    )
    def reopen(modeladmin, request, queryset):
        queryset.update(status=SupportTicket.Status.OPEN)

    assert reopen.mcp_action == {
        "description": "  Resolved and closed tickets become open again.  ",
        "destructive": False,
        "idempotent": True,
    }
    tool = action_tool(reopen, "reopen")
    assert (tool.read_only, tool.destructive, tool.idempotent) == (False, False, True)
    assert tool.description == (
        "Admin action 'Reopen selected tickets' on support tickets chosen by id. Use it when the user asks to reopen "
        "selected tickets; find ids with search_support_tickets. Runs on at most 100 support tickets per call, all or "
        "none. Returns the ids acted on and the admin's messages. Resolved and closed tickets become open again."
    )


def test_the_bare_action_decorator_keeps_the_defaults():
    close_tickets = make_close_tickets()
    assert mcp_bridge.action(close_tickets) is close_tickets
    assert close_tickets.mcp_action == {"description": "", "destructive": True, "idempotent": False}
    tool = action_tool(close_tickets)
    assert (tool.destructive, tool.idempotent) == (True, False)


@pytest.mark.parametrize(
    "annotation, message, check_id",
    [
        (
            {"destructive": False, "readonly": True},
            "The MCP annotation (mcp_action) of the action 'close_tickets' of TicketActionsAdmin has the unknown key(s) "
            "'readonly'.",
            "mcp_bridge.E110",
        ),
        (
            {"destructive": "no"},
            "The MCP annotation (mcp_action) of the action 'close_tickets' of TicketActionsAdmin sets 'destructive' to 'no'; "
            "it must be True or False.",
            "mcp_bridge.E111",
        ),
        (
            {"idempotent": 1},
            "The MCP annotation (mcp_action) of the action 'close_tickets' of TicketActionsAdmin sets 'idempotent' to 1; "
            "it must be True or False.",
            "mcp_bridge.E111",
        ),
        (
            {"description": ["Closes tickets."]},
            "The MCP annotation (mcp_action) of the action 'close_tickets' of TicketActionsAdmin sets 'description' to "
            "['Closes tickets.']; it must be text.",
            "mcp_bridge.E111",
        ),
        (
            ("destructive", False),
            "The MCP annotation (mcp_action) of the action 'close_tickets' of TicketActionsAdmin must be a dict, not tuple.",
            "mcp_bridge.E111",
        ),
    ],
)
def test_a_bad_action_annotation_stops_the_build(annotation, message, check_id):
    close_tickets = make_close_tickets()
    close_tickets.mcp_action = annotation
    with pytest.raises(AnnotationError) as raised:
        action_tool(close_tickets)
    assert (raised.value.message, raised.value.id, raised.value.obj.__name__) == (
        message,
        check_id,
        "TicketActionsAdmin",
    )
    assert "@mcp_bridge.action(" in raised.value.hint


def test_the_action_decorator_refuses_unknown_options():
    with pytest.raises(TypeError, match="readonly"):
        mcp_bridge.action(readonly=True)


# -- throttle options of custom tools ------------------------------------------------------------------


class CountingThrottle:
    """Stands in for a throttle class: the tool only carries the classes it is given."""


def test_tool_decorator_carries_throttle_options_to_the_tool():
    @mcp_bridge.tool(
        throttle_scope="refunds",
        throttle_classes=[CountingThrottle],
        description="Refund one order. Returns the refund. " * 4,
        permissions=("customers.add_refund",),
    )
    def refund(request, data):
        return {}

    tool = SerializerTool(refund, **refund.mcp_tool)
    assert (tool.throttle_scope, tool.throttle_classes) == ("refunds", [CountingThrottle])
    plain = SerializerTool(refund, **{**refund.mcp_tool, "throttle_scope": None, "throttle_classes": None})
    assert (plain.throttle_scope, plain.throttle_classes) == (None, None)


def test_site_tool_carries_throttle_options(fresh_site):
    @fresh_site.tool(throttle_scope="exports", throttle_classes=(), description="Export rows. Returns a link. " * 4)
    def export_rows(request, data):
        return {}

    tool = fresh_site.build().tools["export_rows"]
    assert (tool.throttle_scope, tool.throttle_classes) == ("exports", ())


@pytest.mark.parametrize(
    "options, message",
    [
        ({"throttle_scope": ""}, "Tool 'export_rows' has the throttle_scope ''; it must be a non-empty string."),
        ({"throttle_scope": 5}, "Tool 'export_rows' has the throttle_scope 5; it must be a non-empty string."),
        (
            {"throttle_classes": CountingThrottle},
            f"Tool 'export_rows' has the throttle_classes {CountingThrottle!r}; it must be a list or tuple of throttle classes.",
        ),
    ],
)
def test_bad_throttle_options_are_refused(options, message):
    def export_rows(request, data):
        return {}

    with pytest.raises(AnnotationError) as raised:
        SerializerTool(export_rows, name="export_rows", description="Export rows. Returns a link. " * 4, **options)
    assert (raised.value.message, raised.value.id, raised.value.obj) == (message, "mcp_bridge.E112", export_rows)


# -- who sees which tools --------------------------------------------------------------------------------


def test_visible_tools_are_remembered_per_generation(db, fresh_site):
    user = get_user_model().objects.create_user("viewer")
    request = McpRequest(user)
    assert fresh_site.visible_tool_names(request, "g1") == frozenset()
    user.user_permissions.add(
        Permission.objects.get(codename="call_search_customers"), Permission.objects.get(codename="view_customer")
    )
    request = McpRequest(get_user_model().objects.get(pk=user.pk))
    assert fresh_site.visible_tool_names(request, "g1") == frozenset(), "the same generation reuses the set"
    assert fresh_site.visible_tool_names(request, "g2") == {"search_customers"}
