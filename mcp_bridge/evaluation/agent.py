"""The `agent` mode: a model behind an OpenAI-compatible chat endpoint tries each task through the MCP client.

For each task and attempt: purge leftovers, run the task's setup, connect over HTTP as the task's role, offer
the model the tools that role sees (plus `read_resource` and `get_prompt`, which chat APIs lack), run the
conversation until the model answers in words, check the outcome, purge. Agent success is a figure, not a
gate: the report fails only when nothing could run (no endpoint answers, no MCP server).
"""

import asyncio
import dataclasses
import json
import re
import statistics
from collections import Counter, defaultdict

import httpx2

from . import client
from .suite import Run

READ_RESOURCE = "read_resource"
GET_PROMPT = "get_prompt"
#: How many failed attempts the figures keep per task, with their reasons.
FAILURE_SAMPLES = 3
#: A model may think for minutes on a CPU; connecting must be quick, or the endpoint is not there.
CHAT_TIMEOUT = httpx2.Timeout(300, connect=10)


class EndpointUnreachable(Exception):
    """Nothing answers at the chat endpoint: every later attempt would fail the same way."""


class BadReply(Exception):
    """The endpoint's answer cannot be used (HTTP error, not JSON, unknown tool, bad arguments)."""


@dataclasses.dataclass
class AgentReport:
    """What `mcp_eval agent` measured: figures for the history file, lines for the terminal."""

    figures: dict
    error: str | None = None
    mode: str = "agent"

    @property
    def failed(self):
        """True only when the run stopped before any attempt could run (agent success is not a gate)."""
        return self.error is not None and self.figures["attempts"] == 0

    def lines(self):
        figures = self.figures
        lines = []
        if self.error:
            lines.append(f"Stopped: {self.error}")
        if not figures["attempts"]:
            return lines
        lines.append(
            f"Agent {figures['model']}: {figures['success_rate']:.0%} of {figures['attempts']} attempts succeeded "
            f"({figures['tasks']} tasks x {figures['runs']} runs), {figures['turns']:.1f} turns on average."
        )
        lines.append("")
        width = max(len(task_id) for task_id in figures["per_task"])
        lines.append(f"{'task':<{width}}  success")
        for task_id, row in figures["per_task"].items():
            lines.append(f"{task_id:<{width}}  {row['successes']}/{row['runs']}")
        if figures["per_tool"]:
            lines.append("")
            width = max(len(name) for name in figures["per_tool"])
            lines.append(f"{'tool':<{width}}  calls  errors  expected  called  succeeded")
            for name, row in figures["per_tool"].items():
                lines.append(
                    f"{name:<{width}}  {row['calls']:>5}  {row['errors']:>6}  {row['expected']:>8}  "
                    f"{row['expected_called']:>6}  {row['expected_succeeded']:>9}"
                )
        if figures["failures"]:
            lines.append("")
            lines.append("Failures (samples):")
            for sample in figures["failures"]:
                lines.append(f"  {sample['task']} (attempt {sample['attempt']}): {'; '.join(sample['reasons'])}")
        return lines


@dataclasses.dataclass(frozen=True)
class Chat:
    """The model under evaluation: the endpoint's base URL, the model's name, the key, the turn limit."""

    endpoint: str
    model: str
    api_key: str | None
    max_turns: int


@dataclasses.dataclass
class Attempt:
    task_id: str
    number: int
    run: Run | None
    failures: list
    turns: int = 0

    @property
    def succeeded(self):
        return not self.failures


