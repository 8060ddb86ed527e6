"""Clients other than our own SDK: the MCP Inspector CLI and the TypeScript SDK, over HTTP and stdio.

Each runs as a Node 22 subprocess (tests/external, pinned) against the demo data: uvicorn serving
config.asgi (`live_server_url`) with a support agent's API key, or `manage.py runmcp --user
support_agent` spawned by the client. What they print is parsed and checked.
"""

import io
import json
import sys

import pytest
from django.core.management import call_command

from customers.models import Customer
from mcp_bridge.sites import site

from . import servers
from .external import tooling
from .legacy_rows import insert_legacy_rows
from .servers import ROOT

pytestmark = pytest.mark.subprocess

SUPPORT_AGENT_TOOLS = {
    "search_customers",
    "get_customer",
    "search_orders",
    "get_order",
    "search_support_tickets",
    "get_support_ticket",
    "update_ticket_status",
    "issue_refund",
}
RUNMCP = [sys.executable, "manage.py", "runmcp", "--user", "support_agent"]
# What a stdio child needs from our environment to open the test database. The Inspector passes a
# stdio server only a minimal environment (PATH, HOME, ...) plus its -e options.
DATABASE_ENV = (
    "SQLITE_PATH",
    "DATABASE_URL",
    "DATABASE_POOL",
    "VAR_DIR",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "PYTHONUNBUFFERED",
)


@pytest.fixture(scope="session")
def node_tools():
    try:
        return tooling.require()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def customer(demo):
    """A customer the support agent may see, with a phone number (which MCP redacts)."""
    return Customer.objects.filter(is_internal=False).exclude(phone="").order_by("pk").first()


@pytest.fixture
def inspector(node_tools, tmp_path):
    """Run `mcp-inspector --cli ARGS`; return (exit code, stdout JSON or None, stderr)."""
    home = tmp_path / "home"  # the Inspector keeps state under ~/.mcp-inspector
    home.mkdir()

    def run(*args):
        completed = tooling.run_node(
            [tooling.INSPECTOR, "--cli", "--format", "json", *args], env=tooling.node_env(HOME=home), cwd=ROOT
        )
        payload = tooling.last_json_line(completed.stdout) if completed.stdout.strip() else None
        return completed.returncode, payload, completed.stderr

    return run


@pytest.fixture
def ts_client(node_tools):
    """Run tests/external/ts_client.mjs with a plan; return (exit code, its JSON report, stderr)."""

    def run(plan, env=None):
        completed = tooling.run_node(
            [tooling.TS_CLIENT, json.dumps(plan)], env=tooling.node_env(**(env or {})), cwd=ROOT
        )
        return completed.returncode, tooling.last_json_line(completed.stdout), completed.stderr

    return run


@pytest.fixture
def make_demo_data(demo):
    """The data `make demo` serves (seed_demo --customers 1000, seed 42) plus one legacy customer with
    an order and a ticket, newer than any other row; return {model: legacy row id}."""
    call_command("seed_demo", customers=1000, seed=42, stdout=io.StringIO())
    return insert_legacy_rows()


def read_tool_calls(tools, legacy):
    """Every read tool in *tools* (a tools/list result) with its arguments: search_* with none, get_* with
    the legacy row's id; also the id each answer must lead with."""
    calls = []
    for tool in tools:
        if not tool["annotations"]["readOnlyHint"]:
            continue
        pk = legacy[site.registry.tools[tool["name"]].exposure.model]
        calls.append((tool["name"], {} if tool["name"].startswith("search_") else {"id": pk}, pk))
    return calls


def assert_read_result(name, result, pk):
    assert result["isError"] is False, (name, result)
    data = result["structuredContent"]
    assert (data["items"][0]["id"] if name.startswith("search_") else data["id"]) == pk, (name, data)


def stdio_env_options():
    env = servers.test_database_env()
    return [option for key in DATABASE_ENV if key in env for option in ("-e", f"{key}={env[key]}")]


def assert_search_result(result, status="active", count=3):
    assert result["isError"] is False, result
    items = result["structuredContent"]["items"]
    assert len(items) == count and all(item["status"] == status for item in items)
    assert all(item["phone"].endswith("***") for item in items if item["phone"])
    assert json.loads(result["content"][0]["text"])["items"] == items


def assert_customer_resource(result, customer):
    [contents] = result["contents"]
    assert contents["uri"] == f"customers://customer/{customer.pk}" and contents["mimeType"] == "application/json"
    record = json.loads(contents["text"])
    assert record["id"] == customer.pk and record["email"] == customer.email
    assert record["phone"].endswith("***")


def assert_health_prompt(result, customer):
    [message] = result["messages"]
    assert message["role"] == "user" and message["content"]["type"] == "text"
    assert f"get_customer with id {customer.pk}" in message["content"]["text"]


