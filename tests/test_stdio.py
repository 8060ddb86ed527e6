"""`manage.py runmcp` as a real subprocess: the SDK's stdio client, and the raw bytes on its pipes."""

import json
import queue
import subprocess
import sys
import threading

import pytest
from mcp import Client, StdioServerParameters

from . import servers
from .servers import ROOT

pytestmark = pytest.mark.subprocess

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
ERA_OF_MODE = {"auto": MODERN, "legacy": HANDSHAKE}
RUNMCP = [sys.executable, "manage.py", "runmcp"]

#: The analyst's tools beyond the reads: the demo's reports and the tool that cancels their jobs.
ANALYST_REPORT_TOOLS = {"revenue_report", "churn_risk_report", "cancel_job"}
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


def runmcp_params(username, **extra_env):
    return StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "runmcp", "--user", username],
        cwd=str(ROOT),
        env={**servers.test_database_env(), **extra_env},
    )


# -- the SDK client over stdio, both eras ----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_runmcp_both_eras(demo, mode):
    async with Client(runmcp_params("support_agent"), mode=mode) as client:
        assert client.protocol_version == ERA_OF_MODE[mode]
        assert client.server_info.name == "mcp-bridge-demo"

        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert tools == SUPPORT_AGENT_TOOLS

        page = await client.call_tool("search_customers", {"status": "active", "page_size": 3})
        assert not page.is_error, page.content
        items = page.structured_content["items"]
        assert len(items) == 3 and all(item["status"] == "active" for item in items)
        assert all(item["phone"].endswith("***") for item in items if item["phone"])

        customer_id = items[0]["id"]
        prompt = await client.get_prompt("customer_health_review", {"customer_id": str(customer_id)})
        assert prompt.messages[0].role == "user"
        assert f"get_customer with id {customer_id}" in prompt.messages[0].content.text


@pytest.mark.anyio
async def test_runmcp_acts_with_the_given_users_permissions(demo):
    """The same command as another user: what it sees is that user's, not a fixed set."""
    from mcp.shared.exceptions import MCPError
    from mcp.types import INVALID_PARAMS

    async with Client(runmcp_params("analyst")) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert "search_customers" in tools and "issue_refund" not in tools
        # Reads, the reports and their job tools: nothing that changes the demo's data.
        assert all(name.startswith(("search_", "get_")) or name in ANALYST_REPORT_TOOLS for name in tools)
        with pytest.raises(MCPError) as caught:
            await client.call_tool("issue_refund", {"order_id": 1, "amount": "1.00", "reason": "goodwill"})
        assert caught.value.code == INVALID_PARAMS and caught.value.message == "Unknown tool: issue_refund"


# -- raw pipes: stdout carries protocol bytes only -------------------------------------------------


