"""A local, scripted OpenAI-compatible chat endpoint for testing the `agent` mode's plumbing.

`ScriptedChat(script)` serves POST /v1/chat/completions on a free loopback port (the standard library's HTTP
server, in a thread) and records every request it receives. A script is a function of the request's JSON
body that returns a message (`{"content": ..., "tool_calls": [...]}`, sent in the OpenAI response shape) or
a `Raw` answer (any status and body, for malformed replies).

Scripts: `PlanFollower` (answers each turn with the next step of the task's reference plan, then a final
answer holding the tool outputs), `wrong_tool` and `no_tools` (agents that do the wrong thing), and
`http_error`, `not_json`, `bad_arguments`, `unknown_tool` (malformed replies).
"""

import dataclasses
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mcp_bridge.evaluation.suite import FINISHED, Outcome, Run

#: Job statuses after which a poll step is done (as get_job_status reports them).


@dataclasses.dataclass
class Raw:
    """An answer sent as it is: for HTTP errors and bodies that are not a chat completion."""

    status: int
    body: str


@dataclasses.dataclass
class Received:
    """One request the endpoint received."""

    path: str
    headers: dict
    body: dict


class ScriptedChat:
    """The endpoint, as a context manager: `with ScriptedChat(script) as chat: run_agent(..., endpoint=chat.endpoint)`."""

    def __init__(self, script):
        self.script = script
        self.requests = []
        self.call_ids = itertools.count(1)

    def __enter__(self):
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                chat.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path != "/v1/chat/completions":
                    return self.answer(Raw(404, json.dumps({"error": f"no route {self.path}"})))
                try:
                    reply = chat.script(body)
                except Exception as error:  # a script's own bug shows in the attempt's failure, with its words
                    reply = Raw(500, json.dumps({"error": f"script failed: {type(error).__name__}: {error}"}))
                self.answer(reply if isinstance(reply, Raw) else Raw(200, json.dumps(chat.completion(body, reply))))

            def answer(self, reply):
                data = reply.body.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):
                pass  # the tests read chat.requests, not a log

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def completion(self, body, message):
        """*message* in the OpenAI chat-completion shape, its tool calls numbered."""
        calls = [
            {"id": f"call_{next(self.call_ids)}", "type": "function", "function": call}
            for call in message.get("tool_calls", [])
        ]
        sent = {"role": "assistant", "content": message.get("content")}
        if calls:
            sent["tool_calls"] = calls
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": sent, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }


def tool_call(name, arguments):
    """A function call; *arguments* is a dict (sent as JSON) or a string sent as it is."""
    return {"name": name, "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)}


def request_of(body):
    """The user's request: the first user message."""
    return next(message["content"] for message in body["messages"] if message["role"] == "user")


def outcomes_of(body):
    """The actions taken so far, read back from the conversation: each tool call and its tool message."""
    replies = {message["tool_call_id"]: message["content"] for message in body["messages"] if message["role"] == "tool"}
    outcomes = []
    for message in body["messages"]:
        for call in message.get("tool_calls") or []:
            name, arguments = call["function"]["name"], json.loads(call["function"]["arguments"])
            text = replies.get(call["id"], "")
            is_error = text.startswith("Error: ")
            text = text.removeprefix("Error: ")
            if name == "read_resource":
                kind, name, arguments = "resource", arguments["uri"], {}
            elif name == "get_prompt":
                kind, name, arguments = "prompt", arguments["name"], arguments.get("arguments", {})
            else:
                kind = "tool"
            outcomes.append(Outcome(kind, name, arguments, is_error, text, _json_or_none(text)))
    return outcomes


class PlanFollower:
    """An agent that follows each task's reference plan, one step per turn, then answers with the tool outputs.

    It knows a task by its request, and resolves a step's arguments from the facts of the attempt's setup
    (recorded by `recording_setups`) and the results read back from the conversation, as `plan` mode does.
    """

    def __init__(self, suite, facts, poll_interval=0.5):
        self.suite = suite
        self.facts = facts
        self.poll_interval = poll_interval

    def __call__(self, body):
        request = request_of(body)
        task = next(task for task in self.suite.tasks if task.text(self.facts.get(task.id, {})) == request)
        run = Run(task, dict(self.facts[task.id]))
        step_index = 0
        for outcome in outcomes_of(body):
            run.outcomes.append(outcome)
            step = task.plan[step_index]
            # A poll step stays current while the job it polls has not finished.
            if step.kind == "poll" and (outcome.structured or {}).get("status") not in FINISHED:
                continue
            step_index += 1
        if step_index == len(task.plan):
            run.answer = "\n".join(outcome.text for outcome in run.outcomes)
            return {"content": run.answer}
        step = task.plan[step_index]
        if step.kind == "tool":
            return {"content": None, "tool_calls": [tool_call(step.name, step.resolve_arguments(run))]}
        if step.kind == "resource":
            return {"content": None, "tool_calls": [tool_call("read_resource", {"uri": step.resolve_uri(run)})]}
        if step.kind == "prompt":
            arguments = {"name": step.name, "arguments": step.resolve_arguments(run)}
            return {"content": None, "tool_calls": [tool_call("get_prompt", arguments)]}
        if run.called("get_job_status"):
            time.sleep(self.poll_interval)
        job_id = run.last(step.name).structured["job_id"]
        return {"content": None, "tool_calls": [tool_call("get_job_status", {"job_id": job_id})]}


def recording_setups(suite):
    """A copy of *suite* whose setups also record their facts, and the {task id: facts} they fill."""
    facts = {}

    def recorded(task):
        def setup():
            facts[task.id] = task.prepare()
            return facts[task.id]

        return dataclasses.replace(task, setup=setup)

    return dataclasses.replace(suite, tasks=[recorded(task) for task in suite.tasks]), facts


def wrong_tool(suite):
    """An agent that searches with the first search tool the task does not need, then says it is done."""
    tasks = {task.request: task for task in suite.tasks}

    def script(body):
        task = tasks[request_of(body)]
        if any(message["role"] == "tool" for message in body["messages"]):
            return {"content": "Done."}
        offered = [tool["function"]["name"] for tool in body["tools"]]
        wrong = next(name for name in offered if name.startswith("search_") and name not in task.tools)
        return {"content": None, "tool_calls": [tool_call(wrong, {})]}

    return script


def no_tools(body):
    """An agent that never calls a tool."""
    return {"content": "I am sorry, I cannot help with that."}


def http_error(body):
    return Raw(500, json.dumps({"error": {"message": "the model crashed"}}))


def not_json(body):
    return Raw(200, "<html>Bad gateway</html>")


def bad_arguments(body):
    """A call of a real tool (the first offered) whose arguments are not JSON."""
    return {"content": None, "tool_calls": [tool_call(body["tools"][0]["function"]["name"], "{not json")]}


def unknown_tool(body):
    return {"content": None, "tool_calls": [tool_call("launch_rockets", {"count": 3})]}


def _json_or_none(text):
    try:
        return json.loads(text)
    except ValueError:
        return None
