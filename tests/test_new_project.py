"""The README's "Add it to your own project", followed step by step in a fresh `startproject`.

Every shell line and file of that section is applied in order in a temporary directory, with the
checkout on PYTHONPATH instead of `pip install` (tests install nothing). Then a client calls the
new project's tools over stdio (`runmcp`, started as the README says) and over HTTP (uvicorn, as
the README says): a product created over one transport is found over the other.
"""

import io
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field

import httpx2
import pytest
from django.core.management import call_command
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from .servers import ROOT, free_port, wait_until_serving

README = ROOT / "README.md"
SECTION = "## Add it to your own project"
PASSWORD = "a-long-test-password-1"


@dataclass
class Steps:
    """The section's steps: commands to run in order, file edits, the serving commands, the install line."""

    install: list = field(default_factory=list)
    actions: list = field(default_factory=list)  # ("run", argv) or ("write", path, text, append)
    serve: list = field(default_factory=list)


def readme_steps():
    text = README.read_text()
    start = text.index(f"\n{SECTION}\n")
    section = text[start : text.index("\n## ", start + 1)]
    steps = Steps()
    for language, body in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S):
        if language == "python":
            first, _, rest = body.partition("\n")
            path, _, how = first.removeprefix("# ").partition(": ")
            steps.actions.append(("write", path, rest, how == "add at the end"))
            continue
        assert language == "sh", language
        for line in filter(None, (line.strip() for line in body.splitlines())):
            argv = shlex.split(line)
            if argv[:2] == ["pip", "install"]:
                steps.install = argv[2:]
            elif argv[0] == "uvicorn" or "runmcp" in argv:
                steps.serve.append(argv)
            else:
                steps.actions.append(("run", argv))
    return steps


def as_local_command(argv):
    """The README's command with this interpreter: `python`, `django-admin`, `uvicorn` all run from the checkout's venv."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] in {"django-admin", "uvicorn"}:
        return [sys.executable, "-m", argv[0].replace("-admin", ""), *argv[1:]]
    raise AssertionError(f"unexpected command in the README: {argv}")


@pytest.fixture
def project(tmp_path):
    """A fresh project built from the README: (directory, environment, API key, serving commands)."""
    steps = readme_steps()
    directory = tmp_path / "project"
    directory.mkdir()
    # Only what a shell would have, plus the checkout in place of `pip install`.
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    key = None
    for action in steps.actions:
        if action[0] == "write":
            _, path, text, append = action
            target = directory / path
            target.write_text((target.read_text() + "\n" if append else "") + text)
            continue
        argv = as_local_command(action[1])
        if "createsuperuser" in argv:
            argv.append("--noinput")  # the password comes from DJANGO_SUPERUSER_PASSWORD, not a prompt
        completed = subprocess.run(argv, cwd=directory, env=env, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, f"{shlex.join(action[1])}:\n{completed.stdout}\n{completed.stderr}"
        if "mcp_apikey" in argv:
            key = completed.stdout.strip()
    assert key and key.startswith("mcpb_")
    return directory, env, key, steps.serve


def test_install_line_names_the_distribution():
    """README, pyproject and the registry manifest name the same distribution; the import package is mcp_bridge."""
    name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert name == "django-mcp-bridge"
    assert readme_steps().install[0] == name


def test_manifest_names_the_distribution(tmp_path):
    name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    output = tmp_path / "server.json"
    call_command(
        "mcp_manifest",
        "--name",
        "io.github.acme/shop",
        "--url",
        "https://shop.example.com",
        "--output",
        str(output),
        stdout=io.StringIO(),
    )
    assert json.loads(output.read_text())["packages"][0]["identifier"] == name


@pytest.mark.subprocess
@pytest.mark.anyio
async def test_fresh_project_serves_its_admin_over_stdio_and_http(project):
    directory, env, key, serve = project
    [uvicorn] = [argv for argv in serve if argv[0] == "uvicorn"]
    [runmcp] = [argv for argv in serve if "runmcp" in argv]

    stdio = StdioServerParameters(
        command=sys.executable, args=as_local_command(runmcp)[1:], cwd=str(directory), env=env
    )
    async with Client(stdio) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert tools == {"search_products", "get_product", "create_product"}
        created = await client.call_tool("create_product", {"name": "Blue teapot", "price": "12.50"})
        assert not created.is_error, created.content[0].text
        product = created.structured_content
        assert product["name"] == "Blue teapot" and product["price"] == "12.50"

    port = free_port()
    argv = as_local_command(uvicorn)
    argv[argv.index("--port") + 1] = str(port)
    with open(directory / "uvicorn.log", "w+") as log:
        server = subprocess.Popen(argv, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = wait_until_serving(server, port, log)
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
                async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http)) as client:
                    found = await client.call_tool("search_products", {"query": "teapot"})
                    assert not found.is_error, found.content[0].text
                    assert found.structured_content["items"] == [product]
                    got = await client.call_tool("get_product", {"id": product["id"]})
                    assert got.structured_content == product
            unauthenticated = httpx2.post(f"{base_url}/mcp", json={}, timeout=10)
            assert unauthenticated.status_code == 401
            assert httpx2.get(f"{base_url}/admin/login/", timeout=10).status_code == 200  # Django still serves the rest
        finally:
            server.terminate()
            server.wait(timeout=15)
