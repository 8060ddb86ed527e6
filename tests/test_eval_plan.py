"""`mcp_eval plan` end to end: the demo suite's reference plans through the SDK's client over real HTTP
(uvicorn on the test database), reports on a real Celery worker; and a suite whose plans are wrong fails."""

import io

import pytest
from django.core.management import CommandError, call_command

from customers.evaluation import TASKS
from customers.models import Customer
from mcp_bridge.evaluation import history
from mcp_bridge.evaluation.suite import EvalTask, Suite, call

from .servers import uvicorn_server
from .workers import celery_worker

pytestmark = pytest.mark.subprocess


@pytest.fixture(scope="module")
def server_and_worker(django_db_setup, django_db_blocker):
    """Its own server (the demo's report rate limit counts this module's reports only) and a worker."""
    with django_db_blocker.unblock(), uvicorn_server() as url, celery_worker(name="eval-plan"):
        yield url


def test_every_reference_plan_completes_and_every_refusal_holds(demo, server_and_worker, tmp_path):
    out = io.StringIO()
    path = tmp_path / "history.jsonl"
    call_command("mcp_eval", "plan", "--url", server_and_worker, "--history", str(path), stdout=out)

    [entry] = history.read(path)
    assert entry["figures"] == {
        "tasks": len(TASKS),
        "passed": len(TASKS),
        "refusal_tasks": 5,
        "refusals": 5,
        "failures": {},
        "pass_rate": 1.0,
    }
    assert f"Plans: {len(TASKS)} of {len(TASKS)} tasks completed as planned (5 refusals held of 5)." in out.getvalue()
    assert not Customer.objects.filter(email__endswith="@eval.example.com").exists(), "the suite cleans up"


def test_plans_hold_in_the_2025_protocol_too(demo, server_and_worker):
    tasks = ["small_refund", "split_refund_refused", "reopen_closed_ticket", "customer_health_review"]
    options = [arg for task in tasks for arg in ("--task", task)]
    out = io.StringIO()
    call_command(
        "mcp_eval", "plan", "--protocol", "legacy", "--url", server_and_worker, "--no-history", *options, stdout=out
    )
    assert "Plans: 4 of 4 tasks completed as planned (1 refusals held of 1)." in out.getvalue()


def test_a_plan_that_does_not_hold_fails_the_run_and_says_why(demo, server_and_worker, tmp_path):
    out = io.StringIO()
    path = tmp_path / "history.jsonl"
    with pytest.raises(CommandError, match="mcp_eval plan failed"):
        call_command(
            "mcp_eval", "plan", "--suite", "tests.test_eval_plan.WRONG_PLANS", "--url", server_and_worker,
            "--history", str(path), stdout=out,
        )  # fmt: skip
    text = out.getvalue()
    assert "FAILED missing_customer: step 1 (tool get_customer) failed: No customer with id 987654321" in text
    assert "FAILED refusal_that_is_not: step 1 (tool search_customers) should have been refused but succeeded" in text
    assert "FAILED wrong_outcome: the customer was not found" in text
    assert "FAILED broken_setup: RuntimeError: no data today" in text
    assert "ok_task: ok" in text
    [entry] = history.read(path)
    assert entry["figures"]["passed"] == 1 and entry["figures"]["refusals"] == 0


def no_data():
    raise RuntimeError("no data today")


WRONG_PLANS = Suite(
    tasks=[
        EvalTask(
            id="missing_customer",
            request="Show customer 987654321.",
            role="support_agent",
            tools=["get_customer"],
            plan=[call("get_customer", {"id": 987654321})],
            check=lambda run: [],
        ),
        EvalTask(
            id="refusal_that_is_not",
            request="Search customers (this must be refused).",
            role="support_agent",
            tools=["search_customers"],
            plan=[call("search_customers", {"query": "zzz"}, expect_error=True)],
            check=lambda run: [],
            refusal=True,
        ),
        EvalTask(
            id="wrong_outcome",
            request="Find nobody.",
            role="analyst",
            tools=["search_customers"],
            plan=[call("search_customers", {"query": "nobody-at-all"})],
            check=lambda run: [] if '"id"' in run.answer else ["the customer was not found"],
        ),
        EvalTask(
            id="broken_setup",
            request="Anything.",
            role="analyst",
            tools=["search_customers"],
            plan=[call("search_customers")],
            check=lambda run: [],
            setup=no_data,
        ),
        EvalTask(
            id="ok_task",
            request="List customers.",
            role="analyst",
            tools=["search_customers"],
            plan=[call("search_customers", {"page_size": 1})],
            check=lambda run: [],
        ),
    ]
)
