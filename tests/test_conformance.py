"""The official MCP conformance suite (@modelcontextprotocol/conformance) against a real server.

uvicorn serves config.asgi with tests.conformance_settings, which adds tests.conformance_app: the
suite's "everything" fixtures, registered through mcp_bridge's public API. A Celery worker with the
same settings runs the fixture reports. The suite cannot send headers, so
tests/external/inject-auth.mjs adds the bearer API key to every request it makes.

Two releases are run. 0.1.16, the current release, must pass completely (active suite, spec
2025-11-25). The pre-release 0.2.0-alpha.12 runs its active suite (the 2025 era, which must pass
too), the scenarios that the 2026-07-28 revision requires (what mcp_bridge does not do there is
listed, with reasons, in tests/external/conformance-baseline-2026-07-28.yml) and, scenario by
scenario, those of the MCP tasks extension (SEP-2663), which no revision requires.
"""

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from mcp_bridge import jobs
from mcp_bridge.models import AbstractJob, ApiKey

from .external import tooling
from .servers import uvicorn_server
from .workers import celery_worker

pytestmark = pytest.mark.subprocess

SUITE_TIMEOUT = 300
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SCENARIO_LINE = re.compile(r"^([✓✗]) (\S+): (\d+) passed, (\d+) failed$", re.M)
TOTAL_LINE = re.compile(r"^Total: (\d+) passed, (\d+) failed$", re.M)

# conformance 0.1.16, `--spec-version 2025-11-25`, active suite (everything but the two pending).
SCENARIOS_2025_11_25 = {
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-with-logging",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-sampling",
    "tools-call-elicitation",
    "elicitation-sep1034-defaults",
    "server-sse-multiple-streams",
    "elicitation-sep1330-enums",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
    "dns-rebinding-protection",
}


@pytest.fixture(scope="session")
def node_tools():
    try:
        return tooling.require()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def conformance_url(django_db_setup, django_db_blocker):
    """uvicorn with the conformance fixtures installed, on the test database, and a worker for its reports.

    Three worker processes: a task the suite leaves running (slow_compute for 60 s) never holds up
    the next scenario's.
    """
    fixture_settings = {"DJANGO_SETTINGS_MODULE": "tests.conformance_settings"}
    with (
        django_db_blocker.unblock(),
        celery_worker(concurrency=3, name="conformance", extra_env=fixture_settings),
        uvicorn_server(extra_env=fixture_settings) as url,
    ):
        yield f"{url}/mcp"


@pytest.fixture
def superuser_key(transactional_db, django_db_serialized_rollback):
    """An API key of a superuser: the fixture tools exist only in the server process, so no
    per-tool grant rows exist for them; a superuser passes every permission check."""
    user = get_user_model().objects.create_superuser("conformance", "conformance@example.com", None)
    return ApiKey.issue(user, "conformance suite")[1]


class SuiteRun:
    def __init__(self, completed, output_dir):
        self.returncode = completed.returncode
        self.output = ANSI.sub("", completed.stdout + completed.stderr)
        self.output_dir = output_dir
        self.scenarios = {
            name: (mark == "✓", int(passed), int(failed))
            for mark, name, passed, failed in SCENARIO_LINE.findall(self.output)
        }
        totals = TOTAL_LINE.findall(self.output)
        assert totals, f"no 'Total:' line in the suite's output:\n{self.output[-3000:]}"
        self.passed, self.failed = map(int, totals[-1])

    def problems(self):
        """Every FAILURE and WARNING check, from the per-scenario checks.json files."""
        found = []
        for path in sorted(Path(self.output_dir).glob("*/checks.json")):
            for check in json.loads(path.read_text()):
                if check["status"] in ("FAILURE", "WARNING"):
                    found.append(
                        f"{path.parent.name}: {check['status']} {check['id']}: {check.get('errorMessage', '')}"
                    )
        return found

    def explain(self):
        return "\n".join(self.problems()) + "\n--- output tail ---\n" + self.output[-2500:]


