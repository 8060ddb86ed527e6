"""Report jobs end to end: uvicorn serving MCP over HTTP, real Celery worker processes, real sockets.

The server and the workers run with tests.report_settings: the demo project plus the reports of
tests.report_fixtures, which sleep in steps, fail, overrun their time limits or expire, and trace what
each run did. Two workers serve the whole module; the tests that kill a worker outright start their
own on the crash_report queue. On SQLite the broker is the embedded filesystem one (a worker killed
hard loses its message, and the job sweep queues it again); with CELERY_BROKER_URL set to Redis, the
broker also delivers it again after its visibility timeout.

tests/test_reports_inprocess.py runs the same flows with the worker's code path in the test process.
"""

import datetime
import itertools
import json
import shutil
import subprocess
import sys
import time

import httpx2
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from mcp_bridge.models import ApiKey, Tool
from mcp_bridge.tasks import sweep_jobs
from tasks.models import Job

from . import report_fixtures, servers
from .report_fixtures import read_trace
from .servers import ROOT, free_port, uvicorn_server
from .workers import broker_is_embedded, celery_worker

pytestmark = pytest.mark.subprocess

#: What the server, the workers and `manage.py` run with.
REPORT_SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.report_settings"}
MODERN = "2026-07-28"
#: The fields of a job row the tests look at.
JOB_FIELDS = ("status", "message", "error", "attempts", "celery_id", "progress_done", "finished_at", "updated_at")


# -- an MCP client over plain HTTP ---------------------------------------------------------------------


