"""The MCP tasks extension (SEP-2663) end to end: the official SDK client, uvicorn and a Celery worker.

The SDK (mcp 2.3.0) has no tasks runtime, so `TasksClient` below is a small one, built on its public
client-extension API only: `Client(extensions=[...])` declares the extension in every request's
`_meta` client capabilities, a report's CreateTaskResult is a claimed result shape (`ResultClaim`),
and tasks/get, tasks/update and tasks/cancel go through `ClientSession.send_request` with request
types whose `name_param` makes the SDK send the `Mcp-Name` header. What the SDK cannot send, a
`Mcp-Name` that does not match the task id, is sent by `post_tasks_request_with_mcp_name` as raw
HTTP in the extension's exact wire shape.

The demo's reports run as the analyst, on the session's uvicorn (`live_server_url`) and, where a
test needs the work done, a worker started for it. They finish in milliseconds on the demo's data,
so cancelling one mid-run is shown with the conformance fixtures' slow_compute, which runs as long
as it is told to.
"""

import contextlib
import datetime
import json
import re
from typing import Any, Literal

import anyio
import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from mcp import Client, types
from mcp.client import ClientExtension, ResultClaim, advertise
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ConfigDict

from customers.models import Order
from tasks.models import Job

from .servers import uvicorn_server
from .workers import celery_worker

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