def run_agent(suite, url, *, endpoint, model, api_key, runs=1, max_turns=12, progress=print):
    """Let the model at *endpoint* try every task of *suite* *runs* times against the MCP server at *url*.

    *endpoint* is the base of an OpenAI-compatible API ("http://127.0.0.1:1234/v1"); *api_key*, if given,
    is sent as a bearer token. Nothing is called when *endpoint* or *model* is missing.
    """
    if not endpoint or not model:
        raise ValueError(
            "No chat endpoint to evaluate: give the base URL of an OpenAI-compatible API with tool calling "
            "(e.g. http://127.0.0.1:1234/v1) and the model to use."
        )
    if runs < 1 or max_turns < 1:
        raise ValueError(f"runs ({runs}) and max_turns ({max_turns}) must be at least 1.")
    chat = Chat(endpoint, model, api_key, max_turns)
    attempts = []
    error = _mcp_server_down(url)
    if error is None:
        with client.role_keys({task.role for task in suite.tasks}) as keys:
            try:
                for task in suite.tasks:
                    for number in range(1, runs + 1):
                        attempt = _attempt(suite, task, number, url, keys[task.role], chat)
                        attempts.append(attempt)
                        verdict = "ok" if attempt.succeeded else "FAILED: " + "; ".join(attempt.failures)
                        progress(f"{task.id} [{number}/{runs}] {verdict} ({attempt.turns} turns)")
            except EndpointUnreachable as unreachable:
                error = str(unreachable)
                progress(f"Stopped: {error}")
    return AgentReport(_figures(suite, attempts, runs, model), error)


def _mcp_server_down(url):
    """A sentence if nothing answers HTTP at *url*, else None (any answer will do: the MCP calls tell more)."""
    try:
        httpx2.get(url, timeout=10)
    except httpx2.TransportError as error:
        return f"no MCP server at {url} ({error}): start it with `make demo` or pass --url."
    return None


def _attempt(suite, task, number, url, key, chat):
    """One attempt at *task*: setup, conversation, check, purge. Its errors are its failures."""
    attempt = Attempt(task.id, number, None, [])
    try:
        suite.purge()
        attempt.run = Run(task, task.prepare())
        attempt.failures += asyncio.run(_converse(attempt, url, key, chat))
        attempt.failures += task.check(attempt.run)
    except BaseException as error:
        unreachable = _find(error, EndpointUnreachable)
        if unreachable is not None:
            raise unreachable from None
        if not isinstance(error, Exception):
            raise
        reason = _find(error, BadReply) or _innermost(error)
        attempt.failures.append(str(reason) if isinstance(reason, BadReply) else f"{type(reason).__name__}: {reason}")
    finally:
        suite.purge()
    return attempt


def _find(error, kind):
    """*error*, or the first exception of that *kind* inside it (task groups wrap what they raise)."""
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _find(inner, kind)
            if found is not None:
                return found
    return None


def _innermost(error):
    """The first exception at the bottom of nested groups: its words say what went wrong."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


async def _converse(attempt, url, key, chat):
    """Run the conversation; return its failures (only "no final answer"): the rest is raised."""
    run = attempt.run
    headers = {"Authorization": f"Bearer {chat.api_key}"} if chat.api_key else {}
    async with (
        client.connect(url, key) as mcp,
        httpx2.AsyncClient(headers=headers, timeout=CHAT_TIMEOUT) as http,
    ):
        surface = await Surface.listed(mcp)
        functions = surface.functions
        messages = [
            {"role": "system", "content": _system_message(mcp.instructions, run.task.role)},
            {"role": "user", "content": run.task.text(run.facts)},
        ]
        for turn in range(1, chat.max_turns + 1):
            attempt.turns = turn
            message = await _complete(http, chat, messages, functions, turn)
            calls = message.get("tool_calls") or []
            messages.append(_assistant_message(message, calls))
            if not calls:
                run.answer = message.get("content") or ""
                return []
            for call in calls:
                kind, name, arguments = surface.action(call, turn)
                outcome = await client.perform(mcp, kind, name, arguments)
                run.outcomes.append(outcome)
                text = outcome.text or json.dumps(outcome.structured)
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.get("id", ""),
                        "content": f"Error: {text}" if outcome.is_error else text,
                    }
                )
    return [f"no final answer after {chat.max_turns} turns: the model was still calling tools"]


def _system_message(instructions, role):
    act = (
        f"You act for {role}, a user of this server, with their permissions. Use the tools to do what they "
        "ask, then answer in words with the facts you found. If a tool refuses, say so."
    )
    return f"{instructions}\n\n{act}" if instructions else act


def _assistant_message(message, calls):
    """The model's message as the next request must repeat it (content null when it only calls tools)."""
    repeated = {"role": "assistant", "content": message.get("content")}
    if calls:
        repeated["tool_calls"] = calls
    return repeated


