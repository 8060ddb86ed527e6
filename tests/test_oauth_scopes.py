"""OAuth scopes against Django permissions, for every tool the demo generates, over real HTTP.

What an OAuth client may use is what its user may use (seen with an API key, which scopes do not limit)
AND what its token's scopes allow. The scope each tool needs is worked out here from what tools/list
says about it (readOnlyHint) and the demo's report and job tools named below, not from mcp_bridge's
own rule, so the test checks that rule rather than repeating it:

* permission missing: the tool is not listed and calling it is answered as for a tool that does not exist;
* permission present, scope missing: not listed, and a call is refused with HTTP 403 insufficient_scope
  naming every scope needed (step-up);
* both present: listed, and a call reaches the tool (with an argument no tool accepts, so nothing is
  written: the tool answers "Invalid arguments").
"""

import contextlib
import io
from itertools import count

import httpx2
import pytest
from django.core.management import CommandError, call_command

from .conftest import ROLES
from .oauth_tokens import issue_token, make_application, mcp_resource
from .test_http import HANDSHAKE, INITIALIZE, legacy_headers, rpc_messages, rpc_result
from .test_oauth_refusals import assert_refused, call_mcp

READ, WRITE, REPORTS = "mcp:read", "mcp:write", "mcp:reports"
#: The demo's reports and the tools that follow their jobs: they need mcp:reports.
REPORT_AND_JOB_TOOLS = frozenset({"revenue_report", "churn_risk_report", "get_job_status", "cancel_job"})
#: What each scope grants: itself and the narrower scopes it implies.
IMPLIED = {READ: {READ}, WRITE: {WRITE, READ}, REPORTS: {REPORTS, READ}}
SCOPE_SETS = {
    "read": (READ,),
    "write": (WRITE,),
    "reports": (REPORTS,),
    "all": (READ, WRITE, REPORTS),
}
#: An argument no generated tool accepts: a call that gets through is refused by the tool, writing nothing.
HARMLESS_ARGUMENTS = {"argument_no_tool_has": 1}


def allowed_scopes(granted):
    return set().union(*(IMPLIED[scope] for scope in granted))


def needed_scope(tool):
    if tool["name"] in REPORT_AND_JOB_TOOLS:
        return REPORTS
    return READ if tool["annotations"]["readOnlyHint"] else WRITE


def assert_insufficient_scope(response, base_url, granted, needed):
    """403 insufficient_scope whose scope= names the granted scopes and *needed* (and nothing they do
    not imply), with the resource metadata URL."""
    assert response.status_code == 403, (response.status_code, response.text)
    scope = response.json()["scope"]
    body, params = assert_refused(response, base_url, status=403, error="insufficient_scope", scope=scope)
    asked = set(scope.split())
    assert {*granted, needed} <= asked <= allowed_scopes(granted) | {needed}, (granted, needed, scope)
    return body


# -- the two protocol eras, as raw HTTP ------------------------------------------------------------


class StatelessConnection:
    """2026-07-28: each request stands alone, its method and tool name in headers."""

    def __init__(self, base_url, token):
        self.base_url, self.token = base_url, token

    def post(self, method, params, request_id):
        name = params.get("name") if method == "tools/call" else None
        return call_mcp(self.base_url, self.token, method, params, name=name, request_id=request_id)


class HandshakeConnection:
    """2025-11-25: a session opened with initialize, its id sent with every request."""

    def __init__(self, http, base_url, token):
        self.http, self.url, self.token = http, f"{base_url}/mcp", token
        opened = http.post(self.url, headers=legacy_headers(token), json=INITIALIZE)
        assert rpc_result(opened)["protocolVersion"] == HANDSHAKE
        self.session_id = opened.headers["mcp-session-id"]
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert http.post(self.url, headers=self.headers(), json=initialized).status_code == 202

    def headers(self):
        return legacy_headers(self.token, self.session_id)

    def post(self, method, params, request_id):
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        return self.http.post(self.url, headers=self.headers(), json=message)

    def close(self):
        self.http.delete(self.url, headers=self.headers())


@contextlib.contextmanager
def connection(era, base_url, token):
    if era == "2026-07-28":
        yield StatelessConnection(base_url, token)
        return
    with httpx2.Client() as http:
        session = HandshakeConnection(http, base_url, token)
        try:
            yield session
        finally:
            session.close()


def answer(response, request_id):
    """The JSON-RPC message answering *request_id*."""
    answers = [message for message in rpc_messages(response) if message.get("id") == request_id]
    assert len(answers) == 1, (response.status_code, response.text)
    return answers[0]


def unknown_tool_shape(response, request_id, name):
    """How an "Unknown tool" answer looks, with the tool's name taken out: comparable across names."""
    message = answer(response, request_id)
    error = message.get("error")
    assert error is not None and error["message"] == f"Unknown tool: {name}", message
    return response.status_code, error["code"], error.get("data")


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def tools_by_role(api_keys, live_server_url):
    """{role: {tool name: its tools/list entry}} as an API key of each demo user lists them."""
    listed = {}
    for role in ROLES:
        response = call_mcp(live_server_url, api_keys[role])
        listed[role] = {tool["name"]: tool for tool in rpc_result(response)["tools"]}
    return listed


@pytest.fixture
def all_tools(tools_by_role):
    """Every tool the demo generates: what the superuser lists."""
    tools = tools_by_role["admin"]
    assert REPORT_AND_JOB_TOOLS <= set(tools), "the demo's report and job tools are named above"
    # Calls below rely on it: every tool refuses an argument it does not declare.
    assert all(tool["inputSchema"].get("additionalProperties") is False for tool in tools.values())
    assert {needed_scope(tool) for tool in tools.values()} == {READ, WRITE, REPORTS}
    return tools


