"""The README's usage examples, run as printed on `make demo`'s data, and its Inspector command.

Every call in the ```text blocks of "What it looks like in use" goes through the SDK client as the
user its example names, in README order (a refund's id depends on the ones before it), and what
the README prints after `->` is compared with what came back:

    -> {"key": value, ...}          these keys of the structured result have these values
    -> items[0]: {...}              the same, for the first item of a search
    -> error: TEXT                  an isError result with this text (a trailing '...' matches a prefix)
    -> protocol error: TEXT         a JSON-RPC error with this message
"""

import json
import re
import shlex
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from mcp.shared.exceptions import MCPError

from .conftest import _Null, mcp_client
from .external import tooling
from .servers import ROOT

pytestmark = pytest.mark.anyio

README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
INSPECTOR_PACKAGE = "@modelcontextprotocol/inspector"


@dataclass
class Call:
    role: str
    tool: str
    arguments: dict
    expected: str = ""

    def __str__(self):
        return f"{self.tool} {json.dumps(self.arguments)} (as {self.role})"


def readme_section(heading):
    text = README.read_text()
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def example_calls():
    """The calls of every numbered example, each with the role the example names."""
    section = readme_section("### What it looks like in use")
    calls = []
    for example in re.split(r"^\d+\. ", section, flags=re.M)[1:]:
        role = re.search(r"\(as `(\w+)`\)", example).group(1)
        for block in re.findall(r"```text\n(.*?)```", example, flags=re.S):
            for line in filter(None, (line.strip() for line in block.splitlines())):
                if line.startswith("->"):
                    calls[-1].expected = line[2:].strip()
                else:
                    tool, arguments = line.split(" ", 1)
                    calls.append(Call(role, tool, json.loads(arguments)))
    return calls


def make_demo_seed_arguments():
    """The seed_demo arguments of `make demo`, read from the Makefile."""
    line = next(line for line in MAKEFILE.read_text().splitlines() if "manage.py seed_demo" in line)
    return shlex.split(line.split("manage.py", 1)[1])


@pytest.fixture
def make_demo_data(transactional_db, django_db_serialized_rollback):
    cache.clear()
    call_command(*make_demo_seed_arguments(), stdout=_Null())
    return {user.username: user for user in get_user_model().objects.all()}


def test_examples_are_found():
    calls = example_calls()
    assert {call.role for call in calls} == {"support_agent", "analyst"}
    assert len(calls) >= 10 and all(call.expected for call in calls), [str(c) for c in calls if not c.expected]
    assert make_demo_seed_arguments()[0] == "seed_demo"


async def test_examples_run_as_printed(make_demo_data):
    for call in example_calls():
        async with mcp_client(make_demo_data[call.role]) as client:
            await check(client, call)


async def check(client, call):
    expected = call.expected
    if expected.startswith("protocol error:"):
        with pytest.raises(MCPError) as raised:
            await client.call_tool(call.tool, call.arguments)
        assert raised.value.error.message == expected.removeprefix("protocol error:").strip(), str(call)
        return
    result = await client.call_tool(call.tool, call.arguments)
    text = result.content[0].text if result.content else ""
    if expected.startswith("error:"):
        message = expected.removeprefix("error:").strip()
        assert result.is_error, f"{call}: expected an error, got {text}"
        if message.endswith("..."):
            assert text.startswith(message.removesuffix("...")), f"{call}: {text}"
        else:
            assert text == message, str(call)
        return
    assert not result.is_error, f"{call}: {text}"
    actual = result.structured_content
    path, _, printed = expected.partition(": ") if expected.startswith("items[") else ("", "", expected)
    if path:
        index = int(re.fullmatch(r"items\[(\d+)\]", path).group(1))
        actual = actual["items"][index]
    printed = json.loads(printed)
    assert {key: actual.get(key) for key in printed} == printed, str(call)


# -- the Inspector command -------------------------------------------------------------------------


def inspector_command():
    """The README's `npx ... mcp-inspector ...` line: ([packages npx installs], bin name, [its arguments])."""
    line = next(line.strip() for line in README.read_text().splitlines() if line.strip().startswith("npx "))
    words = shlex.split(line)
    packages, position = [], 1
    while words[position].startswith("-"):
        if words[position] == "-p":
            packages.append(words[position + 1])
            position += 1
        position += 1
    return packages, words[position], words[position + 1 :]


def test_inspector_command_pins_the_tested_versions():
    packages, _, _ = inspector_command()
    pinned = json.loads((tooling.EXTERNAL / "package.json").read_text())["dependencies"]
    assert packages == [f"node@{pinned['node']}", f"{INSPECTOR_PACKAGE}@{pinned[INSPECTOR_PACKAGE]}"]


@pytest.mark.subprocess
def test_inspector_command_runs_against_a_live_server(api_keys, live_server_url, tmp_path):
    """The same invocation with the pinned packages installed in tests/external, against uvicorn."""
    try:
        tooling.require()  # the suite's pinned Node tooling, as for tests/test_external_clients.py
    except RuntimeError as exc:
        pytest.fail(str(exc))
    packages, bin_name, arguments = inspector_command()
    package_dir = tooling.NODE_MODULES / INSPECTOR_PACKAGE
    manifest = json.loads((package_dir / "package.json").read_text())
    assert f"{INSPECTOR_PACKAGE}@{manifest['version']}" in packages
    assert tooling.run_node(["--version"]).stdout.strip() == "v" + packages[0].removeprefix("node@")
    arguments = [
        argument.replace("http://127.0.0.1:8000", live_server_url).replace("<key>", api_keys["support_agent"])
        for argument in arguments
    ]
    home = tmp_path / "home"  # the Inspector keeps state under ~/.mcp-inspector
    home.mkdir()
    completed = tooling.run_node([package_dir / manifest["bin"][bin_name], *arguments], env=tooling.node_env(HOME=home))
    assert completed.returncode == 0, completed.stderr
    listed = json.loads(completed.stdout)
    assert {tool["name"] for tool in listed["tools"]} == {
        "search_customers",
        "get_customer",
        "search_orders",
        "get_order",
        "search_support_tickets",
        "get_support_ticket",
        "update_ticket_status",
        "issue_refund",
    }
