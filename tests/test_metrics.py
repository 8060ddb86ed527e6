"""Prometheus metrics: they move as real calls are made, the endpoint is not public, processes add up.

In-process calls go through the SDK client (tests/conftest.py) and the real call path, which sends
`call_finished`; the endpoint is read through Django's test client and, for multi-process mode, over
HTTP from two uvicorn processes sharing one PROMETHEUS_MULTIPROC_DIR. The OpenTelemetry nesting is
checked in a child process (tests/otel_probe.py): a tracer provider, once installed, stays for the life
of a process, and the rest of the suite runs without one.
"""

import json
import subprocess
import sys
from datetime import timedelta

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core import checks
from django.db import connection
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from customers.models import Customer
from mcp_bridge import metrics
from mcp_bridge.call_records import CallRecord, send_record
from mcp_bridge.metrics import check_metrics_settings
from tasks.models import Job

from . import servers
from .conftest import mcp_client
from .servers import ROOT, uvicorn_server
from .test_http import http_client

TOKEN = "t" * 40
URL = "/mcp/metrics"


def value(metric, **labels):
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def record(kind="tool", name="get_customer", outcome="ok", duration_ms=12.0):
    return CallRecord(
        kind=kind, name=name, outcome=outcome, duration_ms=duration_ms, request_id="r", created=timezone.now()
    )


@pytest.fixture
def metrics_settings(settings):
    def apply(**values):
        settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, **values}

    return apply


# -- metrics move with real calls ---------------------------------------------------------------------------
@pytest.mark.anyio
async def test_calls_errors_and_latency_move_with_real_calls(demo):
    customer = await Customer.objects.afirst()
    ok = value("mcp_calls_total", kind="tool", name="get_customer", outcome="ok")
    errors = value("mcp_errors_total", kind="tool", name="get_customer", outcome="error")
    observed = value("mcp_call_duration_seconds_count", kind="tool", name="get_customer")
    async with mcp_client(demo["support_agent"]) as client:
        for _ in range(3):
            assert not (await client.call_tool("get_customer", {"id": customer.pk})).is_error
        assert (await client.call_tool("get_customer", {"id": 10**9})).is_error  # not found: an isError result
    assert value("mcp_calls_total", kind="tool", name="get_customer", outcome="ok") == ok + 3
    assert value("mcp_errors_total", kind="tool", name="get_customer", outcome="error") == errors + 1
    assert value("mcp_call_duration_seconds_count", kind="tool", name="get_customer") == observed + 4
    # None of them took 30 s: all are in the buckets up to the last one.
    assert value("mcp_call_duration_seconds_bucket", kind="tool", name="get_customer", le="30.0") == observed + 4


@pytest.mark.anyio
async def test_names_callers_send_are_never_labels(demo):
    before = value("mcp_calls_total", kind="tool", name="unknown", outcome="refused")
    async with mcp_client(demo["support_agent"]) as client:
        for index in range(3):
            with pytest.raises(Exception, match="Unknown tool"):
                await client.call_tool(f"made_up_{index}", {})
    assert value("mcp_calls_total", kind="tool", name="unknown", outcome="refused") == before + 3
    exposed = REGISTRY.collect()
    assert not any("made_up" in sample.labels.get("name", "") for family in exposed for sample in family.samples)


@pytest.mark.anyio
async def test_resources_are_labelled_by_template_and_prompts_by_name(demo):
    customer = await Customer.objects.afirst()
    template = "customers://customer/{id}"
    reads = value("mcp_calls_total", kind="resource", name=template, outcome="ok")
    prompts = value("mcp_calls_total", kind="prompt", name="customer_health_review", outcome="ok")
    async with mcp_client(demo["support_agent"]) as client:
        await client.read_resource(f"customers://customer/{customer.pk}")
        await client.get_prompt("customer_health_review", {"customer_id": str(customer.pk)})
    assert value("mcp_calls_total", kind="resource", name=template, outcome="ok") == reads + 1
    assert value("mcp_calls_total", kind="prompt", name="customer_health_review", outcome="ok") == prompts + 1
    assert value("mcp_calls_total", kind="resource", name=f"customers://customer/{customer.pk}", outcome="ok") == 0


@pytest.mark.anyio
async def test_rate_limit_refusals_by_tool(demo, metrics_settings, clock):
    metrics_settings(THROTTLE_RATES={"credential": "1200/min", "get_customer": "2/min"})
    customer = await Customer.objects.afirst()
    refused = value("mcp_rate_limited_total", name="get_customer")
    async with mcp_client(demo["support_agent"]) as client:
        results = [await client.call_tool("get_customer", {"id": customer.pk}) for _ in range(4)]
    assert [result.is_error for result in results] == [False, False, True, True]
    assert value("mcp_rate_limited_total", name="get_customer") == refused + 2
    assert value("mcp_errors_total", kind="tool", name="get_customer", outcome="rate_limited") >= 2