# -- MCP Inspector CLI, Streamable HTTP --------------------------------------------------------------


def test_inspector_http(inspector, api_keys, live_server_url, customer):
    url, auth = f"{live_server_url}/mcp", ("--header", f"Authorization: Bearer {api_keys['support_agent']}")

    code, listed, stderr = inspector(url, "--transport", "http", "--method", "tools/list", *auth)
    assert code == 0, stderr
    tools = {tool["name"]: tool for tool in listed["result"]["tools"]}
    assert set(tools) == SUPPORT_AGENT_TOOLS
    assert tools["search_customers"]["annotations"]["readOnlyHint"] is True
    assert tools["issue_refund"]["inputSchema"]["type"] == "object"

    code, called, stderr = inspector(
        url,
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "search_customers",
        "--tool-args-json",
        json.dumps({"status": "active", "page_size": 3}),
        *auth,
    )
    assert code == 0, stderr
    assert_search_result(called["result"])

    code, read, stderr = inspector(
        url, "--transport", "http", "--method", "resources/read", "--uri", f"customers://customer/{customer.pk}", *auth
    )
    assert code == 0, stderr
    assert_customer_resource(read["result"], customer)

    code, prompt, stderr = inspector(
        url,
        "--transport",
        "http",
        "--method",
        "prompts/get",
        "--prompt-name",
        "customer_health_review",
        "--prompt-args",
        f"customer_id={customer.pk}",
        *auth,
    )
    assert code == 0, stderr
    assert_health_prompt(prompt["result"], customer)

    code, templates, stderr = inspector(url, "--transport", "http", "--method", "resources/templates/list", *auth)
    assert code == 0, stderr
    assert "customers://customer/{id}" in {t["uriTemplate"] for t in templates["result"]["resourceTemplates"]}


def test_inspector_validates_every_read_tool_on_the_demo_data(inspector, api_keys, live_server_url, make_demo_data):
    """The Inspector checks structuredContent against outputSchema (Ajv with formats) and exits 5 on a mismatch."""
    url, auth = f"{live_server_url}/mcp", ("--header", f"Authorization: Bearer {api_keys['support_agent']}")
    code, listed, stderr = inspector(url, "--transport", "http", "--method", "tools/list", *auth)
    assert code == 0, stderr
    calls = read_tool_calls(listed["result"]["tools"], make_demo_data)
    assert {name for name, _, _ in calls} == {
        name for name in SUPPORT_AGENT_TOOLS if name.startswith(("search_", "get_"))
    }
    for name, arguments, pk in calls:
        code, called, stderr = inspector(
            url,
            "--transport",
            "http",
            "--method",
            "tools/call",
            "--tool-name",
            name,
            "--tool-args-json",
            json.dumps(arguments),
            *auth,
        )
        assert code == 0, f"{name} {arguments}: {stderr}"
        assert_read_result(name, called["result"], pk)


def test_inspector_http_errors(inspector, api_keys, live_server_url):
    """A bad key, a hidden tool and a tool error, each with the Inspector's own exit code."""
    url = f"{live_server_url}/mcp"
    code, _, stderr = inspector(
        url,
        "--transport",
        "http",
        "--method",
        "tools/list",
        "--stored-auth-only",
        "--header",
        "Authorization: Bearer mcpb_not_a_key",
    )
    assert code == 3, stderr
    envelope = tooling.last_json_line(stderr)
    assert envelope["error"]["code"] == "auth_required" and "invalid_token" in envelope["error"]["message"]

    analyst = ("--header", f"Authorization: Bearer {api_keys['analyst']}")
    code, _, stderr = inspector(
        url,
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "issue_refund",
        "--tool-args-json",
        json.dumps({"order_id": 1, "amount": "1.00", "reason": "goodwill"}),
        *analyst,
    )
    assert code == 5 and tooling.last_json_line(stderr)["error"]["code"] == "tool_not_found", stderr

    code, result, stderr = inspector(
        url,
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "get_customer",
        "--tool-args-json",
        json.dumps({"id": 10**9}),
        *analyst,
    )
    assert code == 5 and tooling.last_json_line(stderr)["error"]["code"] == "tool_is_error", stderr
    assert result["result"]["isError"] is True
    assert result["result"]["content"][0]["text"].startswith("No customer with id 1000000000 exists")


def test_inspector_tool_schemas_are_portable(inspector, api_keys, live_server_url):
    """`--strict` lints every tool schema for portability across model providers: no errors."""
    code, listed, stderr = inspector(
        f"{live_server_url}/mcp",
        "--transport",
        "http",
        "--method",
        "tools/list",
        "--strict",
        "--header",
        f"Authorization: Bearer {api_keys['admin']}",
    )
    assert code == 0, stderr  # 6 would mean an error-severity problem (warnings are allowed)
    assert len(listed["result"]["tools"]) > len(SUPPORT_AGENT_TOOLS)