async def _complete(http, chat, messages, functions, turn):
    """POST one chat completion; return choices[0].message, or raise BadReply / EndpointUnreachable."""
    address = f"{chat.endpoint.rstrip('/')}/chat/completions"
    body = {"model": chat.model, "messages": messages, "tools": functions, "tool_choice": "auto"}
    try:
        response = await http.post(address, json=body)
    except (httpx2.ConnectError, httpx2.ConnectTimeout) as error:
        raise EndpointUnreachable(
            f"no chat endpoint answers at {address} ({error}): start the model server or fix --endpoint."
        ) from error
    except httpx2.TransportError as error:
        raise BadReply(f"turn {turn}: the chat endpoint failed to answer ({type(error).__name__}: {error})") from error
    if response.status_code >= 400:
        raise BadReply(f"turn {turn}: the chat endpoint answered HTTP {response.status_code}: {response.text[:300]}")
    try:
        message = response.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise BadReply(
            f"turn {turn}: the chat endpoint's answer is not a chat completion with choices[0].message: "
            f"{response.text[:300]}"
        ) from None
    if not isinstance(message, dict) or not isinstance(message.get("tool_calls") or [], list):
        raise BadReply(f"turn {turn}: choices[0].message is malformed: {response.text[:300]}")
    return message


@dataclasses.dataclass
class Surface:
    """What the role sees, as chat-completions functions, and how a function call maps back to an action."""

    tools: dict
    templates: list
    resources: list
    prompts: list

    @classmethod
    async def listed(cls, mcp):
        tools = {tool.name: tool for tool in await client.list_all(mcp.list_tools, "tools")}
        for reserved in (READ_RESOURCE, GET_PROMPT):
            if reserved in tools:
                raise ValueError(f"The server has a tool named {reserved!r}, which the agent's {reserved} would hide.")
        return cls(
            tools,
            await client.list_all(mcp.list_resource_templates, "resource_templates"),
            await client.list_all(mcp.list_resources, "resources"),
            await client.list_all(mcp.list_prompts, "prompts"),
        )

    @property
    def functions(self):
        functions = [
            _function(tool.name, tool.description or tool.title or "", tool.input_schema)
            for tool in self.tools.values()
        ]
        if self.templates or self.resources:
            readable = [f"{t.uri_template}: {t.description or t.name}" for t in self.templates]
            readable += [f"{r.uri}: {r.description or r.name}" for r in self.resources]
            functions.append(
                _function(
                    READ_RESOURCE,
                    "Read a resource of the server by URI. Readable URIs (fill in the {placeholders}):\n"
                    + "\n".join(readable),
                    {
                        "type": "object",
                        "properties": {"uri": {"type": "string", "description": "The resource's URI."}},
                        "required": ["uri"],
                    },
                )
            )
        if self.prompts:
            described = []
            for prompt in self.prompts:
                arguments = ", ".join(
                    f"{argument.name}{'' if argument.required else ' (optional)'}"
                    for argument in prompt.arguments or []
                )
                described.append(f"{prompt.name}({arguments}): {prompt.description or ''}")
            functions.append(
                _function(
                    GET_PROMPT,
                    "Get a prompt of the server: instructions written for a task, filled with its data. "
                    "Prompts:\n" + "\n".join(described),
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "enum": [prompt.name for prompt in self.prompts]},
                            "arguments": {
                                "type": "object",
                                "description": "The prompt's arguments, by name.",
                                "additionalProperties": {"type": "string"},
                            },
                        },
                        "required": ["name"],
                    },
                )
            )
        return functions

    def action(self, call, turn):
        """The (kind, name, arguments) a tool call asks for, or BadReply naming what is wrong with it."""
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadReply(f"turn {turn}: a tool call has no function name: {json.dumps(call)[:300]}")
        name = function["name"]
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError):
            raise BadReply(
                f"turn {turn}: the arguments of {name} are not valid JSON: {function.get('arguments')!r:.300}"
            ) from None
        if not isinstance(arguments, dict):
            raise BadReply(f"turn {turn}: the arguments of {name} are not a JSON object: {arguments!r:.300}")
        if name in self.tools:
            return "tool", name, arguments
        if name == READ_RESOURCE and (self.templates or self.resources):
            if not isinstance(arguments.get("uri"), str):
                raise BadReply(f"turn {turn}: read_resource needs a string uri, got {arguments!r:.300}")
            return "resource", arguments["uri"], {}
        if name == GET_PROMPT and self.prompts:
            prompt_arguments = arguments.get("arguments") or {}
            if not isinstance(arguments.get("name"), str) or not isinstance(prompt_arguments, dict):
                raise BadReply(f"turn {turn}: get_prompt needs a name and an arguments object, got {arguments!r:.300}")
            return "prompt", arguments["name"], prompt_arguments
        raise BadReply(f"turn {turn}: the model called {name!r}, which is not one of its tools")


