"""The `plan` mode: every task's reference plan, run through the SDK's client over HTTP as the task's role.

It proves each task can be done with today's surface (every step that should succeed does, the checker
passes) and that every refusal holds (every step marked `expect_error` is refused, and nothing changed).
Before and after each task the suite's `purge` removes what its tasks create.
"""

import asyncio
import dataclasses
import time

from . import client
from .suite import FINISHED, Run

#: How often a poll step asks for its job's status, and how long it waits for the job at most.
POLL_INTERVAL = 0.5
POLL_TIMEOUT = 120


@dataclasses.dataclass
class PlanReport:
    """What `mcp_eval plan` found: figures for the history file, lines for the terminal."""

    figures: dict
    mode: str = "plan"

    @property
    def failed(self):
        return bool(self.figures["failures"])

    def lines(self):
        figures = self.figures
        lines = [
            f"Plans: {figures['passed']} of {figures['tasks']} tasks completed as planned "
            f"({figures['refusals']} refusals held of {figures['refusal_tasks']})."
        ]
        for task_id, reasons in figures["failures"].items():
            lines.append(f"  FAILED {task_id}: {'; '.join(reasons)}")
        return lines


def run_plans(suite, url, *, mode="auto", poll_interval=POLL_INTERVAL, poll_timeout=POLL_TIMEOUT, progress=print):
    """Run every task's plan against the MCP server at *url* ('auto': the 2026-07-28 protocol)."""
    failures = {}
    with client.role_keys({task.role for task in suite.tasks}) as keys:
        for task in suite.tasks:
            reasons = _run_task(suite, task, url, keys[task.role], mode, poll_interval, poll_timeout)
            if reasons:
                failures[task.id] = reasons
            progress(f"{task.id}: {'ok' if not reasons else 'FAILED: ' + '; '.join(reasons)}")
    refusal_tasks = [task.id for task in suite.tasks if task.refusal]
    return PlanReport(
        {
            "tasks": len(suite.tasks),
            "passed": len(suite.tasks) - len(failures),
            "refusal_tasks": len(refusal_tasks),
            "refusals": sum(task_id not in failures for task_id in refusal_tasks),
            "failures": failures,
        }
    )


def _run_task(suite, task, url, key, mode, poll_interval, poll_timeout):
    """Purge, set up, follow the plan, check, purge; return the reasons it failed (none when it passed)."""
    try:
        suite.purge()
        run = Run(task, task.prepare())
        reasons = asyncio.run(_follow(run, url, key, mode, poll_interval, poll_timeout))
        run.answer = "\n".join(outcome.text for outcome in run.outcomes)
        return reasons + list(task.check(run))
    except Exception as error:  # a broken setup or checker fails its task, not the run
        return [f"{type(error).__name__}: {error}"]
    finally:
        suite.purge()


async def _follow(run, url, key, mode, poll_interval, poll_timeout):
    """Perform each step in turn; a step whose outcome is not what the plan expects is a reason."""
    reasons = []
    async with client.connect(url, key, mode=mode) as mcp:
        for number, step in enumerate(run.task.plan, 1):
            if step.kind == "poll":
                outcome = await _poll(mcp, run, step.name, poll_interval, poll_timeout)
            else:
                name = step.resolve_uri(run) if step.kind == "resource" else step.name
                outcome = await client.perform(mcp, step.kind, name, step.resolve_arguments(run))
                run.outcomes.append(outcome)
            if outcome.is_error and not step.expect_error:
                reasons.append(f"step {number} ({step.kind} {outcome.name}) failed: {outcome.text[:300]}")
            elif step.expect_error and not outcome.is_error:
                reasons.append(f"step {number} ({step.kind} {outcome.name}) should have been refused but succeeded")
    return reasons


async def _poll(mcp, run, report_tool, interval, timeout):
    """Call get_job_status for the job the last call of *report_tool* started until it has finished."""
    started = run.last(report_tool)
    job_id = (started.structured or {}).get("job_id") if started is not None else None
    if job_id is None:
        raise ValueError(f"no job to poll: {report_tool} returned no job_id")
    deadline = time.monotonic() + timeout
    while True:
        outcome = await client.perform(mcp, "tool", "get_job_status", {"job_id": job_id})
        run.outcomes.append(outcome)
        status = (outcome.structured or {}).get("status")
        if outcome.is_error or status in FINISHED:
            return outcome
        if time.monotonic() > deadline:
            outcome.is_error = True
            outcome.text = f"job {job_id} was still {status} after {timeout} s"
            return outcome
        await asyncio.sleep(interval)
