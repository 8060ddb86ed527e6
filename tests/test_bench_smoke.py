"""The benchmark (bench/run.py) works: its smoke mode produces a result for every operation and phase.

The benchmark is a tool, not a timed test (BENCHMARKS.md): this checks that every part of it runs
and reports, on tiny data with about a second of load per case, and never looks at speed. It uses
the database this test run uses (DATABASE_URL's server with a database of its own, else SQLite).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ("get_customer", "search_text", "search_filters", "search_first_page", "search_ana", "tools_list")
VARIANTS = ("bare", "plain", "mcp-2026", "mcp-2025-session", "mcp-2025-json")


@pytest.mark.subprocess
def test_benchmark_smoke_mode_reports_every_operation():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--duration", "2"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=240,
    )
    # A missing wrk that cannot be installed ends the run with a message saying so.
    assert completed.returncode == 0, f"bench/run.py --smoke failed:\n{completed.stderr[-5000:]}"
    line = next((out for out in completed.stdout.splitlines() if out.startswith("BENCH_RESULTS_JSON ")), None)
    assert line is not None, completed.stdout[-3000:]
    results = json.loads(line.split(" ", 1)[1])

    measured = {(row["operation"], row["variant"]) for row in results["throughput"] if row["requests"] > 0}
    # tools/list has no bare view.
    assert measured == {(op, variant) for op in OPERATIONS for variant in VARIANTS} - {("tools_list", "bare")}
    assert all(
        row["errors"] == 0 and row["p50_ms"] > 0 and row["p99_ms"] >= row["p50_ms"] and row["cpu_us"] > 0
        for row in results["throughput"]
    )
    assert results["config"]["loop"] == "uvloop" and results["config"]["http"] == "httptools"
    assert {row["operation"] for row in results["scaling"]} == set(OPERATIONS) - {"tools_list"}

    (tools,) = results["tools_list_scaling"]
    assert tools["visible_tools"] == 30 and tools["server_p50_ms"] > 0
    assert results["queries"]["mcp-2026 get_customer"]["statements_per_call_max"] >= 1
    assert results["memory"]["rss_second_mb"] > 0 and results["memory"]["sessions"] == 5
    assert results["stdio"]["first_response_s"] > 0

    # get_customer idle and while report jobs ran on a real worker; job latencies on the embedded broker.
    reports = results["reports"]
    assert [(line["connections"], line["rounds"]) for line in reports["summary"]] == [(1, 1)]
    idle, busy = sorted(reports["load"], key=lambda row: row["state"] != "idle")
    assert (idle["state"], busy["state"]) == ("idle", "busy")
    assert all(row["errors"] == 0 and row["p99_ms"] >= row["p50_ms"] > 0 for row in (idle, busy))
    assert busy["reports"]["jobs_started"] >= 2 and busy["reports"]["jobs_completed"] >= 1 and "reports" not in idle
    (latency,) = reports["latency"]
    assert latency["broker"].startswith("embedded") and latency["samples"] == 3
    assert latency["call_to_start_ms"]["p50"] > 0 and latency["end_to_seen_ms"]["p50"] > 0
    # Every target is evaluated (met or not: speed is not this test's business).
    assert len(results["targets"]) == 13
    assert "server CPU µs/call" in completed.stdout
    assert "| get_customer by id | 4 | bare Django view |" in completed.stdout
    assert "| embedded (filesystem) | 3 |" in completed.stdout
