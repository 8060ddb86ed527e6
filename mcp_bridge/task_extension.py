"""The MCP tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) over report jobs.

A 2026-07-28 client that declares the extension in a request's `_meta` gets, from a report's
tools/call, a CreateTaskResult instead of a job handle; it then polls with `tasks/get`, answers a
report's questions with `tasks/update` and stops it with `tasks/cancel`. A task is a job
(jobs.py) seen through the extension's wire shapes, so both kinds of client share one runtime.

The SDK has no tasks runtime; this is built on its public extension points: `Server.extensions`
(advertised in server/discover), `Server.add_request_handler` and a server middleware. Rules that
shape it:
- the capability is checked per request, before any lookup (-32021 with requiredCapabilities);
- handshake-era requests know no tasks/* methods (-32601);
- a task belongs to the user who created it: anyone else gets exactly "not found" (-32602);
- on HTTP, `Mcp-Name` must equal `params.taskId` (-32020, as the SDK does for tools/call).
"""

from typing import Any

from mcp import types
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_NAME_HEADER, decode_header_value
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from . import jobs
from .conf import mcp_settings
from .context import declares_extension
from .models import JobStatus
from .reports import TASKS_EXTENSION, tool_result_of

TASK_METHODS = frozenset({"tasks/get", "tasks/update", "tasks/cancel"})
#: The extension's statuses, by job status: queued and running are both `working`.
TASK_STATUS = {
    JobStatus.QUEUED: "working",
    JobStatus.RUNNING: "working",
    JobStatus.INPUT_REQUIRED: "input_required",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


class TaskParams(types.RequestParams):
    task_id: str


class UpdateTaskParams(TaskParams):
    # Lenient on purpose: answers under keys not outstanding are ignored, whatever they hold (SEP-2663).
    input_responses: dict[str, Any] = Field(default_factory=dict)


def iso(moment):
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_of(job):
    """The Task fields of *job* (flat, as CreateTaskResult and tasks/get carry them)."""
    status = TASK_STATUS[job.status]
    if status == "failed" and "code" not in (job.error or {}):
        status = "completed"  # a failure the agent can act on is a tool result with isError, not a protocol error
    ttl_ms = max(1, int((job.expires_at - job.created_at).total_seconds() * 1000))
    task = {
        "taskId": job.pk,
        "status": status,
        "createdAt": iso(job.created_at),
        "lastUpdatedAt": iso(job.updated_at),
        "ttlMs": ttl_ms,
        "pollIntervalMs": int(mcp_settings.JOB_POLL_INTERVAL * 1000),
    }
    if job.message:
        task["statusMessage"] = job.message
    return task


def create_task_result(job):
    """The CreateTaskResult a report's tools/call returns to a client of the extension."""
    return {"resultType": "task", **task_of(job)}


def detailed_task(job):
    """The DetailedTask of tasks/get: the task, plus inputRequests, result or error by its status."""
    task = task_of(job)
    if task["status"] == "input_required":
        task["inputRequests"] = job.input_requests
    elif task["status"] == "completed":
        task["result"] = tool_result_of(job, jobs.stored(job, "result"))
    elif task["status"] == "failed":
        task["error"] = {key: value for key, value in job.error.items() if key in ("code", "message", "data")}
    return {"resultType": "complete", **task}


def check_client(ctx):
    """Refuse tasks/* unless this 2026-07-28 request declared the extension (checked before any lookup)."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        raise MCPError(code=types.METHOD_NOT_FOUND, message="Method not found")
    if not declares_extension(ctx, TASKS_EXTENSION):
        raise MCPError(
            code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
            message=f"Missing required client capability: declare the {TASKS_EXTENSION} extension in _meta.",
            data={"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
        )


def task_not_found(task_id):
    return MCPError(code=types.INVALID_PARAMS, message=f"Failed to retrieve task: Task not found ({task_id!r})")


class TasksExtension:
    """tasks/get, tasks/update and tasks/cancel for the report jobs of *handlers*' site."""

    def __init__(self, handlers):
        self.handlers = handlers

    def install(self, server):
        """Advertise the extension and serve its methods on the SDK *server*."""
        server.extensions[TASKS_EXTENSION] = {}
        server.add_request_handler("tasks/get", TaskParams, self.get)
        server.add_request_handler("tasks/update", UpdateTaskParams, self.update)
        server.add_request_handler("tasks/cancel", TaskParams, self.cancel)
        server.middleware.append(self.check_routing_headers)

    async def check_routing_headers(self, ctx, call_next):
        """Server middleware: on HTTP, a tasks/* request's Mcp-Name must name its taskId (-32020, HTTP 400).

        The SDK checks Mcp-Name for the methods of its own table (tools/call, prompts/get,
        resources/read) only; tasks/* are an extension's.
        """
        if ctx.method in TASK_METHODS and ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and ctx.request is not None:
            sent = decode_header_value(ctx.request.headers.get(MCP_NAME_HEADER))
            task_id = (ctx.params or {}).get("taskId")
            if sent is None or sent != task_id:
                raise MCPError(
                    code=types.HEADER_MISMATCH,
                    message=f"The Mcp-Name header ({sent!r}) does not match params.taskId ({task_id!r}).",
                )
        return await call_next(ctx)

    async def owned_job(self, ctx, task_id, work):
        """Return `work(job, request)` for the caller's task *task_id*; -32602 if they have none by that id."""

        def lookup(request, generation):
            job = jobs.find_job(request.user, task_id, fields=jobs.STATUS_FIELDS)
            if job is None or job.owner_id != request.user.pk:  # staff see jobs, but a task is its creator's
                return None
            return work(job, request)

        found = await self.handlers.in_django(ctx, lookup)
        if found is None:
            raise task_not_found(task_id)
        return found

    async def get(self, ctx, params):
        check_client(ctx)
        return await self.owned_job(ctx, params.task_id, lambda job, request: detailed_task(job))

    async def update(self, ctx, params):
        check_client(ctx)

        def record(job, request):
            jobs.answer(job, params.input_responses)
            return {"resultType": "complete"}

        return await self.owned_job(ctx, params.task_id, record)

    async def cancel(self, ctx, params):
        check_client(ctx)

        def stop(job, request):
            jobs.cancel(job, reason="Cancelled by the client.")
            return {"resultType": "complete"}

        return await self.owned_job(ctx, params.task_id, stop)