def _function(name, description, parameters):
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def _template_pattern(template):
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts))


def _tool_key(outcome, templates):
    """How an outcome is named in the figures and in EvalTask.tools: tool, prompt:<name>, resource:<template>."""
    if outcome.kind == "prompt":
        return f"prompt:{outcome.name}"
    if outcome.kind == "resource":
        for template in templates:
            if _template_pattern(template).fullmatch(outcome.name):
                return f"resource:{template}"
        return f"resource:{outcome.name}"
    return outcome.name


def _figures(suite, attempts, runs, model):
    """Success per task and per tool, turns, and samples of the failures."""
    # Resource URIs are grouped by the templates the suite names, so figures match EvalTask.tools.
    templates = sorted(
        {name.removeprefix("resource:") for task in suite.tasks for name in task.tools if name.startswith("resource:")}
    )
    per_task = {task.id: {"runs": 0, "successes": 0} for task in suite.tasks}
    per_tool = defaultdict(Counter)
    tasks = {task.id: task for task in suite.tasks}
    failures = []
    for attempt in attempts:
        row = per_task[attempt.task_id]
        row["runs"] += 1
        row["successes"] += attempt.succeeded
        outcomes = attempt.run.outcomes if attempt.run is not None else []
        called = set()
        for outcome in outcomes:
            key = _tool_key(outcome, templates)
            per_tool[key]["calls"] += 1
            per_tool[key]["errors"] += outcome.is_error
            called.add(key)
        for key in called:
            per_tool[key]["attempts_called"] += 1
            per_tool[key]["tasks_succeeded"] += attempt.succeeded
        for key in tasks[attempt.task_id].tools:
            per_tool[key]["expected"] += 1
            per_tool[key]["expected_called"] += key in called
            per_tool[key]["expected_succeeded"] += attempt.succeeded
        if not attempt.succeeded and sum(f["task"] == attempt.task_id for f in failures) < FAILURE_SAMPLES:
            failures.append({"task": attempt.task_id, "attempt": attempt.number, "reasons": attempt.failures})
    for row in per_task.values():
        row["success_rate"] = row["successes"] / row["runs"] if row["runs"] else 0.0
    fields = (
        "calls",
        "errors",
        "attempts_called",
        "tasks_succeeded",
        "expected",
        "expected_called",
        "expected_succeeded",
    )
    return {
        "model": model,
        "runs": runs,
        "tasks": len(suite.tasks),
        "attempts": len(attempts),
        "success_rate": sum(a.succeeded for a in attempts) / len(attempts) if attempts else 0.0,
        "per_task": per_task,
        "per_tool": {key: {field: per_tool[key][field] for field in fields} for key in sorted(per_tool)},
        "turns": statistics.fmean(a.turns for a in attempts) if attempts else 0.0,
        "failures": failures,
    }