def test_job_records_are_job_durations_not_calls(db):
    before = value("mcp_job_duration_seconds_count", name="revenue_report", outcome="failed")
    slow = value("mcp_job_duration_seconds_bucket", name="revenue_report", outcome="failed", le="60.0")
    calls = value("mcp_calls_total", kind="job", name="revenue_report", outcome="failed")
    send_record(record(kind="job", name="revenue_report", outcome="failed", duration_ms=90_000))
    assert value("mcp_job_duration_seconds_count", name="revenue_report", outcome="failed") == before + 1
    assert value("mcp_job_duration_seconds_bucket", name="revenue_report", outcome="failed", le="60.0") == slow
    assert value("mcp_errors_total", kind="job", name="revenue_report", outcome="failed") >= 1
    assert value("mcp_calls_total", kind="job", name="revenue_report", outcome="failed") == calls


def test_the_receiver_never_raises(db, caplog):
    """A record nothing expected (no such kind, a negative duration, a name of 10 KB) still counts, quietly."""
    before = value("mcp_calls_total", kind="teapot", name="unknown", outcome="ok")
    for odd in (record(kind="teapot", name="x" * 10_000), record(duration_ms=-5), record(duration_ms=float("nan"))):
        metrics.count_call(CallRecord, record=odd)
    assert value("mcp_calls_total", kind="teapot", name="unknown", outcome="ok") == before + 1
    broken = record()
    broken.name = ["not", "a", "name"]  # an impossible record (unhashable): logged, not raised
    metrics.count_call(CallRecord, record=broken)
    assert "Counting the metrics of tool ['not', 'a', 'name'] failed." in caplog.text


def test_metrics_off_counts_nothing(db, metrics_settings):
    metrics_settings(METRICS=False)
    before = value("mcp_calls_total", kind="tool", name="get_customer", outcome="ok")
    send_record(record())
    assert value("mcp_calls_total", kind="tool", name="get_customer", outcome="ok") == before


# -- the endpoint -------------------------------------------------------------------------------------------
def test_anonymous_is_refused_with_a_challenge(client, db, metrics_settings):
    metrics_settings(METRICS_TOKEN=TOKEN)
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="mcp-metrics"'
    assert "send Authorization: Bearer <MCP_BRIDGE['METRICS_TOKEN']>" in response.content.decode()
    assert b"mcp_calls_total" not in response.content


def test_a_wrong_or_unconfigured_token_is_refused(client, db, metrics_settings):
    metrics_settings(METRICS_TOKEN=TOKEN)
    for wrong in (TOKEN[:-1], TOKEN + "t", "", "Basic " + TOKEN):
        response = client.get(URL, HTTP_AUTHORIZATION=wrong if wrong.startswith("Basic") else f"Bearer {wrong}")
        assert response.status_code == 401, wrong
    metrics_settings(METRICS_TOKEN=None)
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 401


def test_non_staff_is_forbidden_staff_and_token_may_read(client, db, metrics_settings):
    metrics_settings(METRICS_TOKEN=TOKEN)
    User = get_user_model()
    client.force_login(User.objects.create_user("member", password="x"))
    assert client.get(URL).status_code == 403
    client.force_login(User.objects.create_user("operator", password="x", is_staff=True))
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    client.logout()
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"mcp_calls", "mcp_errors", "mcp_call_duration_seconds", "mcp_rate_limited"} <= names
    assert {"mcp_job_duration_seconds", "mcp_job_queue_depth"} <= names
    openmetrics = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT="application/openmetrics-text")
    assert openmetrics["Content-Type"].startswith("application/openmetrics-text")


def test_metrics_off_is_not_found(admin_client, metrics_settings):
    metrics_settings(METRICS=False)
    assert admin_client.get(URL).status_code == 404


def test_job_queue_depth_is_read_at_scrape_time(admin_client, django_user_model):
    owner = django_user_model.objects.create_user("owner")
    expires = timezone.now() + timedelta(days=1)
    statuses = ["queued"] * 3 + ["running"] * 2 + ["completed"] * 4 + ["failed"]
    Job.objects.bulk_create(Job(owner=owner, tool="revenue_report", status=s, expires_at=expires) for s in statuses)
    samples = scrape(admin_client)
    assert samples["mcp_job_queue_depth"] == {
        (("status", "queued"),): 3,
        (("status", "running"),): 2,
        (("status", "input_required"),): 0,
    }


def test_a_failing_queue_query_leaves_the_gauge_out_not_the_scrape(admin_client, caplog):
    table = Job._meta.db_table
    with connection.cursor() as cursor:  # undone when the test's transaction rolls back
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert "mcp_job_queue_depth" not in response.content.decode()
    assert "mcp_calls_total" in response.content.decode() or "mcp_calls " in response.content.decode()
    assert "The job queue depth was left out of this scrape" in caplog.text