class RawStdioServer:
    """runmcp under Popen, with stdout and stderr drained by threads so nothing can block."""

    def __init__(self, username, **extra_env):
        self.process = subprocess.Popen(
            [*RUNMCP, "--user", username],
            cwd=ROOT,
            env={**servers.test_database_env(), **extra_env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.stdout_lines = []  # every raw line (bytes) the server wrote to stdout
        self.messages = queue.Queue()
        self.stderr = []
        self._threads = [
            threading.Thread(target=self._drain_stdout, daemon=True),
            threading.Thread(target=self._drain_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _drain_stdout(self):
        for line in self.process.stdout:
            self.stdout_lines.append(line)
            self.messages.put(line)

    def _drain_stderr(self):
        for line in self.process.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def send(self, message):
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, request_id, timeout=30):
        """Read stdout lines until the response to *request_id*; each must be a JSON-RPC message."""
        while True:
            try:
                line = self.messages.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no answer to request {request_id}; stderr:\n{''.join(self.stderr)}") from None
            message = parse_jsonrpc_line(line)
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return message

    def close(self, timeout=15):
        """Close stdin (end of session) and wait for the process to exit; return its exit code."""
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("runmcp did not exit after its stdin was closed") from None
        finally:
            for thread in self._threads:
                thread.join(timeout=5)
            self.process.stdout.close()
            self.process.stderr.close()


def parse_jsonrpc_line(line):
    assert line.endswith(b"\n"), f"partial line on stdout: {line!r}"
    try:
        message = json.loads(line)
    except ValueError:
        raise AssertionError(f"stdout carried a non-protocol line: {line!r}") from None
    assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", f"not a JSON-RPC message: {line!r}"
    assert ("method" in message) or ("id" in message and ("result" in message or "error" in message)), message
    return message


def envelope(params=None):
    return {
        **(params or {}),
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}},
    }


def test_stdout_carries_only_protocol_messages_handshake_era(demo):
    # Verbose logging, so there is plenty that could leak onto stdout.
    server = RawStdioServer("support_agent", LOG_LEVEL="DEBUG")
    try:
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": HANDSHAKE,
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            }
        )
        initialized = server.answer(1)
        assert initialized["result"]["protocolVersion"] == HANDSHAKE
        assert initialized["result"]["serverInfo"]["name"] == "mcp-bridge-demo"
        server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

        server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        assert {tool["name"] for tool in server.answer(2)["result"]["tools"]} == SUPPORT_AGENT_TOOLS

        server.send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "search_customers", "arguments": {"page_size": 2}},
            }
        )
        called = server.answer(3)["result"]
        assert not called.get("isError") and len(called["structuredContent"]["items"]) == 2

        server.send(
            {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}}
        )
        assert server.answer(4)["error"]["message"] == "Unknown tool: no_such_tool"
    finally:
        exit_code = server.close()
    assert exit_code == 0, "".join(server.stderr)
    assert len(server.stdout_lines) >= 4
    for line in server.stdout_lines:
        parse_jsonrpc_line(line)
    stderr = "".join(server.stderr)
    assert "serving MCP over stdio as 'support_agent'" in stderr
    assert "mcp call" in stderr  # the call log went to stderr, not stdout


def test_stdout_carries_only_protocol_messages_modern_era(demo):
    server = RawStdioServer("support_agent", LOG_LEVEL="DEBUG")
    try:
        server.send({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": envelope()})
        discovered = server.answer(1)
        assert "error" not in discovered, discovered
        assert MODERN in json.dumps(discovered["result"])

        server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": envelope()})
        assert {tool["name"] for tool in server.answer(2)["result"]["tools"]} == SUPPORT_AGENT_TOOLS

        server.send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": envelope({"name": "search_orders", "arguments": {"page_size": 2}}),
            }
        )
        called = server.answer(3)["result"]
        assert not called.get("isError") and len(called["structuredContent"]["items"]) == 2
    finally:
        exit_code = server.close()
    assert exit_code == 0, "".join(server.stderr)
    for line in server.stdout_lines:
        parse_jsonrpc_line(line)
    assert "mcp call" in "".join(server.stderr)


# -- refusing to start -----------------------------------------------------------------------------


def run_to_exit(*args, timeout=60):
    return subprocess.run(
        [*RUNMCP, *args],
        cwd=ROOT,
        env=servers.test_database_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_unknown_user_exits_non_zero(demo):
    finished = run_to_exit("--user", "nosuchuser")
    assert finished.returncode != 0
    assert "No user named 'nosuchuser'" in finished.stderr
    assert finished.stdout == ""  # nothing on the protocol channel


def test_inactive_user_exits_non_zero(demo):
    user = demo["analyst"]
    user.is_active = False
    user.save(update_fields=["is_active"])
    finished = run_to_exit("--user", "analyst")
    assert finished.returncode != 0
    assert "inactive" in finished.stderr
    assert finished.stdout == ""


def test_user_is_required():
    finished = run_to_exit()
    assert finished.returncode != 0
    assert "--user" in finished.stderr
    assert finished.stdout == ""
