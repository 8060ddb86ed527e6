"""Developer commands: mcp_schema (semver check), mcp_docs, mcp_manifest, mcp_inspect, mcp_config."""

import copy
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mcp_bridge.sites import site
from mcp_bridge.surface import MAJOR, MINOR, PATCH, diff, release_level, snapshot


@pytest.fixture
def surface():
    return snapshot(site.registry)


def _run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_committed_snapshot_matches_the_code():
    """CI fails when the tool surface changes without a new snapshot (and a CHANGELOG entry)."""
    assert "matches" in _run("mcp_schema", "--check")


def test_unchanged_surface_has_no_changes(surface):
    assert diff(surface, copy.deepcopy(surface)) == []


@pytest.mark.parametrize(
    "mutate, level",
    [
        pytest.param(lambda s: s["tools"].pop("get_order"), MINOR, id="tool-added"),  # old lacks it -> new adds it
        pytest.param(
            lambda s: s["tools"]["search_customers"]["input_schema"]["properties"].pop("country"),
            MINOR,
            id="optional-param-added",
        ),
        pytest.param(
            lambda s: s["tools"]["search_customers"]["input_schema"]["properties"]["status"]["enum"].remove("churned"),
            MINOR,
            id="enum-widened",
        ),
        pytest.param(lambda s: s["tools"]["get_customer"].update(description="old words"), PATCH, id="description"),
    ],
)
def test_additive_changes(surface, mutate, level):
    old = copy.deepcopy(surface)
    mutate(old)
    assert release_level(diff(old, surface)) == level


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda s: s["tools"].pop("get_order"), id="tool-removed"),
        pytest.param(
            lambda s: s["tools"]["search_customers"]["input_schema"]["properties"].pop("country"), id="param-removed"
        ),
        pytest.param(
            lambda s: s["tools"]["search_customers"]["input_schema"]["properties"]["status"]["enum"].remove("churned"),
            id="enum-narrowed",
        ),
        pytest.param(
            lambda s: s["tools"]["get_customer"]["input_schema"]["properties"]["id"].update(type="string"),
            id="type-changed",
        ),
        pytest.param(
            lambda s: s["tools"]["search_customers"]["input_schema"].setdefault("required", []).append("query"),
            id="param-now-required",
        ),
        pytest.param(
            lambda s: s["tools"]["search_customers"]["input_schema"]["properties"]["page_size"].update(maximum=10),
            id="bound-narrowed",
        ),
        pytest.param(
            lambda s: s["tools"]["get_customer"]["output_schema"]["properties"].pop("email"), id="result-field-removed"
        ),
    ],
)
def test_breaking_changes_are_major(surface, mutate):
    new = copy.deepcopy(surface)
    mutate(new)
    changes = diff(surface, new)
    assert release_level(changes) == MAJOR, changes


def test_check_command_reports_the_release_level(tmp_path, surface):
    path = tmp_path / "snapshot.json"
    old = copy.deepcopy(surface)
    old["tools"]["search_customers"]["input_schema"]["properties"]["status"]["enum"].append("vip")
    path.write_text(json.dumps(old))
    with pytest.raises(CommandError, match="breaking change: release a new MAJOR version"):
        _run("mcp_schema", "--check", "--file", str(path))
    _run("mcp_schema", "--write", "--file", str(path))
    assert "matches" in _run("mcp_schema", "--check", "--file", str(path))
    with pytest.raises(CommandError, match="No snapshot"):
        _run("mcp_schema", "--check", "--file", str(tmp_path / "missing.json"))


def test_docs_cover_every_tool_template_and_prompt(tmp_path):
    path = tmp_path / "mcp.md"
    _run("mcp_docs", "--output", str(path))
    text = path.read_text()
    registry = site.registry
    for name, tool in registry.tools.items():
        assert f"### `{name}`" in text
        assert tool.grant_permission in text
    assert '| `status` | string: `"lead"`, `"active"`, `"churned"` | no |' in text
    assert "Example input:" in text and "Example output:" in text
    for template in registry.resource_templates:
        assert template.uri_template in text
    assert "customer_health_review" in text


def test_manifest(tmp_path):
    path = tmp_path / "server.json"
    _run("mcp_manifest", "--name", "io.github.acme/support", "--url", "https://support.acme.com", "--output", str(path))
    manifest = json.loads(path.read_text())
    assert manifest["$schema"].endswith("/server.schema.json")
    assert manifest["name"] == "io.github.acme/support"
    assert manifest["remotes"] == [
        {
            "type": "streamable-http",
            "url": "https://support.acme.com/mcp",
            "headers": [
                {
                    "name": "Authorization",
                    "description": manifest["remotes"][0]["headers"][0]["description"],
                    "isRequired": True,
                    "isSecret": True,
                }
            ],
        }
    ]
    package = manifest["packages"][0]
    assert package["registryType"] == "pypi" and package["transport"] == {"type": "stdio"}
    assert package["version"] == manifest["version"]
    with pytest.raises(CommandError, match="reverse-DNS"):
        _run("mcp_manifest", "--name", "support", "--url", "https://x.example", "--output", str(path))
    with pytest.raises(CommandError, match="https"):
        _run("mcp_manifest", "--name", "io.github.acme/support", "--url", "http://x.example", "--output", str(path))


def test_inspect_explains_hidden_tools(demo):
    text = _run("mcp_inspect", "--user", "support_agent")
    assert "  + issue_refund" in text
    assert (
        "  - delete_customer: missing per-tool grant mcp_bridge.call_delete_customer; model permission: delete customer"
        in text
    )
    assert "  - search_refunds: missing per-tool grant mcp_bridge.call_search_refunds" in text
    assert "  + customer_health_review" in text
    analyst = _run("mcp_inspect", "--user", "analyst")
    assert "  - customer_health_review" not in analyst and "  + customer_health_review" in analyst
    with pytest.raises(CommandError, match="No user named"):
        _run("mcp_inspect", "--user", "ghost")


def test_config_prints_stdio_and_http_blocks():
    text = _run("mcp_config", "--user", "support_agent", "--url", "http://127.0.0.1:9000", "--api-key", "KEY")
    blocks = [json.loads(chunk.split(":\n", 1)[1]) for chunk in text.split("\n", 1)[1].split("\nHTTP")]
    stdio = blocks[0]["mcpServers"]["mcp-bridge-demo"]
    assert stdio["args"][-3:] == ["runmcp", "--user", "support_agent"]
    http = blocks[1]["mcpServers"]["mcp-bridge-demo"]
    assert http == {"type": "http", "url": "http://127.0.0.1:9000/mcp", "headers": {"Authorization": "Bearer KEY"}}


def test_committed_docs_are_current():
    from pathlib import Path

    from django.conf import settings

    from mcp_bridge.management.commands.mcp_docs import render

    committed = (Path(settings.BASE_DIR) / "docs" / "mcp.md").read_text()
    assert committed == render(site.registry), "Regenerate with `python manage.py mcp_docs`."


def test_changes_inside_list_items_are_found(surface):
    new = copy.deepcopy(surface)
    new["tools"]["search_customers"]["output_schema"]["properties"]["items"]["items"]["properties"].pop("email")
    changes = diff(surface, new)
    assert release_level(changes) == MAJOR
    assert any("search_customers output.items[]: result field 'email' removed" in message for _, message in changes)