# -- MCP Inspector CLI, stdio (runmcp) ---------------------------------------------------------------


def test_inspector_stdio(inspector, customer):
    target = ["--transport", "stdio", *stdio_env_options(), "--"]

    code, listed, stderr = inspector("--method", "tools/list", *target, *RUNMCP)
    assert code == 0, stderr
    assert {tool["name"] for tool in listed["result"]["tools"]} == SUPPORT_AGENT_TOOLS

    code, called, stderr = inspector(
        "--method",
        "tools/call",
        "--tool-name",
        "search_customers",
        "--tool-args-json",
        json.dumps({"status": "active", "page_size": 3}),
        *target,
        *RUNMCP,
    )
    assert code == 0, stderr
    assert_search_result(called["result"])

    code, read, stderr = inspector(
        "--method", "resources/read", "--uri", f"customers://customer/{customer.pk}", *target, *RUNMCP
    )
    assert code == 0, stderr
    assert_customer_resource(read["result"], customer)

    code, prompt, stderr = inspector(
        "--method",
        "prompts/get",
        "--prompt-name",
        "customer_health_review",
        "--prompt-args",
        f"customer_id={customer.pk}",
        *target,
        *RUNMCP,
    )
    assert code == 0, stderr
    assert_health_prompt(prompt["result"], customer)


# -- TypeScript SDK client ---------------------------------------------------------------------------


def plan_for(customer):
    return {
        "tool": {"name": "search_customers", "arguments": {"status": "active", "page_size": 3}},
        "resource": f"customers://customer/{customer.pk}",
        "prompt": {"name": "customer_health_review", "arguments": {"customer_id": str(customer.pk)}},
    }


def assert_ts_report(report, customer):
    assert report["serverInfo"]["name"] == "mcp-bridge-demo"
    assert set(report["capabilities"]) >= {"tools", "resources", "prompts", "completions", "logging"}
    assert "search_customers" in report["instructions"]
    assert {tool["name"] for tool in report["tools"]} == SUPPORT_AGENT_TOOLS
    assert_search_result(report["toolCall"])
    assert "customers://customer/{id}" in {t["uriTemplate"] for t in report["resourceTemplates"]}
    assert_customer_resource(report["resource"], customer)
    assert "customer_health_review" in {p["name"] for p in report["prompts"]}
    assert_health_prompt(report["prompt"], customer)
    assert report["ping"] == {}


def test_ts_sdk_http(ts_client, api_keys, live_server_url, customer):
    code, report, stderr = ts_client(
        {"transport": "http", "url": f"{live_server_url}/mcp", "token": api_keys["support_agent"], **plan_for(customer)}
    )
    assert code == 0, (report, stderr)
    assert report["protocolVersion"] == "2025-11-25"  # the newest this SDK speaks
    assert report["sessionId"] and report["terminated"] is True  # the session ended with DELETE
    assert_ts_report(report, customer)


def test_ts_sdk_validates_every_read_tool_on_the_demo_data(ts_client, api_keys, live_server_url, make_demo_data):
    """The TypeScript SDK checks structuredContent against outputSchema (Ajv with formats) and throws on a mismatch."""
    plan = {"transport": "http", "url": f"{live_server_url}/mcp", "token": api_keys["support_agent"]}
    code, report, stderr = ts_client(plan)
    assert code == 0, (report, stderr)
    calls = read_tool_calls(report["tools"], make_demo_data)
    assert {name for name, _, _ in calls} == {
        name for name in SUPPORT_AGENT_TOOLS if name.startswith(("search_", "get_"))
    }

    code, report, stderr = ts_client(
        {**plan, "calls": [{"name": name, "arguments": arguments} for name, arguments, _ in calls]}
    )
    assert code == 0, (report, stderr)
    assert [call.get("error") for call in report["calls"]] == [None] * len(calls), report["calls"]
    for (name, _, pk), call in zip(calls, report["calls"], strict=True):
        assert_read_result(name, call["result"], pk)


def test_ts_sdk_http_rejects_a_bad_key(ts_client, live_server_url, demo):
    code, report, _ = ts_client({"transport": "http", "url": f"{live_server_url}/mcp", "token": "mcpb_not_a_key"})
    assert code == 1
    assert report["code"] == 401 and "invalid_token" in report["error"]


def test_ts_sdk_stdio(ts_client, customer):
    command, *args = RUNMCP
    code, report, stderr = ts_client(
        {"transport": "stdio", "command": command, "args": args, "cwd": str(ROOT), **plan_for(customer)},
        env=servers.test_database_env(),
    )
    assert code == 0, (report, stderr)
    assert report["protocolVersion"] == "2025-11-25" and report["sessionId"] is None
    assert_ts_report(report, customer)