def scrape(client, **headers):
    response = client.get(URL, **headers)
    assert response.status_code == 200
    return samples_of(response.content.decode())


def samples_of(text):
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


# -- checks -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"METRICS": "yes"}, "mcp_bridge.E311"),
        ({"METRICS_TOKEN": ""}, "mcp_bridge.E313"),
        ({"METRICS_TOKEN": 12345}, "mcp_bridge.E313"),
        ({"METRICS_TOKEN": "short"}, "mcp_bridge.W311"),
    ],
)
def test_checks(metrics_settings, values, expected):
    metrics_settings(**values)
    found = check_metrics_settings()
    assert [error.id for error in found] == [expected]
    assert found[0].hint


def test_check_of_the_multiprocess_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    [error] = check_metrics_settings()
    assert error.id == "mcp_bridge.E314" and "missing" in error.msg
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert check_metrics_settings() == []


def test_the_demo_settings_pass(db):
    assert [error.id for error in checks.run_checks() if error.id.startswith("mcp_bridge.E31")] == []


# -- several processes ---------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.subprocess
async def test_two_processes_sharing_a_multiprocess_dir_add_up(api_keys, tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "MCP_METRICS_TOKEN": TOKEN}
    customer = await Customer.objects.afirst()
    with uvicorn_server(env) as first, uvicorn_server(env) as second:
        for base_url, calls in ((first, 3), (second, 2)):
            async with http_client(base_url, api_keys["support_agent"]) as client:
                for _ in range(calls):
                    assert not (await client.call_tool("get_customer", {"id": customer.pk})).is_error
        for base_url in (first, second):
            response = await sync_to_async(httpx2.get)(
                f"{base_url}{URL}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            )
            assert response.status_code == 200
            samples = samples_of(response.text)
            ok = samples["mcp_calls_total"][(("kind", "tool"), ("name", "get_customer"), ("outcome", "ok"))]
            assert ok == 5  # 3 on one process, 2 on the other
            assert ("status", "queued") in {label for labels in samples["mcp_job_queue_depth"] for label in labels}
        anonymous = await sync_to_async(httpx2.get)(f"{first}{URL}", timeout=10)
        assert anonymous.status_code == 401
    assert len(list(tmp_path.glob("*.db"))) >= 2  # each process wrote its own file


# -- OpenTelemetry -------------------------------------------------------------------------------------------
@pytest.mark.subprocess
def test_the_unit_of_work_span_nests_in_the_sdk_request_span(demo):
    customer = Customer.objects.first()
    result = subprocess.run(
        [sys.executable, "-m", "tests.otel_probe", "support_agent", str(customer.pk)],
        cwd=ROOT,
        env=servers.test_database_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    spans = json.loads(result.stdout.strip().splitlines()[-1])
    by_id = {span["id"]: span for span in spans}
    [request_span] = [span for span in spans if span["name"] == "tools/call get_customer"]
    assert request_span["attributes"]["gen_ai.tool.name"] == "get_customer"
    [unit] = [span for span in spans if span["parent"] == request_span["id"]]
    assert unit["name"] == "mcp_bridge.unit_of_work"
    assert unit["trace"] == request_span["trace"]
    assert unit["attributes"] == {"gen_ai.tool.name": "get_customer"}
    # Every unit of work (tools/list's too) is the child of the SDK's span of its request.
    units = [span for span in spans if span["name"] == "mcp_bridge.unit_of_work"]
    assert {by_id[span["parent"]]["name"].split()[0] for span in units} <= {"tools/call", "tools/list", "initialize"}


@pytest.mark.anyio
@pytest.mark.subprocess
async def test_gunicorn_workers_add_up_and_start_from_an_empty_directory(api_keys, tmp_path):
    """config/gunicorn.conf.py as deployed: two workers, one directory, stale values of a past run removed."""
    stale = tmp_path / "counter_999999.db"
    stale.write_bytes(b"left by an earlier run")
    port = servers.free_port()
    env = {
        **servers.test_database_env(),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "MCP_METRICS_TOKEN": TOKEN,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "WEB_CONCURRENCY": "2",
        "BIND": f"127.0.0.1:{port}",
    }
    customer = await Customer.objects.afirst()
    with open(tmp_path.parent / f"gunicorn-{port}.log", "w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = await sync_to_async(servers.wait_until_serving)(process, port, log, 60)
            assert not stale.exists()
            for _ in range(6):  # a connection each: gunicorn hands them to either worker
                async with http_client(base_url, api_keys["support_agent"]) as client:
                    assert not (await client.call_tool("get_customer", {"id": customer.pk})).is_error
            response = await sync_to_async(httpx2.get)(
                f"{base_url}{URL}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            )
            assert response.status_code == 200
            samples = samples_of(response.text)
            assert samples["mcp_calls_total"][(("kind", "tool"), ("name", "get_customer"), ("outcome", "ok"))] == 6
        finally:
            process.terminate()
            process.wait(timeout=20)