TASKS = "io.modelcontextprotocol/tasks"
MODERN = "2026-07-28"
TERMINAL = ("completed", "failed", "cancelled")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
#: What a CreateTaskResult may carry (SEP-2663): the Task fields, flat, and nothing of a result.
TASK_FIELDS = {"taskId", "status", "statusMessage", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs"}
REQUIRED_TASK_FIELDS = {"resultType", "taskId", "status", "createdAt", "lastUpdatedAt", "ttlMs"}
MISSING_CAPABILITY_DATA = {"requiredCapabilities": {"extensions": {TASKS: {}}}}
REVENUE_CSV_HEADER = "month,country,orders,revenue,refunds,net"


# -- the client side of the extension, on the SDK's public API ---------------------------------------
class TaskParams(types.RequestParams):
    task_id: str


class UpdateTaskParams(TaskParams):
    input_responses: dict[str, Any]


class GetTaskRequest(types.Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"  # the SDK mirrors params.taskId into Mcp-Name


class UpdateTaskRequest(types.Request[UpdateTaskParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    name_param = "taskId"


class CancelTaskRequest(types.Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class WireResult(types.Result):
    """A result that keeps every field the server sent, so a test can check its shape key by key."""

    model_config = ConfigDict(extra="allow")

    def wire(self):
        """The result as it was on the wire (camelCase keys, only what the server sent)."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


class CreateTaskResult(WireResult):
    result_type: Literal["task"]
    task_id: str
    status: str
    poll_interval_ms: int | None = None


class DetailedTask(WireResult):
    """What tasks/get answers."""

    result_type: Literal["complete"]
    task_id: str
    status: str
    poll_interval_ms: int | None = None


class Ack(WireResult):
    """What tasks/update and tasks/cancel answer: nothing but the result type."""

    result_type: Literal["complete"]


async def get_task(session, task_id):
    return await session.send_request(GetTaskRequest(params=TaskParams(task_id=task_id)), DetailedTask)


async def update_task(session, task_id, input_responses):
    request = UpdateTaskRequest(params=UpdateTaskParams(task_id=task_id, input_responses=input_responses))
    return await session.send_request(request, Ack)


async def cancel_task(session, task_id):
    return await session.send_request(CancelTaskRequest(params=TaskParams(task_id=task_id)), Ack)


async def poll_until_terminal(session, task_id, timeout=60):
    """Poll tasks/get as often as the task's pollIntervalMs says until it is terminal; return that DetailedTask."""
    with anyio.fail_after(timeout):
        while True:
            task = await get_task(session, task_id)
            if task.status in TERMINAL:
                return task
            await anyio.sleep((task.poll_interval_ms or 1000) / 1000)


class TasksClient(ClientExtension):
    """Declares the tasks extension; `Client.call_tool` then waits for a task and returns its CallToolResult."""

    identifier = TASKS

    def claims(self):
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=self.wait_for_result)]

    async def wait_for_result(self, created, context):
        task = await poll_until_terminal(context.session, created.task_id)
        if task.status == "completed":
            return types.CallToolResult.model_validate(task.wire()["result"])
        error = task.wire().get("error") or {"code": types.INTERNAL_ERROR, "message": f"The task was {task.status}."}
        raise MCPError(error["code"], error["message"], error.get("data"))


@contextlib.asynccontextmanager
async def sdk_client(base_url, key, *, extensions=None, mode="auto"):
    """The SDK's Streamable HTTP client, authenticated with API key *key*."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, mode=mode, extensions=extensions) as client:
            yield client


async def post_tasks_request_with_mcp_name(base_url, key, method, params, mcp_name):
    """POST one 2026-07-28 tasks/* request with the given Mcp-Name header (which the SDK derives itself)."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": method,
        "params": {
            **params,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}},
            },
        },
    }
    headers = {
        "Authorization": f"Bearer {key}",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
        "Mcp-Name": mcp_name,
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    async with httpx2.AsyncClient() as http:
        return await http.post(f"{base_url}/mcp", json=body, headers=headers)


# -- helpers -----------------------------------------------------------------------------------------
def recent_months():
    """Revenue report arguments covering the demo's orders (all placed in the last few days)."""
    today = timezone.now().date()
    last_month = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    return {"start_month": f"{last_month:%Y-%m}", "end_month": f"{today:%Y-%m}"}


async def start_task(client, tool, arguments):
    created = await client.session.call_tool(tool, arguments, allow_claimed=True)
    assert isinstance(created, CreateTaskResult), created
    return created


def job_row(job_id):
    return sync_to_async(lambda: Job.objects.get(pk=job_id))()


def without_task_id(error, task_id):
    """An error's code and message with the task id taken out, to compare answers about two ids."""
    return error.code, error.message.replace(task_id, "<task id>")


# -- tests -------------------------------------------------------------------------------------------
async def test_a_report_called_as_a_task_completes_with_its_csv_linked(live_server_url, api_keys):
    visible_orders = await sync_to_async(Order.objects.filter(customer__is_internal=False).count)()
    with celery_worker():
        async with sdk_client(live_server_url, api_keys["analyst"], extensions=[TasksClient()]) as client:
            created = await start_task(client, "revenue_report", recent_months())
            shape = created.wire()
            assert REQUIRED_TASK_FIELDS <= set(shape) <= {"resultType", "_meta", *TASK_FIELDS}, shape
            assert shape["resultType"] == "task" and shape["status"] == "working"
            assert ISO_TIME.match(shape["createdAt"]) and ISO_TIME.match(shape["lastUpdatedAt"])
            assert shape["ttlMs"] == 86_400_000 and shape["pollIntervalMs"] == 2000  # the demo's settings
            assert len(shape["taskId"]) >= 43  # an unguessable secret, not a Celery or row id

            polled = await get_task(client.session, created.task_id)
            assert polled.task_id == created.task_id and polled.status in ("working", "completed")

            done = (await poll_until_terminal(client.session, created.task_id)).wire()
            assert done["status"] == "completed" and done["resultType"] == "complete", done
            assert not {"error", "inputRequests", "requestState", "ttl", "pollInterval"} & set(done)
            result = done["result"]
            assert result["isError"] is False
            assert result["structuredContent"]["totals"]["orders"] == visible_orders
            assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
            csv_link = {
                "type": "resource_link",
                "uri": f"jobs://{created.task_id}/files/revenue.csv",
                "name": "revenue.csv",
                "mimeType": "text/csv",
            }
            assert csv_link in result["content"]
            csv_text = (await client.read_resource(csv_link["uri"])).contents[0].text
            assert csv_text.splitlines()[0] == REVENUE_CSV_HEADER and len(csv_text.splitlines()) > 1

            # The same call through the SDK's call_tool: the claimed task shape is resolved by polling.
            resolved = await client.call_tool("revenue_report", recent_months())
            assert not resolved.is_error and resolved.structured_content["totals"]["orders"] == visible_orders
            assert any(block.type == "resource_link" and block.name == "revenue.csv" for block in resolved.content)


async def test_a_task_is_its_creators_alone(live_server_url, api_keys):
    """Another user's credential, staff or not, gets exactly what an unknown task id gets: -32602."""
    async with sdk_client(live_server_url, api_keys["analyst"], extensions=[TasksClient()]) as owner:
        created = await start_task(owner, "churn_risk_report", {"top": 5})
        task_id = created.task_id
        unknown_id = "x" * len(task_id)
        for user in ("admin", "support_agent"):
            async with sdk_client(live_server_url, api_keys[user], extensions=[TasksClient()]) as other:
                with pytest.raises(MCPError) as unknown:
                    await get_task(other.session, unknown_id)
                assert unknown.value.code == types.INVALID_PARAMS
                for call in (
                    lambda: get_task(other.session, task_id),
                    lambda: update_task(other.session, task_id, {"confirm": {"action": "accept"}}),
                    lambda: cancel_task(other.session, task_id),
                ):
                    with pytest.raises(MCPError) as refused:
                        await call()
                    assert without_task_id(refused.value, task_id) == without_task_id(unknown.value, unknown_id)
        still = await get_task(owner.session, task_id)
        assert still.status == "working"  # no worker runs in this test; and the cancel above did nothing
    assert (await job_row(task_id)).status == "queued"


async def test_tasks_methods_need_the_extension_declared_on_the_request(live_server_url, api_keys):
    key = api_keys["analyst"]
    async with sdk_client(live_server_url, key, extensions=[TasksClient()]) as declaring:
        task_id = (await start_task(declaring, "churn_risk_report", {"top": 5})).task_id
        async with sdk_client(live_server_url, key) as undeclared:
            for call in (
                lambda: get_task(undeclared.session, task_id),
                lambda: update_task(undeclared.session, task_id, {}),
                lambda: cancel_task(undeclared.session, task_id),
            ):
                with pytest.raises(MCPError) as refused:
                    await call()
                assert refused.value.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
                assert refused.value.data == MISSING_CAPABILITY_DATA
            # Without the extension the same report answers with a job to poll, never a task.
            handle = await undeclared.call_tool("churn_risk_report", {"top": 5})
            assert not handle.is_error and handle.structured_content["status"] == "queued"
            assert "taskId" not in handle.structured_content
        assert (await get_task(declaring.session, task_id)).status == "working"


async def test_a_handshake_era_client_gets_a_job_not_a_task(live_server_url, api_keys):
    """Declaring the extension in `initialize` enables nothing: it is defined for 2026-07-28 requests only."""
    async with sdk_client(live_server_url, api_keys["analyst"], extensions=[advertise(TASKS)], mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        answer = await client.call_tool("revenue_report", recent_months())
        assert not answer.is_error, answer.content
        handle = answer.structured_content
        assert handle["status"] == "queued" and "get_job_status" in handle["next"]
        assert handle["status_url"] == f"{live_server_url}/mcp/jobs/{handle['job_id']}"
        assert not {"taskId", "resultType"} & set(handle)
        with pytest.raises(MCPError) as unknown_method:  # tasks/* do not exist in that era
            await get_task(client.session, handle["job_id"])
        assert unknown_method.value.code == types.METHOD_NOT_FOUND
    assert (await job_row(handle["job_id"])).is_task is False


async def test_mcp_name_must_match_the_task_id(live_server_url, api_keys):
    key = api_keys["analyst"]
    async with sdk_client(live_server_url, key, extensions=[TasksClient()]) as client:
        task_id = (await start_task(client, "churn_risk_report", {"top": 5})).task_id

    for method, params in (("tasks/get", {"taskId": task_id}), ("tasks/cancel", {"taskId": task_id})):
        for mcp_name in ("another-task", ""):
            response = await post_tasks_request_with_mcp_name(live_server_url, key, method, params, mcp_name)
            assert response.status_code == 400, (method, mcp_name, response.text)
            assert response.json()["error"]["code"] == types.HEADER_MISMATCH
    matching = await post_tasks_request_with_mcp_name(live_server_url, key, "tasks/get", {"taskId": task_id}, task_id)
    assert matching.status_code == 200, matching.text
    assert matching.json()["result"]["taskId"] == task_id
    assert matching.json()["result"]["status"] == "working"  # the mismatched cancel was refused


async def test_a_cancelled_task_stays_cancelled_once_a_worker_has_had_it(live_server_url, api_keys):
    """Cancelled while working (its run queued): a worker that later receives the run neither runs it nor revives it."""
    async with sdk_client(live_server_url, api_keys["analyst"], extensions=[TasksClient()]) as client:
        task_id = (await start_task(client, "churn_risk_report", {"top": 5})).task_id
        assert (await get_task(client.session, task_id)).status == "working"

        ack = await cancel_task(client.session, task_id)
        assert set(ack.wire()) <= {"resultType", "_meta"} and ack.result_type == "complete"
        cancelled = (await get_task(client.session, task_id)).wire()
        assert cancelled["status"] == "cancelled" and not {"result", "error", "inputRequests"} & set(cancelled)

        celery_id = (await job_row(task_id)).celery_id
        with celery_worker() as worker:
            # It discards the run (it heard of the revoke) or runs it and finds the job cancelled;
            # either way the run has ended once the worker has stopped.
            worker.wait_for_log(f"mcp_bridge.run_job[{celery_id}] received")
        assert (await get_task(client.session, task_id)).wire() == cancelled
        assert (await cancel_task(client.session, task_id)).result_type == "complete"  # terminal: the same ack
    job = await job_row(task_id)
    assert (job.status, job.started_at, job.result) == ("cancelled", None, None)


async def test_cancelling_a_running_task_frees_its_worker_and_it_stays_cancelled(api_keys):
    fixtures = {"DJANGO_SETTINGS_MODULE": "tests.conformance_settings"}
    with (
        celery_worker(name="fixtures", extra_env=fixtures) as worker,  # one process: it must be freed
        uvicorn_server(extra_env=fixtures) as base_url,
    ):
        async with sdk_client(base_url, api_keys["admin"], extensions=[TasksClient()]) as client:
            task_id = (await start_task(client, "slow_compute", {"seconds": 60, "label": "cancelled"})).task_id
            with anyio.fail_after(30):
                while (await job_row(task_id)).status != "running":
                    await anyio.sleep(0.05)
            assert (await get_task(client.session, task_id)).status == "working"

            assert (await cancel_task(client.session, task_id)).result_type == "complete"
            cancelled = (await get_task(client.session, task_id)).wire()
            assert cancelled["status"] == "cancelled"

            # The worker's only process is free again long before the 60 s are up.
            follow_up = await start_task(client, "slow_compute", {"seconds": 0, "label": "next"})
            assert (await poll_until_terminal(client.session, follow_up.task_id, timeout=15)).status == "completed"
        stopped_run = (await job_row(task_id)).celery_id
    assert f"run_job[{stopped_run}]" in worker.log_text()
    job = await job_row(task_id)
    assert (job.status, job.result) == ("cancelled", None) and job.started_at is not None
