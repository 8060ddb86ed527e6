"""Reports that exist only for tests of jobs on real Celery workers (tests/test_reports_worker.py).

Installed by tests.report_settings as an app, so the server and the workers started with those
settings both have them. They sleep in steps, fail, overrun their time limits or expire, and write
a trace of what each run did (VAR_DIR/report-traces/<job id>.log), so a test can see what happened
inside the worker process: which process ran a job, how far it got and whether it finished.
"""

import os
import time
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

#: The Celery queue of `crash_report`: only the workers a test starts (and kills) for it consume it.
CRASH_QUEUE = "crash_reports"
#: The THROTTLE_RATES scope the reports below share (tests.report_settings gives it a generous rate).
THROTTLE_SCOPE = "report_fixtures"
#: The customers permission every report below needs (the demo's analysts have it).
PERMISSIONS = ("customers.view_order",)
#: The reports registered below, for granting them in tests.
REPORT_NAMES = (
    "stepped_report",
    "crash_report",
    "failing_report",
    "overrunning_report",
    "stubborn_report",
    "short_lived_report",
)

STEPS_SCHEMA = {
    "type": "object",
    "properties": {
        "steps": {"type": "integer", "minimum": 1, "maximum": 100},
        "step_seconds": {"type": "number", "minimum": 0, "maximum": 5},
    },
    "additionalProperties": False,
}
NO_ARGUMENTS = {"type": "object", "properties": {}, "additionalProperties": False}
FAILURE_MESSAGE = "The ledger for 1999 is archived: ask for 2000 or later."


def traces_dir():
    """The folder of the traces (VAR_DIR/report-traces), shared by the test process and the workers."""
    return Path(settings.VAR_DIR) / "report-traces"


def trace_path(job_id):
    """The file a run of job *job_id* writes its trace to, one line per event."""
    return traces_dir() / f"{job_id}.log"


def worker_node():
    """The node name of the Celery worker running this code ('name@host'), or '-' outside a task."""
    from celery import current_task

    return current_task.request.hostname if current_task else "-"


def trace(job, event):
    """Append *event* to the job's trace, with this process's id and the Celery worker's node name."""
    node = worker_node()
    path = trace_path(job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as file:
        file.write(f"{event} {os.getpid()} {node}\n")


def read_trace(job_id):
    """The events of job *job_id*'s trace as (event, pid, node) tuples; [] if nothing ran yet."""
    try:
        lines = trace_path(job_id).read_text().splitlines()
    except FileNotFoundError:
        return []
    return [tuple(line.rsplit(" ", 2)) for line in lines]


def run_in_steps(job, steps, step_seconds):
    """Sleep *steps* times, reporting progress (and so noticing a cancellation) after each; attach a CSV."""
    trace(job, "start")
    rows = ["step,square"]
    for step in range(1, steps + 1):
        time.sleep(step_seconds)
        job.progress(step, steps, f"Step {step} of {steps}.", force=True)
        trace(job, f"step-{step}")
        rows.append(f"{step},{step * step}")
    job.attach("steps.csv", "\n".join(rows) + "\n", "text/csv")
    trace(job, "done")
    return {"steps": steps, "worker": worker_node(), "pid": os.getpid()}


def stepped_report(request, data, job):
    return run_in_steps(job, data.get("steps", 5), data.get("step_seconds", 0.3))


def crash_report(request, data, job):
    return run_in_steps(job, 6, 0.3)


def failing_report(request, data, job):
    from mcp_bridge import ToolError

    trace(job, "start")
    raise ToolError(FAILURE_MESSAGE)


def overrunning_report(request, data, job):
    trace(job, "start")
    time.sleep(30)  # Celery raises SoftTimeLimitExceeded in here
    trace(job, "done")
    return {}


def stubborn_report(request, data, job):
    from celery.exceptions import SoftTimeLimitExceeded

    trace(job, "start")
    try:
        time.sleep(30)
    except SoftTimeLimitExceeded:
        trace(job, "ignored-soft-limit")
        time.sleep(30)  # the worker kills this process at the hard limit
    trace(job, "done")
    return {}


def short_lived_report(request, data, job):
    trace(job, "done")
    return {"kept_for_seconds": 3}


class ReportFixturesConfig(AppConfig):
    """Registers the reports when apps are ready: mcp_bridge's registry imports models."""

    name = "tests.report_fixtures"
    label = "report_fixtures"
    verbose_name = "Report fixtures (tests only)"

    def ready(self):
        from mcp_bridge import site

        common = {"permissions": PERMISSIONS, "throttle_scope": THROTTLE_SCOPE}
        site.report(
            stepped_report,
            description="Sleeps `steps` times `step_seconds`, reporting progress after each step, and attaches "
            "steps.csv. Returns the worker that ran it. For tests.",
            input_schema=STEPS_SCHEMA,
            soft_time_limit=20,
            time_limit=25,
            **common,
        )
        site.report(
            crash_report,
            description="Sleeps six steps of 0.3 s on its own queue, for tests that kill its worker.",
            input_schema=NO_ARGUMENTS,
            queue=CRASH_QUEUE,
            soft_time_limit=3,
            time_limit=4,
            **common,
        )
        site.report(
            failing_report,
            description="Always fails with a message for the agent. For tests.",
            input_schema=NO_ARGUMENTS,
            **common,
        )
        site.report(
            overrunning_report,
            description="Runs past its 1 s soft time limit. For tests.",
            input_schema=NO_ARGUMENTS,
            soft_time_limit=1,
            time_limit=3,
            **common,
        )
        site.report(
            stubborn_report,
            description="Ignores its 1 s soft time limit and runs into its 2 s hard one, on its own queue. For tests.",
            input_schema=NO_ARGUMENTS,
            queue=CRASH_QUEUE,
            soft_time_limit=1,
            time_limit=2,
            **common,
        )
        site.report(
            short_lived_report,
            description="Returns at once; its job is kept 3 s. For tests.",
            input_schema=NO_ARGUMENTS,
            result_ttl=3,
            **common,
        )
