"""The generated tool surface: names, schemas, descriptions, annotations, grants."""

import jsonschema
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from mcp_bridge.models import Tool
from mcp_bridge.server import get_server
from mcp_bridge.sites import McpSite
from mcp_bridge.tools import TOOL_NAME_RE

EXPECTED_TOOLS = {
    "search_customers", "get_customer", "create_customer", "update_customer", "delete_customer",
    "search_orders", "get_order",
    "search_support_tickets", "get_support_ticket", "create_support_ticket", "update_support_ticket",
    "mark_resolved_support_tickets", "update_ticket_status",
    "search_refunds", "get_refund", "issue_refund",
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
        assert TOOL_NAME_RE.match(name), name
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
        bridge.mcp_tool(tool)  # the SDK's Tool model accepts it


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
    assert {"lifetime_value", "created", "id", "phone"}.isdisjoint(create.input_schema["properties"])  # read-only / redacted


def test_annotations_tell_the_truth(fresh_site):
    tools = fresh_site.build().tools
    for name, tool in tools.items():
        if name.startswith(("search_", "get_")):
            assert tool.read_only and not tool.destructive and tool.idempotent, name
        else:
            assert not tool.read_only, name
    assert tools["delete_customer"].destructive
    assert not tools["create_customer"].destructive
    assert not tools["issue_refund"].idempotent


def test_resource_templates_and_prompts(fresh_site):
    registry = fresh_site.build()
    uris = {t.uri_template for t in registry.resource_templates}
    assert {"customers://customer/{id}", "customers://customer/{id}/orders", "customers://order/{id}/refunds"} <= uris
    assert set(registry.prompts) == {"customer_health_review"}


def test_migrate_creates_one_grant_permission_per_tool(db):
    # pytest-django ran migrate, whose post_migrate signal synced the registry.
    codenames = set(Permission.objects.filter(content_type__app_label="mcp_bridge", content_type__model="tool")
                    .values_list("codename", flat=True))
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
