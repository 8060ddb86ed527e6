"""The command line as a new user meets it: `make demo`, and the output of the developer commands."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import httpx2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .servers import ROOT, free_port


def _run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _http_block(text):
    return json.loads(text.split("HTTP client configuration:\n", 1)[1])["mcpServers"]["mcp-bridge-demo"]


# -- the port of `make demo` -------------------------------------------------------------------


def test_config_prints_the_port_the_server_uses(monkeypatch):
    monkeypatch.setenv("PORT", "9123")  # as `make demo PORT=9123` exports it
    assert _http_block(_run("mcp_config", "--user", "support_agent"))["url"] == "http://127.0.0.1:9123/mcp"
    assert (
        _http_block(_run("mcp_config", "--user", "support_agent", "--url", "https://mcp.example"))["url"]
        == "https://mcp.example/mcp"
    )
    monkeypatch.delenv("PORT")
    assert _http_block(_run("mcp_config", "--user", "support_agent"))["url"] == "http://127.0.0.1:8000/mcp"
    for bad in ("http", "0", "70000", "٩٠٠٠"):
        monkeypatch.setenv("PORT", bad)
        with pytest.raises(CommandError, match=f"The PORT environment variable is '{bad}': set it to a port number"):
            _run("mcp_config", "--user", "support_agent")


@pytest.mark.subprocess
@pytest.mark.anyio
async def test_make_demo_on_another_port_works_end_to_end(tmp_path):
    """`make demo PORT=N` on a fresh VAR_DIR: migrate, seed, a key, the printed configuration, a served call."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "DJANGO_SETTINGS_MODULE", "PORT", "MAKEFLAGS"}
    }
    env["VAR_DIR"] = str(tmp_path)
    log = open(tmp_path / "make-demo.log", "w+")
    # -o: the virtualenv is taken as installed (tests never install software).
    make = subprocess.Popen(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "demo", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            if make.poll() is not None:
                log.seek(0)
                pytest.fail(f"make demo exited with {make.returncode}:\n{log.read()}")
            try:
                httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "make demo did not start serving in time"
                time.sleep(0.5)
        log.seek(0)
        printed = log.read()
        http = _http_block(printed[printed.index("HTTP client configuration:") :].split("\n}\n", 1)[0] + "\n}\n")
        assert http["url"] == f"http://127.0.0.1:{port}/mcp"
        assert f"MCP endpoint: http://127.0.0.1:{port}/mcp" in printed

        async with httpx2.AsyncClient(headers=http["headers"]) as session:
            async with Client(streamable_http_client(http["url"], http_client=session)) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                assert "search_customers" in tools
                page = await client.call_tool("search_customers", {"page_size": 2})
                assert not page.is_error and len(page.structured_content["items"]) == 2
    finally:
        os.killpg(make.pid, signal.SIGTERM)  # make and the uvicorn it started: the session this test created
        try:
            make.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        log.close()


# -- '-' is standard output --------------------------------------------------------------------


def test_manifest_output_dash_prints_the_manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = _run(
        "mcp_manifest", "--name", "io.github.acme/support", "--url", "https://support.acme.com", "--output", "-"
    )
    written = tmp_path / "server.json"
    _run(
        "mcp_manifest",
        "--name",
        "io.github.acme/support",
        "--url",
        "https://support.acme.com",
        "--output",
        str(written),
    )
    assert json.loads(printed) == json.loads(written.read_text())
    assert printed == written.read_text()
    assert not (tmp_path / "-").exists()


# -- mcp_apikey create in scripts and logs -----------------------------------------------------

# A command run by a process whose stderr is not line-buffered (a wrapper, a service manager, a
# Python embedded elsewhere): what reaches the fd, and in which order, is up to the command's flushes.
BUFFERED_STDERR = """
import io, sys
sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False), buffer_size=65536))
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", *sys.argv[1:]])
"""


@pytest.mark.subprocess
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_apikey_create_explains_before_the_key_and_prints_only_the_key(django_user_model):
    from . import servers

    django_user_model.objects.create_user("scripted")
    command = [sys.executable, "-c", BUFFERED_STDERR, "mcp_apikey", "create", "--user", "scripted"]
    env = servers.test_database_env()

    combined = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True
    )
    explanation, key = combined.stdout.splitlines()
    assert explanation.startswith("Issued API key ") and explanation.endswith("it is not shown again:")
    assert key.startswith("mcpb_") and key.split("_")[1] in explanation

    separate = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert (
        separate.stdout.startswith("mcpb_") and separate.stdout.strip().count("\n") == 0
    )  # KEY=$(...) gets the key alone
    assert "Issued API key" in separate.stderr


# -- migrating app by app ----------------------------------------------------------------------


def test_migrating_one_app_first_on_a_new_database_works(tmp_path):
    """`migrate auth` before the rest must not fail writing tool grants into tables not created yet."""
    env = {**os.environ, "SQLITE_PATH": str(tmp_path / "new.sqlite3"), "VAR_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    for args in (["migrate", "auth"], ["migrate"]):
        completed = subprocess.run(
            [sys.executable, "manage.py", *args, "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stderr
    count = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.contrib.auth.models import Permission; "
            "print(Permission.objects.filter(codename='call_search_customers').count())",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert count.stdout.strip().splitlines()[-1] == "1", count.stderr
