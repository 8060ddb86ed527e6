"""Reports through the SDK's in-process client, with the job run by the worker's own code path.

The worker's side (jobs.execute_job, what the Celery task calls) runs here in the test process, so
these tests need no broker consumer: tests/test_reports_worker.py runs the same flows on real workers.
"""

import json

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from mcp_bridge import jobs
from tasks.models import Job

from .conftest import mcp_client

pytestmark = pytest.mark.anyio


def run_queued_jobs():
    """Run every queued job as a worker would (the Celery task's body), in this process."""
    for job_id, celery_id in Job.objects.filter(status="queued").values_list("id", "celery_id"):
        jobs.execute_job(job_id, celery_id)


async def test_report_answers_at_once_with_a_job_then_polls_to_the_result(demo, mode):
    async with mcp_client(demo["analyst"], mode) as client:
        started = await client.call_tool("revenue_report", {"start_month": "2020-01", "end_month": "2021-12"})
        assert not started.is_error, started.content
        handle = started.structured_content
        assert handle["status"] == "queued" and handle["job_id"] and "get_job_status" in handle["next"]
        status = await client.call_tool("get_job_status", {"job_id": handle["job_id"]})
        assert status.structured_content["status"] == "queued"
        await sync_to_async(run_queued_jobs)()
        status = await client.call_tool("get_job_status", {"job_id": handle["job_id"]})
        body = status.structured_content
        assert body["status"] == "completed", body
        assert body["result"] is not None and body["files"][0]["name"].endswith(".csv")
        read = await client.read_resource(body["files"][0]["uri"])
        assert read.contents[0].text.splitlines()[0].count(",") >= 3
        result = await client.read_resource(f"jobs://{handle['job_id']}/result")
        assert json.loads(result.contents[0].text) == body["result"]


async def test_another_user_cannot_see_or_cancel_a_job(demo, mode):
    async with mcp_client(demo["analyst"], mode) as client:
        started = await client.call_tool("churn_risk_report", {"top": 5})
        job_id = started.structured_content["job_id"]
    async with mcp_client(demo["support_agent"], mode) as other:
        names = {tool.name for tool in (await other.list_tools()).tools}
        assert "get_job_status" not in names  # support agents run no reports
    await sync_to_async(Job.objects.filter(pk=job_id).update)(owner=demo["support_agent"])
    async with mcp_client(demo["analyst"], mode) as client:
        status = await client.call_tool("get_job_status", {"job_id": job_id})
        assert status.is_error and "No job" in status.content[0].text
        cancel = await client.call_tool("cancel_job", {"job_id": job_id})
        assert cancel.is_error
    assert await sync_to_async(lambda: Job.objects.get(pk=job_id).status)() == "queued"


async def test_a_2025_client_that_asks_for_progress_gets_it_and_the_result_while_it_waits(demo):
    """The call stays open (JOB_PROGRESS_WAIT): the job's progress arrives as notifications, then its result."""
    import threading

    def worker():
        # A worker picking the job up a moment later, in this process (the Celery task's body).
        try:
            for _ in range(50):
                if Job.objects.filter(status="queued").exists():
                    run_queued_jobs()
                    return
                threading.Event().wait(0.1)
        finally:
            connection.close()  # this thread's own connection, before the test database goes

    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, total, message))

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        async with mcp_client(demo["analyst"], "legacy") as client:
            answer = await client.call_tool("churn_risk_report", {"top": 3}, progress_callback=on_progress)
    finally:
        await sync_to_async(thread.join)()
    body = answer.structured_content
    assert body["status"] == "completed", body
    assert len(body["result"]["top"]) == 3
    assert seen and seen[-1][0] == seen[-1][1]  # all of it done