# -- the matrix ------------------------------------------------------------------------------------


@pytest.mark.subprocess
@pytest.mark.parametrize("era", ["2026-07-28", HANDSHAKE])
def test_scope_and_permission_matrix(demo, all_tools, tools_by_role, live_server_url, era):
    """Every tool x demo role x scope set: the listing and a call of each tool."""
    application = make_application("Scope matrix client")
    request_ids = count(1)
    mismatches = []
    seen = set()
    for role in ROLES:
        permitted = set(tools_by_role[role])
        for label, granted in SCOPE_SETS.items():
            _, token = issue_token(
                application, demo[role], scope=" ".join(granted), resource=[mcp_resource(live_server_url)]
            )
            scoped = {name for name, tool in all_tools.items() if needed_scope(tool) in allowed_scopes(granted)}
            with connection(era, live_server_url, token) as mcp:
                request_id = next(request_ids)
                listed = {
                    tool["name"] for tool in rpc_result(mcp.post("tools/list", {}, request_id), request_id)["tools"]
                }
                if listed != permitted & scoped:
                    mismatches.append((role, label, "tools/list", sorted(listed ^ (permitted & scoped))))

                request_id = next(request_ids)
                made_up = mcp.post("tools/call", {"name": "no_such_tool", "arguments": {}}, request_id)
                unknown = unknown_tool_shape(made_up, request_id, "no_such_tool")

                for name, tool in sorted(all_tools.items()):
                    request_id = next(request_ids)
                    response = mcp.post("tools/call", {"name": name, "arguments": HARMLESS_ARGUMENTS}, request_id)
                    outcome = call_outcome(response, request_id, name, unknown, live_server_url, granted, tool)
                    expected = "unknown" if name not in permitted else "step-up" if name not in scoped else "reached"
                    seen.add(outcome)
                    if outcome != expected:
                        mismatches.append((role, label, name, f"expected {expected}, got {outcome}"))
    assert not mismatches, "\n".join(map(str, mismatches))
    assert seen == {"unknown", "step-up", "reached"}, seen


def call_outcome(response, request_id, name, unknown, base_url, granted, tool):
    """'unknown', 'step-up' or 'reached', each checked in full; anything else is described."""
    if response.status_code == 403:
        assert_insufficient_scope(response, base_url, granted, needed_scope(tool))
        return "step-up"
    message = answer(response, request_id)
    if "error" in message:
        assert unknown_tool_shape(response, request_id, name) == unknown, (name, message)
        return "unknown"
    result = message["result"]
    text = " ".join(part.get("text", "") for part in result["content"])
    if result.get("isError") and text.startswith(f"Invalid arguments for {name}"):
        return "reached"
    return f"an unexpected answer: {message}"


# -- job status URLs -------------------------------------------------------------------------------


@pytest.mark.subprocess
@pytest.mark.parametrize("granted", [(READ,), (WRITE,), (READ, WRITE)], ids=" ".join)
def test_job_status_url_needs_the_reports_scope(demo, live_server_url, granted):
    application = make_application("Job status client")
    _, token = issue_token(
        application, demo["analyst"], scope=" ".join(granted), resource=[mcp_resource(live_server_url)]
    )
    response = httpx2.get(f"{live_server_url}/mcp/jobs/no-such-job", headers={"Authorization": f"Bearer {token}"})
    body = assert_insufficient_scope(response, live_server_url, granted, REPORTS)
    assert REPORTS in body["error_description"]


@pytest.mark.subprocess
def test_job_status_url_with_the_reports_scope_answers_as_usual(demo, live_server_url):
    application = make_application("Job status client")
    _, token = issue_token(application, demo["analyst"], scope=REPORTS, resource=[mcp_resource(live_server_url)])
    response = httpx2.get(f"{live_server_url}/mcp/jobs/no-such-job", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404, (response.status_code, response.text)
    assert response.json()["error"] == "not_found"
    assert "www-authenticate" not in response.headers


# -- mcp_inspect --scopes --------------------------------------------------------------------------


def inspect(**options):
    out = io.StringIO()
    call_command("mcp_inspect", stdout=out, **options)
    return out.getvalue().splitlines()


def test_inspect_with_read_scope_hides_write_tools_for_the_scope(demo):
    lines = inspect(user="support_agent", scopes=READ)
    assert "OAuth scopes: mcp:read" in lines
    # support agents may change tickets and issue refunds: only the scope hides them
    assert "  - update_ticket_status: missing OAuth scope mcp:write" in lines
    assert "  - issue_refund: missing OAuth scope mcp:write" in lines
    # what they may not do anyway names the scope first, then the permission
    delete = next(line for line in lines if line.startswith("  - delete_customer: "))
    assert delete.startswith("  - delete_customer: missing OAuth scope mcp:write; "), delete
    assert "  + search_customers" in lines and "  + get_customer" in lines
    without_scopes = inspect(user="support_agent")
    assert "  + update_ticket_status" in without_scopes and "  + issue_refund" in without_scopes


def test_inspect_with_an_unknown_scope_names_the_valid_ones(demo):
    with pytest.raises(CommandError) as caught:
        inspect(user="support_agent", scopes="mcp:read mcp:admin")
    message = str(caught.value)
    assert "mcp:admin" in message
    assert all(scope in message for scope in (READ, WRITE, REPORTS)), message
