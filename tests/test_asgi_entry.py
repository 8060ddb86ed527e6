"""The ASGI entry point as a project's asgi.py uses it: imported first, and honest when a backing service fails."""

import os
import subprocess
import sys
from urllib.parse import urlsplit

import httpx2
import pytest

from mcp_bridge.sites import McpSite

from .servers import ROOT, uvicorn_server

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def test_importable_before_django_is_set_up():
    """The first lines of a project's asgi.py import it before DJANGO_SETTINGS_MODULE is even set."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(
        [sys.executable, "-c", "from mcp_bridge.asgi import McpAsgiApp, get_asgi_application"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.subprocess
def test_database_failure_while_authenticating_is_503_with_retry_after(django_db_setup, tmp_path):
    """A database that cannot be opened is 'busy, retry' for the client and an error with its cause in the log."""
    broken = {"DATABASE_URL": "", "SQLITE_PATH": str(tmp_path / "missing" / "db.sqlite3")}
    token = "mcpb_0123456789ab_" + "x" * 43  # well formed, so the server must look it up
    with uvicorn_server(extra_env=broken) as url:
        response = httpx2.post(
            f"{url}/mcp",
            json=INITIALIZE,
            timeout=30,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/event-stream",
            },
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The server is busy; retry in a few seconds.",
    }
    log = (ROOT / "var" / f"uvicorn-{urlsplit(url).port}.log").read_text()
    assert "Could not check an MCP bearer token: a backing service failed" in log
    assert "unable to open database file" in log


@pytest.mark.anyio
async def test_without_the_lifespan_the_endpoint_says_so(api_keys):
    """A server started without the ASGI lifespan has no session manager running: a clear 500, not a traceback."""
    from django.core.asgi import get_asgi_application

    from mcp_bridge.asgi import McpAsgiApp

    app = McpAsgiApp(get_asgi_application())
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(
            "/mcp",
            json=INITIALIZE,
            headers={"Authorization": f"Bearer {api_keys['support_agent']}", "Accept": "application/json"},
        )
    assert response.status_code == 500
    assert "started without the ASGI lifespan" in response.json()["error_description"]


#: A site of its own with one custom tool that may report progress and one that may not.
response_mode_site = McpSite(name="response-mode-tests")


@response_mode_site.tool(name="long_export", description="Reports progress while it runs (tests only).", context=True)
def long_export(request, data, call):
    return {"done": True}


@response_mode_site.tool(name="quick_lookup", description="Answers at once (tests only).", read_only=True)
def quick_lookup(request, data):
    return {"done": True}


@pytest.mark.parametrize(
    ("version", "method", "name", "manager"),
    [
        ("2026-07-28", "tools/call", "quick_lookup", "plain"),
        ("2026-07-28", "tools/call", "get_customer", "plain"),  # a generated tool
        ("2026-07-28", "tools/call", "long_export", "streaming"),  # context=True: may send progress
        ("2026-07-28", "tools/call", "no_such_tool", "streaming"),  # the SDK answers it as it does any
        ("2026-07-28", "tools/call", None, "streaming"),
        ("2026-07-28", "tools/list", None, "plain"),
        ("2026-07-28", "resources/read", None, "plain"),
        ("2026-07-28", "prompts/get", "customer_health_review", "streaming"),  # a prompt may log
        ("2026-07-28", None, None, "streaming"),
        ("2025-11-25", "tools/call", "quick_lookup", "streaming"),  # sessions live in one manager
        (None, "tools/list", None, "streaming"),
    ],
)
def test_only_requests_that_cannot_notify_are_answered_as_plain_json(version, method, name, manager):
    from django.core.asgi import get_asgi_application

    from mcp_bridge.asgi import McpAsgiApp

    app = McpAsgiApp(get_asgi_application(), site=response_mode_site)
    app.streaming, app.plain = app.build_session_managers()
    assert app.streaming is not app.plain
    headers = {"mcp-protocol-version": version, "mcp-method": method, "mcp-name": name}
    chosen = app.session_manager_for({key: value for key, value in headers.items() if value is not None})
    assert chosen is getattr(app, manager)