class McpHttp:
    """Self-contained 2026-07-28 JSON-RPC requests over HTTP as one credential, and GETs of job URLs."""

    def __init__(self, base_url, key):
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        self.http = httpx2.Client(headers=headers, timeout=30)
        self.request_ids = itertools.count(1)
        self.last_status_code = None

    def close(self):
        self.http.close()

    def send(self, method, params=None, name=None):
        """Send one request; return its JSON-RPC answer (a result or an error)."""
        request_id = next(self.request_ids)
        params = dict(params or {})
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        headers = {
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": method,
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        if name is not None:
            headers["Mcp-Name"] = name
        response = self.http.post(
            f"{self.base_url}/mcp",
            json={"jsonrpc": "2.0", "id": request_id, "method": method, "params": params},
            headers=headers,
        )
        # A JSON-RPC error may come with an HTTP error status (400 for a resource not found).
        self.last_status_code = response.status_code
        answers = [message for message in rpc_messages(response) if message.get("id") == request_id]
        assert len(answers) == 1, response.text
        return answers[0]

    def tool_names(self):
        answer = self.send("tools/list")
        return {tool["name"] for tool in answer["result"]["tools"]}

    def call_tool(self, name, arguments=None):
        """The CallToolResult of *name* (a JSON-RPC error fails the test)."""
        answer = self.send("tools/call", {"name": name, "arguments": arguments or {}}, name=name)
        assert "error" not in answer, answer
        return answer["result"]

    def read_resource(self, uri):
        """The JSON-RPC answer to resources/read *uri*: a result, or an error."""
        return self.send("resources/read", {"uri": uri}, name=uri)

    def job_status(self, job_id):
        """The job's status by get_job_status (a failed call fails the test)."""
        result = self.call_tool("get_job_status", {"job_id": job_id})
        assert not result.get("isError"), result
        return result["structuredContent"]

    def job_resource(self, job_id):
        """The job's status by reading jobs://{id}."""
        answer = self.read_resource(f"jobs://{job_id}")
        assert "error" not in answer, answer
        return json.loads(answer["result"]["contents"][0]["text"])

    def get(self, url):
        return self.http.get(url)


def rpc_messages(response):
    """The JSON-RPC messages in a response body, whether plain JSON or an event stream."""
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        return body if isinstance(body, list) else [body]
    return [
        json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:") and line[5:].strip()
    ]


def start_report(client, name, arguments=None):
    """Call the report *name*; return the job handle it answered with."""
    result = client.call_tool(name, arguments)
    assert not result.get("isError"), result
    handle = result["structuredContent"]
    assert handle["status"] == "queued" and handle["job_id"], handle
    return handle


# -- waiting on jobs and workers ----------------------------------------------------------------------


def wait_for(condition, what, timeout=30, workers=()):
    """Poll *condition* until it returns something true; return that.

    Past *timeout* the test fails with *what* (a string, or a function returning one then) and the
    workers' logs.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {worker.name} ---\n{worker.log_text()[-4000:]}" for worker in workers)
            pytest.fail(f"{what() if callable(what) else what}: not within {timeout} s.{logs}")
        time.sleep(0.1)


def job_row(job_id):
    """The job's row as a dict of JOB_FIELDS, or None once it is gone."""
    return Job.objects.filter(pk=job_id).values(*JOB_FIELDS).first()


def wait_for_job(job_id, statuses, workers, timeout=30):
    """Wait until the job's status is one of *statuses*; return its row."""
    return wait_for(
        lambda: (row := job_row(job_id)) is not None and row["status"] in statuses and row,
        lambda: f"job {job_id} to become {' or '.join(statuses)} (it is {job_row(job_id)})",
        timeout,
        workers,
    )


def wait_for_progress(job_id, done, workers, timeout=30):
    """Wait until the running job has reported at least *done* steps; return its row."""
    return wait_for(
        lambda: (
            (row := job_row(job_id)) is not None
            and row["status"] == "running"
            and (row["progress_done"] or 0) >= done
            and row
        ),
        lambda: f"job {job_id} to report {done} step(s) (it is {job_row(job_id)})",
        timeout,
        workers,
    )


def trace_events(job_id):
    return [event for event, _pid, _node in read_trace(job_id)]


def manage(*arguments):
    """Run manage.py with the report settings on the test database; return its output."""
    finished = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env={**servers.test_database_env(), "VAR_DIR": str(settings.VAR_DIR), **REPORT_SETTINGS},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


def same_apart_from(text, job_id, other_text, other_id):
    """Whether two answers say the same once each names its own job id."""
    return text.replace(job_id, "<id>") == other_text.replace(other_id, "<id>")


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url(django_db_setup, django_db_blocker):
    """uvicorn with the report settings, for the whole module."""
    with django_db_blocker.unblock(), uvicorn_server(extra_env=REPORT_SETTINGS) as url:
        yield url


@pytest.fixture(scope="module")
def workers(django_db_setup, django_db_blocker):
    """Two workers (one pool process each) on the default and the reports queue, for the whole module."""
    with (
        django_db_blocker.unblock(),
        celery_worker(name="reports-a", extra_env=REPORT_SETTINGS) as first,
        celery_worker(name="reports-b", extra_env=REPORT_SETTINGS) as second,
    ):
        yield first, second
    shutil.rmtree(report_fixtures.traces_dir(), ignore_errors=True)


@pytest.fixture
def users(demo):
    """The demo's analyst (granted the fixture reports too), a second analyst and the superuser."""
    analysts = Group.objects.get(name="analyst")
    tool_type = ContentType.objects.get_for_model(Tool)
    for name in report_fixtures.REPORT_NAMES:
        permission, _ = Permission.objects.get_or_create(
            content_type=tool_type,
            codename=Tool.permission_codename(name),
            defaults={"name": f"Can call MCP tool {name}"},
        )
        analysts.permissions.add(permission)
    # Staff, and may run every report, but may not view jobs in the admin: not the owner's peer.
    other = get_user_model().objects.create_user("analyst_two", "analyst_two@example.com", is_staff=True)
    other.groups.add(analysts)
    return {"analyst": demo["analyst"], "other_analyst": other, "admin": demo["admin"]}


@pytest.fixture
def clients(users, server_url):
    """An McpHttp client with a fresh API key for each of `users`, and one with no credential ('nobody')."""
    made = {name: McpHttp(server_url, ApiKey.issue(user, f"test key for {name}")[1]) for name, user in users.items()}
    made["nobody"] = McpHttp(server_url, None)
    yield made
    for client in made.values():
        client.close()


# -- 1. a report end to end ---------------------------------------------------------------------------


def test_a_report_answers_at_once_shows_progress_and_its_result_three_ways(clients, workers, server_url):
    analyst = clients["analyst"]
    assert {*report_fixtures.REPORT_NAMES, "get_job_status", "cancel_job"} <= analyst.tool_names()

    started_at = time.monotonic()
    handle = start_report(analyst, "stepped_report", {"steps": 8, "step_seconds": 0.4})
    answered_in = time.monotonic() - started_at
    assert answered_in < 1, f"the report call took {answered_in:.2f} s"
    job_id = handle["job_id"]
    assert handle["status_url"] == f"{server_url}/mcp/jobs/{job_id}"
    assert handle["poll_interval_seconds"] > 0 and "get_job_status" in handle["next"]

    # While it runs, each way of polling shows its progress.
    running = wait_for(
        lambda: (
            (status := analyst.job_status(job_id))["status"] == "running"
            and (status["progress"] or {}).get("done", 0) >= 1
            and status
        ),
        "progress by get_job_status",
        workers=workers,
    )
    by_url = analyst.get(handle["status_url"])
    by_resource = analyst.job_resource(job_id)
    assert by_url.status_code == 200 and by_url.headers["Retry-After"] == str(handle["poll_interval_seconds"])
    for status in (running, by_url.json(), by_resource):
        assert status["status"] == "running", status
        assert 1 <= status["progress"]["done"] < 8 and status["progress"]["total"] == 8, status
        assert status["message"].startswith("Step "), status

    completed = wait_for(
        lambda: (status := analyst.job_status(job_id))["status"] == "completed" and status,
        "completion",
        workers=workers,
    )
    assert completed["result"]["steps"] == 8
    assert completed["result"]["worker"] in {worker.nodename for worker in workers}
    assert analyst.get(handle["status_url"]).json()["status"] == "completed"
    assert analyst.job_resource(job_id)["status"] == "completed"
    result = analyst.get(completed["result_url"])
    assert result.status_code == 200 and result.json() == completed["result"]

    [csv_file] = completed["files"]
    expected_csv = "step,square\n" + "".join(f"{step},{step * step}\n" for step in range(1, 9))
    assert (csv_file["name"], csv_file["mime_type"], csv_file["uri"]) == (
        "steps.csv",
        "text/csv",
        f"jobs://{job_id}/files/steps.csv",
    )
    download = analyst.get(csv_file["url"])
    assert download.status_code == 200 and download.text == expected_csv
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == 'attachment; filename="steps.csv"'
    read = analyst.read_resource(csv_file["uri"])
    assert read["result"]["contents"][0]["text"] == expected_csv
    assert trace_events(job_id).count("done") == 1


def test_the_demo_revenue_report_runs_on_a_worker(clients, workers):
    analyst = clients["analyst"]
    this_month = timezone.now().date().replace(day=1)
    year, month = divmod(this_month.year * 12 + this_month.month - 1 - 23, 12)
    first_month = datetime.date(year, month + 1, 1)  # the longest range a report covers: 24 months
    started_at = time.monotonic()
    handle = start_report(
        analyst, "revenue_report", {"start_month": f"{first_month:%Y-%m}", "end_month": f"{this_month:%Y-%m}"}
    )
    assert time.monotonic() - started_at < 1
    wait_for_job(handle["job_id"], ("completed",), workers)
    status = analyst.job_status(handle["job_id"])
    assert status["result"]["months"][-1] == f"{this_month:%Y-%m}" and "totals" in status["result"]
    [csv_file] = status["files"]
    download = analyst.get(csv_file["url"])
    assert download.text.splitlines()[0] == "month,country,orders,revenue,refunds,net"
    assert len(download.text.splitlines()) == len(status["result"]["rows"]) + 1


# -- 2. ownership -------------------------------------------------------------------------------------


def test_only_the_owner_and_staff_who_may_view_jobs_see_a_job(clients, workers, server_url):
    owner, other, nobody = clients["analyst"], clients["other_analyst"], clients["nobody"]
    handle = start_report(owner, "stepped_report", {"steps": 6, "step_seconds": 0.3})
    job_id = handle["job_id"]
    missing_id = "x" * 43
    status_url = handle["status_url"]

    def tool_refusal(client, tool, some_id):
        result = client.call_tool(tool, {"job_id": some_id})
        assert result.get("isError"), result
        return result["content"][0]["text"]

    def resource_refusal(client, uri):
        answer = client.read_resource(uri)
        assert "error" in answer, answer
        return f"{client.last_status_code} {json.dumps(answer['error'], sort_keys=True)}"

    def refusals(some_id):
        """What the other analyst gets for the job *some_id*, from every way of reaching it."""
        paths = (f"/mcp/jobs/{some_id}", f"/mcp/jobs/{some_id}/result", f"/mcp/jobs/{some_id}/files/steps.csv")
        return [
            tool_refusal(other, "get_job_status", some_id),
            tool_refusal(other, "cancel_job", some_id),
            resource_refusal(other, f"jobs://{some_id}"),
            resource_refusal(other, f"jobs://{some_id}/result"),
            resource_refusal(other, f"jobs://{some_id}/files/steps.csv"),
            *(f"{response.status_code} {response.text}" for response in (other.get(f"{server_url}{p}") for p in paths)),
        ]

    # While it runs, to the other analyst it is a job that does not exist, and their cancel changes nothing.
    for seen, missing in zip(refusals(job_id), refusals(missing_id), strict=True):
        assert same_apart_from(seen, job_id, missing, missing_id), (seen, missing)
    assert other.get(status_url).status_code == 404
    assert job_row(job_id)["status"] in ("queued", "running")

    wait_for_job(job_id, ("completed",), workers)
    for seen, missing in zip(refusals(job_id), refusals(missing_id), strict=True):
        assert same_apart_from(seen, job_id, missing, missing_id), (seen, missing)
    for path in ("", "/result", "/files/steps.csv"):
        assert other.get(f"{status_url}{path}").status_code == 404
        refused = nobody.get(f"{status_url}{path}")
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert owner.get(f"{status_url}{path}").status_code == 200
    wrong_key = McpHttp(server_url, "mcpb_" + "0" * 12 + "_" + "x" * 43)  # well formed, never issued
    assert wrong_key.get(status_url).status_code == 401
    wrong_key.close()

    # Staff who may view jobs in the admin (the superuser) see it.
    assert clients["admin"].get(status_url).json()["status"] == "completed"
    assert clients["admin"].job_status(job_id)["result"]["steps"] == 6


# -- 3. cancellation ----------------------------------------------------------------------------------


def test_cancelling_a_running_job_stops_its_worker_for_good(clients, workers):
    analyst = clients["analyst"]
    handle = start_report(analyst, "stepped_report", {"steps": 12, "step_seconds": 0.3})
    job_id = handle["job_id"]
    started_at = time.monotonic()
    wait_for_progress(job_id, 2, workers)

    cancelled = analyst.call_tool("cancel_job", {"job_id": job_id})
    assert not cancelled.get("isError"), cancelled
    assert cancelled["structuredContent"]["status"] == "cancelled"
    at_cancel = job_row(job_id)
    assert at_cancel["status"] == "cancelled" and at_cancel["message"] == "Cancelled by analyst."

    # Past the time the whole run would have taken (12 x 0.3 s), the worker has stopped and nothing changed.
    time.sleep(max(0.0, 12 * 0.3 + 1.5 - (time.monotonic() - started_at)))
    events = trace_events(job_id)
    assert "done" not in events and events.count("start") == 1
    steps_run = [event for event in events if event.startswith("step-")]
    assert len(steps_run) <= at_cancel["progress_done"] < 12, events
    assert job_row(job_id) == at_cancel
    assert analyst.job_status(job_id)["status"] == "cancelled"

    # Cancelling again is allowed and changes nothing.
    again = analyst.call_tool("cancel_job", {"job_id": job_id})
    assert again["structuredContent"]["status"] == "cancelled" and job_row(job_id) == at_cancel


# -- 4. failure ---------------------------------------------------------------------------------------


def test_a_report_raising_tool_error_ends_failed_with_its_message(clients, workers):
    analyst = clients["analyst"]
    handle = start_report(analyst, "failing_report")
    row = wait_for_job(handle["job_id"], ("failed", "completed"), workers)
    assert row["status"] == "failed" and row["error"] == {"message": report_fixtures.FAILURE_MESSAGE}
    status = analyst.job_status(handle["job_id"])
    assert status["error"] == {"message": report_fixtures.FAILURE_MESSAGE}
    assert "result" not in status and "failed" in status["next"]
    assert analyst.get(handle["status_url"]).json()["error"]["message"] == report_fixtures.FAILURE_MESSAGE
    assert analyst.get(f"{handle['status_url']}/result").status_code == 404


# -- 5. time limits -----------------------------------------------------------------------------------


def test_time_limits_end_jobs_failed(clients, workers):
    analyst = clients["analyst"]
    # The hard limit kills a pool process, after which a prefork worker may stop taking messages
    # (celery/celery#4789): stubborn_report runs on its own queue, on a worker of its own.
    with celery_worker(queues=(report_fixtures.CRASH_QUEUE,), name="limits", extra_env=REPORT_SETTINGS) as limits:
        soft = start_report(analyst, "overrunning_report")["job_id"]
        hard = start_report(analyst, "stubborn_report")["job_id"]

        # The soft limit interrupts the report, which records why it stopped.
        row = wait_for_job(soft, ("failed", "completed"), workers, timeout=20)
        assert row["status"] == "failed"
        assert row["message"].startswith("overrunning_report ran longer than its 1 s limit and was stopped."), row
        assert trace_events(soft) == ["start"]

        # A report that ignores it is killed at the hard limit; the worker's main process records the failure.
        row = wait_for_job(hard, ("failed", "completed"), [limits], timeout=20)
        assert row["status"] == "failed"
        assert row["message"].startswith("The report ran longer than its 2 s limit and was stopped."), row
        assert trace_events(hard) == ["start", "ignored-soft-limit"]
        assert "Hard time limit (2" in limits.log_text()
    assert analyst.job_status(hard)["error"]["message"] == row["message"]


# -- 6. workers lost mid-job --------------------------------------------------------------------------


def test_a_job_whose_pool_process_was_killed_is_run_again(clients, workers):
    handle = start_report(clients["analyst"], "stepped_report", {"steps": 10, "step_seconds": 0.3})
    job_id = handle["job_id"]
    first_run = wait_for_progress(job_id, 1, workers)
    [(_, pid, node)] = [entry for entry in read_trace(job_id) if entry[0] == "start"]
    [worker] = [worker for worker in workers if worker.nodename == node]
    assert worker.kill_child() == int(pid)

    row = wait_for_job(job_id, ("completed", "failed"), workers, timeout=60)
    assert row["status"] == "completed", row
    assert row["attempts"] == 2 and row["celery_id"] == first_run["celery_id"]  # the same message, delivered again
    starts = [entry for entry in read_trace(job_id) if entry[0] == "start"]
    assert len(starts) == 2 and starts[0][1] != starts[1][1]
    assert trace_events(job_id).count("done") == 1


def recovery_paths():
    """The job sweep always; with Redis also the broker's own redelivery (its visibility timeout)."""
    return ["sweep"] if broker_is_embedded() else ["sweep", "visibility_timeout"]


@pytest.mark.parametrize("recovery", recovery_paths())
def test_a_job_whose_worker_was_killed_completes_on_another(clients, workers, recovery):
    """SIGKILL the whole worker mid-job: the sweep (or the broker) gets the job to a new worker."""
    worker_env = {**REPORT_SETTINGS}
    if recovery == "visibility_timeout":
        worker_env["CELERY_VISIBILITY_TIMEOUT"] = "5"
    crash_queue = (report_fixtures.CRASH_QUEUE,)
    with celery_worker(queues=crash_queue, name="doomed", extra_env=worker_env) as doomed:
        handle = start_report(clients["analyst"], "crash_report")
        job_id = handle["job_id"]
        first_run = wait_for_progress(job_id, 1, [doomed])
        doomed.kill()
    lost = job_row(job_id)
    assert lost["status"] == "running" and lost["attempts"] == 1

    if recovery == "sweep":
        # Silent for JOB_LOST_AFTER (1 s) beyond the report's 4 s hard time limit: its worker is lost.
        silent_since = Job.objects.get(pk=job_id).heartbeat_at
        wait_for(lambda: timezone.now() - silent_since > datetime.timedelta(seconds=5.5), "the job to fall silent")
        assert manage("mcp_jobs", "sweep").strip() == "0 expired job(s) deleted, 1 job(s) queued again."
        requeued = job_row(job_id)
        assert requeued["status"] == "queued" and requeued["celery_id"] != first_run["celery_id"]

    with celery_worker(queues=crash_queue, name="successor", extra_env=worker_env) as successor:
        row = wait_for_job(job_id, ("completed", "failed"), [successor], timeout=40)
        successor.kill()  # idle by now: a warm shutdown would only cost seconds
    assert row["status"] == "completed", row
    assert row["attempts"] == 2
    if recovery == "visibility_timeout":
        assert row["celery_id"] == first_run["celery_id"]  # the broker delivered the first message again
    nodes = [node for event, _pid, node in read_trace(job_id) if event == "start"]
    assert nodes == [doomed.nodename, successor.nodename]
    assert trace_events(job_id).count("done") == 1


# -- 7. expiry ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sweep", ["command", "task"])
def test_expired_jobs_are_deleted_by_the_sweep(clients, workers, sweep):
    """`manage.py mcp_jobs sweep` (cron) and the mcp_bridge.sweep_jobs task (beat, on a worker) delete them."""
    analyst = clients["analyst"]
    kept = start_report(analyst, "stepped_report", {"steps": 1, "step_seconds": 0})
    handle = start_report(analyst, "short_lived_report")
    job_id = handle["job_id"]
    wait_for_job(kept["job_id"], ("completed",), workers)
    wait_for_job(job_id, ("completed",), workers)
    assert analyst.get(handle["status_url"]).status_code == 200

    expires_at = Job.objects.get(pk=job_id).expires_at
    wait_for(lambda: timezone.now() > expires_at, "the job to expire")
    assert Job.objects.filter(pk=job_id).exists()  # expired, not yet swept
    if sweep == "command":
        assert manage("mcp_jobs", "sweep").strip() == "1 expired job(s) deleted, 0 job(s) queued again."
    else:
        sweep_jobs.delay()
    wait_for(lambda: job_row(job_id) is None, f"the sweep {sweep} to delete the job", 20, workers)
    assert analyst.get(handle["status_url"]).status_code == 404
    assert analyst.call_tool("get_job_status", {"job_id": job_id}).get("isError")
    assert job_row(kept["job_id"])["status"] == "completed"


# -- 8. broker outage ---------------------------------------------------------------------------------


def test_a_report_call_during_a_broker_outage_is_refused_quickly_and_leaves_nothing(users):
    unreachable_broker = f"redis://127.0.0.1:{free_port()}/0"
    key = ApiKey.issue(users["analyst"], "outage")[1]
    with uvicorn_server(extra_env={**REPORT_SETTINGS, "CELERY_BROKER_URL": unreachable_broker}) as url:
        client = McpHttp(url, key)
        client.tool_names()  # the server has built its registry
        started_at = time.monotonic()
        result = client.call_tool("stepped_report", {"steps": 1})
        answered_in = time.monotonic() - started_at
        client.close()
    assert answered_in < 5, f"the refusal took {answered_in:.2f} s"
    assert result.get("isError"), result
    text = result["content"][0]["text"]
    assert "The job queue is unreachable" in text and "Call it again in 30 s" in text, text
    assert not Job.objects.exists()


# -- 9. rate limit ------------------------------------------------------------------------------------


def test_the_sixth_report_call_in_an_hour_is_refused_with_a_retry_hint(clients, workers):
    analyst = clients["analyst"]
    this_month = f"{timezone.now():%Y-%m}"
    arguments = {"start_month": this_month, "end_month": this_month}
    job_ids = [start_report(analyst, "revenue_report", arguments)["job_id"] for _ in range(5)]
    refused = analyst.call_tool("revenue_report", arguments)
    assert refused.get("isError"), refused
    text = refused["content"][0]["text"]
    assert text.startswith("Rate limit reached for revenue_report: at most 5 calls per hour."), text
    wait_seconds = int(text.rsplit("Try again in ", 1)[1].split(" s")[0])
    assert 0 < wait_seconds <= 3600
    assert set(Job.objects.values_list("id", flat=True)) == set(job_ids)
    # Other callers, and the fixture reports with their own budget, are not held back.
    assert not clients["other_analyst"].call_tool("revenue_report", arguments).get("isError")
    assert not analyst.call_tool("stepped_report", {"steps": 1, "step_seconds": 0}).get("isError")
    for job_id in Job.objects.values_list("id", flat=True):
        wait_for_job(job_id, ("completed",), workers)


# -- 10. two workers share the load --------------------------------------------------------------------


def test_two_workers_share_the_jobs(clients, workers):
    analyst = clients["analyst"]
    job_ids = [start_report(analyst, "stepped_report", {"steps": 1, "step_seconds": 0.4})["job_id"] for _ in range(8)]
    for job_id in job_ids:
        wait_for_job(job_id, ("completed",), workers)
    ran_on = [analyst.job_status(job_id)["result"]["worker"] for job_id in job_ids]
    assert set(ran_on) == {worker.nodename for worker in workers}, ran_on
    assert all(row["attempts"] == 1 for row in Job.objects.values("attempts"))