def run_suite(entry_point, url, key, output_dir, *args):
    completed = tooling.run_node(
        ["--import", tooling.INJECT_AUTH, entry_point, "server", "--url", url, "-o", output_dir, *args],
        env=tooling.node_env(MCP_BEARER_TOKEN=key),
        timeout=SUITE_TIMEOUT,
    )
    run = SuiteRun(completed, output_dir)
    print(f"{Path(entry_point).parts[-3]} {' '.join(map(str, args))}: Total: {run.passed} passed, {run.failed} failed")
    return run


def test_conformance_suite_2025_11_25(node_tools, conformance_url, superuser_key, tmp_path):
    run = run_suite(
        tooling.CONFORMANCE,
        conformance_url,
        superuser_key,
        tmp_path,
        "--suite",
        "active",
        "--spec-version",
        "2025-11-25",
        "--expected-failures",
        tooling.BASELINE,
    )

    assert run.returncode == 0, run.explain()
    # The baseline is empty, and in baseline mode a WARNING fails too.
    assert "Baseline check passed" in run.output, run.explain()
    assert set(run.scenarios) == SCENARIOS_2025_11_25
    assert all(ok and failed == 0 for ok, _, failed in run.scenarios.values()), run.explain()
    assert (run.passed, run.failed) == (40, 0), run.explain()
    assert run.problems() == []


def test_conformance_pending_json_schema_2020_12(node_tools, conformance_url, superuser_key, tmp_path):
    """Pending in 0.1.16, so outside the active suite: $schema, $defs and additionalProperties survive tools/list."""
    completed = tooling.run_node(
        [
            "--import",
            tooling.INJECT_AUTH,
            tooling.CONFORMANCE,
            "server",
            "--url",
            conformance_url,
            "--scenario",
            "json-schema-2020-12",
            "-o",
            tmp_path,
        ],
        env=tooling.node_env(MCP_BEARER_TOKEN=superuser_key),
        timeout=SUITE_TIMEOUT,
    )
    output = ANSI.sub("", completed.stdout + completed.stderr)
    assert completed.returncode == 0, output
    assert "Passed: 4/4, 0 failed, 0 warnings" in output, output


def test_prerelease_suite_active(node_tools, conformance_url, superuser_key, tmp_path):
    """0.2.0-alpha.12's active suite: the 2025 era again, plus session lifecycle (DELETE), at newer checks."""
    run = run_suite(tooling.CONFORMANCE_NEXT, conformance_url, superuser_key, tmp_path)

    assert run.returncode == 0, run.explain()
    assert {
        "server-initialize",
        "server-session-lifecycle",
        "tools-call-sampling",
        "elicitation-sep1330-enums",
        "dns-rebinding-protection",
    } <= set(run.scenarios)
    assert all(ok and failed == 0 for ok, _, failed in run.scenarios.values()), run.explain()
    assert run.failed == 0 and run.passed >= 73, run.explain()


def test_prerelease_suite_2026_07_28(node_tools, conformance_url, superuser_key, tmp_path):
    """What 2026-07-28 requires (stateless, per-request _meta): all of it but the baseline's entries."""
    run = run_suite(
        tooling.CONFORMANCE_NEXT,
        conformance_url,
        superuser_key,
        tmp_path,
        "--requirements",
        "2026-07-28",
        "--expected-failures",
        tooling.BASELINE_2026,
    )

    # Exit 0 means: every failing or warning check of a scored scenario is in the baseline, and
    # every baseline entry still fails (none is stale).
    assert run.returncode == 0, run.explain()
    assert "Baseline check passed" in run.output, run.explain()
    for scenario in (
        "server-stateless",
        "caching",
        "sep-2164-resource-not-found",
        "tools-call-with-progress",
        "tools-call-mixed-content",
        "resources-templates-read",
        "prompts-get-with-image",
        "dns-rebinding-protection",
        "input-required-result-unsupported-methods",
    ):
        assert scenario in run.scenarios, scenario
    for scenario in (
        "caching",
        "tools-call-with-progress",
        "tools-call-mixed-content",
        "resources-read-binary",
        "prompts-get-embedded-resource",
        "dns-rebinding-protection",
        "server-sse-multiple-streams",
    ):
        assert run.scenarios[scenario][0], (scenario, run.explain())
    # Not scored for 2026-07-28 (pending upstream), but passed here: keep it that way.
    for scenario in ("json-schema-2020-12", "http-header-validation", "http-custom-header-server-validation"):
        ok, passed, failed = run.scenarios[scenario]
        assert ok and passed > 0 and failed == 0, (scenario, run.explain())


# -- the MCP tasks extension (SEP-2663) ----------------------------------------------------------------
TASKS_SCENARIO_LINE = re.compile(r"^\s*- (tasks-\S+) \[extension\]$", re.M)
#: Skipped by 0.2.0-alpha.12 itself: its harness still has to be rewritten for subscriptions/listen.
ALWAYS_SKIPPED = "tasks-status-notifications"


def tasks_scenarios():
    """The tasks-* server scenarios of the pre-release, as `conformance list --server` names them."""
    completed = tooling.run_node([tooling.CONFORMANCE_NEXT, "list", "--server"])
    assert completed.returncode == 0, completed.stderr
    return TASKS_SCENARIO_LINE.findall(ANSI.sub("", completed.stdout))


def run_scenario(url, key, scenario, output_dir):
    """Run one scenario; return (its checks from checks.json, the suite's output)."""
    completed = tooling.run_node(
        ["--import", tooling.INJECT_AUTH, tooling.CONFORMANCE_NEXT, "server", "--url", url]
        + ["--scenario", scenario, "-o", output_dir],
        env=tooling.node_env(MCP_BEARER_TOKEN=key),
        timeout=SUITE_TIMEOUT,
    )
    output = ANSI.sub("", completed.stdout + completed.stderr)
    checks = [check for path in Path(output_dir).glob("*/checks.json") for check in json.loads(path.read_text())]
    assert checks, f"{scenario} reported no checks (exit {completed.returncode}):\n{output[-3000:]}"
    return checks, output


def cancel_leftover_jobs():
    """Cancel what earlier scenarios left running (slow_compute for 60 s), so the next starts with idle workers."""
    for job in jobs.job_model().objects.filter(status__in=AbstractJob.ACTIVE):
        jobs.cancel(job, reason="Left running by a conformance scenario.")


def test_prerelease_tasks_extension(node_tools, conformance_url, superuser_key, tmp_path):
    """Every tasks-* scenario of 0.2.0-alpha.12 passes, wire-schema validation included, on a real worker."""
    scenarios = tasks_scenarios()
    assert len(scenarios) == 10 and ALWAYS_SKIPPED in scenarios, scenarios

    problems, counted = [], {"SUCCESS": 0, "SKIPPED": 0}
    for scenario in scenarios:
        cancel_leftover_jobs()
        checks, output = run_scenario(conformance_url, superuser_key, scenario, tmp_path / scenario)
        expected = "SKIPPED" if scenario == ALWAYS_SKIPPED else "SUCCESS"
        for check in checks:
            counted[check["status"]] = counted.get(check["status"], 0) + 1
            if check["status"] != expected:
                problems.append(f"{scenario}: {check['status']} {check['id']}: {check.get('errorMessage', '')}")
        ids = [check["id"] for check in checks]
        if scenario == ALWAYS_SKIPPED:
            assert ids == [ALWAYS_SKIPPED], output
        else:
            # Every message the server sent in the scenario was valid against the 2026-07-28 schema.
            assert "wire-schema-valid" in ids, output
            assert f"Passed: {len(checks)}/{len(checks)}, 0 failed, 0 warnings" in output, output
        if scenario == "tasks-lifecycle":
            # The suite accepts any terminal status after tasks/cancel; the task must end `cancelled`.
            cancelled = jobs.job_model().objects.get(tool="slow_compute", arguments__label="lifecycle-cancel")
            assert cancelled.status == "cancelled", cancelled.message

    print(f"tasks-* scenarios: {counted['SUCCESS']} checks passed, {counted['SKIPPED']} skipped")
    assert problems == [], "\n".join(problems)
    assert set(counted) == {"SUCCESS", "SKIPPED"} and counted["SKIPPED"] == 1
