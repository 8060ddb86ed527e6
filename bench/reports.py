"""The benchmark's reports phase (bench/run.py, phase `reports`): the server while reports run on Celery.

1. A Celery worker for the reports queue (`celery -A config worker -Q mcp_reports -c 2 -P prefork`)
   runs next to the bench's uvicorn, on the same database and broker. It is pinned to the load
   generator's core, so the server's core is left to the server and the comparison measures how well
   the server is isolated from report work; then it runs once more unpinned, where the operating
   system may put report work on the server's core (on two cores, the honest worst case).
   `--report-workers` chooses these placements, and one more: pinned at nice 19.
2. get_customer over MCP 2026-07-28 with wrk, idle and while two churn_risk_report jobs run. A driver
   thread calls the report as the demo's analyst and keeps `OUTSTANDING` jobs queued or running (two
   run, the rest wait, so a worker process never waits for the driver), polling each with
   get_job_status at the interval the server suggests, as a client would. The jobs' own started_at and
   finished_at show how much of each measurement two of them really ran.
3. Latencies of single jobs on an otherwise idle server: from the call to the job's started_at (queue
   pick-up) and from its finished_at to the first get_job_status poll, every 100 ms, that sees it.

Jobs are deleted after each measurement: each run of the report attaches a CSV of every customer
(about 10 MB at 100,000 customers).
"""

import datetime
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx2

from bench.run import ENVELOPE, MODERN, PYTHON, ROOT, headers_for, log, parse_mcp_response, pinned

REPORT = "churn_risk_report"
#: The report as an agent would call it: the defaults (the 50 riskiest customers, a CSV of everyone).
#: `bench/run.py --report-arguments` replaces them (`{"min_score": 60}`: the same scoring, high risks listed only).
REPORT_ARGUMENTS = {}
REPORT_CALLER = "analyst"
#: The tools the report's caller needs; granted again in case the database was seeded before reports existed.
REPORT_TOOLS = (REPORT, "get_job_status", "cancel_job")
JOB_QUEUE = "mcp_reports"
#: Reports running during a busy measurement: the worker's concurrency.
RUNNING = 2
#: Jobs the driver keeps queued or running: with polls every 2 s, three waiting jobs cover the
#: two that may finish between polls.
OUTSTANDING = 5
FINAL = ("completed", "failed", "cancelled")
LATENCY_POLL_SECONDS = 0.1
#: Idle and busy measurements alternate in this order, then the other.
STATES = ("idle", "busy")
#: Where the worker runs: name -> (description, pinned to the load generator's core, nice value or None).
PLACEMENTS = {
    "pinned": ("worker pinned to the load generator's core", True, None),
    "unpinned": ("worker unpinned", False, None),
    # Lowest CPU priority: the database and the load generator preempt the reports whenever they need a core.
    "pinned-nice": ("worker pinned to the load generator's core, at nice 19", True, 19),
}
DEFAULT_PLACEMENTS = ("pinned", "unpinned")


def read_log(path):
    return Path(path).read_text(errors="replace")


class McpCaller:
    """Calls tools over MCP 2026-07-28 (one stateless POST each) with one API key; returns structured content."""

    def __init__(self, server, key):
        self.url = server.mcp
        self.key = key
        self.client = httpx2.Client(timeout=60)
        self.next_id = 0

    def close(self):
        self.client.close()

    def call(self, tool, arguments):
        self.next_id += 1
        body = {
            "jsonrpc": "2.0",
            "id": self.next_id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": ENVELOPE},
        }
        response = self.client.post(self.url, json=body, headers=headers_for(self.key, MODERN, "tools/call", tool))
        message = parse_mcp_response(response) if response.status_code == 200 else None
        if not message or "result" not in message:
            raise RuntimeError(f"{tool}: HTTP {response.status_code}: {response.text[:500]}")
        result = message["result"]
        if result.get("isError"):
            raise RuntimeError(f"{tool}: tool error: {result['content'][0]['text'][:500]}")
        return result["structuredContent"]


def moment(iso_text):
    """Seconds since the epoch of a job timestamp ("...Z"), comparable with time.time() on this machine."""
    return datetime.datetime.fromisoformat(iso_text).timestamp() if iso_text else None


def percentile(values, share):
    """The nearest-rank percentile (*share* in 0..100) of *values*."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share / 100 * len(ordered)) - 1, 0)]


def core_times():
    """{core: (busy jiffies, total jiffies)} from /proc/stat."""
    cores = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            values = [int(value) for value in fields]
            idle = values[3] + values[4]  # idle + iowait
            cores[name[3:]] = (sum(values[:8]) - idle, sum(values[:8]))
    return cores


def core_busy(before, after):
    """{core: percent busy} between two core_times() readings."""
    return {
        core: round(100 * (after[core][0] - before[core][0]) / max(after[core][1] - before[core][1], 1), 1)
        for core in after
    }


# -- processes and data ------------------------------------------------------------------------------
def report_caller_key(bench, database):
    """Grant the analyst the report tools (idempotent) and return a fresh API key of theirs."""
    code = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from mcp_bridge.models import ApiKey, Tool
grants = Permission.objects.filter(
    content_type__app_label=Tool._meta.app_label,
    codename__in=[Tool.permission_codename(name) for name in {REPORT_TOOLS!r}],
)
Group.objects.get(name={REPORT_CALLER!r}).permissions.add(*grants)
user = get_user_model().objects.get(username={REPORT_CALLER!r})
ApiKey.objects.filter(user=user, name__startswith="bench ").delete()
print(ApiKey.issue(user, "bench reports key")[1])
"""
    return bench.manage(database, "shell", "-c", code).split()[-1]


def delete_jobs(bench, database):
    """Delete the report caller's jobs (each holds a CSV of every customer; the smoke database is dropped anyway)."""
    if bench.smoke:
        return
    code = (
        "from mcp_bridge.jobs import job_model; "
        f"print(job_model().objects.filter(owner__username={REPORT_CALLER!r}).delete()[0])"
    )
    bench.manage(database, "shell", "-c", code)


@contextmanager
def celery_worker(bench, database, broker_url, core, nice=None):
    """A prefork worker for the reports queue (pinned to *core* and niced unless None); stopped on the way out."""
    name = f"bench-reports-{os.getpid()}"
    log_path = bench.var_dir / f"celery-{name}-{core}.log"
    command = [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", JOB_QUEUE, "-c", str(RUNNING), "-P", "prefork"]
    command += ["-n", f"{name}@%h", "--loglevel", "INFO"]
    if nice is not None:
        command = ["nice", "-n", str(nice), *command]
    # Celery closes a pool process's connection after every task: a connection pool there would only churn.
    env = bench.django_env(database, CELERY_BROKER_URL=broker_url, DATABASE_POOL=0)
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            pinned(command, core),
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool processes are stopped with it
        )
    try:
        ready = f"{name}@{socket.gethostname()} ready."
        deadline = time.monotonic() + 90
        while ready not in read_log(log_path):
            if process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {process.returncode}:\n{read_log(log_path)[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"celery worker not ready within 90 s:\n{read_log(log_path)[-3000:]}")
            time.sleep(0.1)
        yield process
    finally:
        # The jobs of the phase have ended by now (ReportLoad cancels and waits), so the worker holds
        # nothing worth Celery's warm shutdown, which takes several seconds: a short grace, then the group.
        process.terminate()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


# -- two reports running ------------------------------------------------------------------------------
class ReportLoad(threading.Thread):
    """Keeps OUTSTANDING report jobs queued or running until stopped, polling them as a client would.

    Used as a context manager: on the way out it stops, cancels the jobs still queued or running and
    waits until every job it started has ended.
    """

    def __init__(self, server, key, arguments, poll_seconds=None):
        super().__init__(daemon=True)
        self.caller = McpCaller(server, key)
        self.arguments = arguments
        self.poll_seconds = poll_seconds
        self.active = {}  # job id -> its latest status
        self.ended = []  # the final status of every job that ended
        self.calls = self.polls = 0
        self.stopping = threading.Event()
        self.error = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.join()
        try:
            for job_id in list(self.active):
                self.caller.call("cancel_job", {"job_id": job_id})
            deadline = time.monotonic() + 60
            while self.active:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jobs still not ended 60 s after cancel_job: {list(self.active)}")
                self.poll()
                time.sleep(0.2)
        finally:
            self.caller.close()
        # A cancelled job's worker process stops at the report's next progress call (at most 0.5 s apart).
        time.sleep(1)

    def run(self):
        try:
            while not self.stopping.is_set():
                while len(self.active) < OUTSTANDING:
                    status = self.caller.call(REPORT, self.arguments)
                    self.calls += 1
                    self.active[status["job_id"]] = status
                    if self.poll_seconds is None:
                        self.poll_seconds = status["poll_interval_seconds"]
                if self.stopping.wait(self.poll_seconds):
                    break
                self.poll()
        except Exception as exc:  # reported by the measurement, in the main thread
            self.error = exc

    def poll(self):
        for job_id in list(self.active):
            status = self.caller.call("get_job_status", {"job_id": job_id})
            self.polls += 1
            if status["status"] in FINAL:
                if status["status"] == "failed":
                    self.error = RuntimeError(f"{REPORT} failed: {status.get('error')}")
                self.ended.append(status)
                del self.active[job_id]
            else:
                self.active[job_id] = status

    def statuses(self):
        return [*self.ended, *list(self.active.values())]

    def wait_running(self, count, timeout=120):
        """Wait until *count* jobs have started: with reports of seconds, that many run side by side from then on."""
        deadline = time.monotonic() + timeout
        while sum(1 for status in self.statuses() if status.get("started_at")) < count:
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} report jobs did not start within {timeout} s; is the worker consuming?")
            time.sleep(0.05)

    def coverage(self, start, end):
        """How the ended jobs filled [start, end]: share of it with RUNNING jobs running, and the mean running."""
        events = []
        for status in self.ended:
            began, finished = moment(status.get("started_at")), moment(status.get("finished_at"))
            if began is None or finished is None:
                continue
            began, finished = max(began, start), min(finished, end)
            if finished > began:
                events += [(began, 1), (finished, -1)]
        running = full = area = 0.0
        last = start
        for at, change in sorted(events):
            full += (at - last) if running >= RUNNING else 0
            area += (at - last) * running
            running += change
            last = at
        window = end - start
        return {
            "two_running_pct": round(100 * full / window, 1),
            "mean_running": round(area / window, 2),
            "jobs_started": sum(1 for s in self.ended if s.get("started_at")),
            "jobs_completed": sum(1 for s in self.ended if s["status"] == "completed"),
            "report_calls": self.calls,
            "status_polls": self.polls,
        }


# -- measurements --------------------------------------------------------------------------------------
def get_customer_under_reports(
    bench, database, server, spec, key, *, arguments, placement, broker, connections, duration, rounds
):
    """get_customer with wrk, idle and while two reports run, alternating; one row per measurement."""
    url, lines = spec
    rows = []
    for round_ in range(rounds):
        for level, conns in enumerate(connections):
            states = STATES if (round_ + level) % 2 == 0 else STATES[::-1]
            for state in states:
                row = {"placement": placement, "broker": broker, "connections": conns, "round": round_, "state": state}
                if state == "idle":
                    before, started = core_times(), time.time()
                    row.update(bench.wrk_run(url, lines, conns, duration, pid=server.pid))
                    row["cores_busy_pct"] = core_busy(before, core_times())
                else:
                    with ReportLoad(server, key, arguments, poll_seconds=0.2 if bench.smoke else None) as load:
                        load.wait_running(RUNNING)
                        before, started = core_times(), time.time()
                        row.update(bench.wrk_run(url, lines, conns, duration, pid=server.pid))
                        row["cores_busy_pct"] = core_busy(before, core_times())
                    # Read after the driver stopped: cancelling ended the jobs still running, so all have ended.
                    if load.error is not None:
                        raise load.error
                    row["reports"] = load.coverage(started, started + duration)
                    delete_jobs(bench, database)
                rows.append(row)
                reports = row.get("reports")
                log(
                    f"reports {placement:11} {state:4} c={conns:<3} {row['rps']:8.1f} req/s  "
                    f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  cores busy {row['cores_busy_pct']}"
                    + (f"  two reports running {reports['two_running_pct']}% of it" if reports else "")
                )
    return rows


def job_latencies(bench, database, server, key, *, arguments, broker, samples, quiet=False):
    """Call the report *samples* times, one at a time, polling every 100 ms: pick-up and notice latencies."""
    caller = McpCaller(server, key)
    answered_ms, pickup_ms, seen_ms, seen_poll_ms = [], [], [], []
    try:
        for _ in range(samples):
            sent = time.time()
            status = caller.call(REPORT, arguments)
            answered = time.time()
            job_id, next_poll = status["job_id"], answered
            deadline = answered + 300
            while status["status"] not in FINAL:
                next_poll += LATENCY_POLL_SECONDS
                time.sleep(max(next_poll - time.time(), 0))
                polled = time.time()
                status = caller.call("get_job_status", {"job_id": job_id})
                seen = time.time()
                if seen > deadline:
                    raise RuntimeError(f"job {job_id} did not end within 300 s: {status}")
            if status["status"] != "completed":
                raise RuntimeError(f"{REPORT} ended {status['status']}: {status.get('error')}")
            answered_ms.append((answered - sent) * 1000)
            pickup_ms.append((moment(status["started_at"]) - sent) * 1000)
            seen_ms.append((seen - moment(status["finished_at"])) * 1000)
            seen_poll_ms.append((seen - polled) * 1000)
    finally:
        caller.close()
    delete_jobs(bench, database)

    def summary(values):
        return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1)}

    result = {
        "broker": broker,
        "samples": samples,
        "poll_ms": LATENCY_POLL_SECONDS * 1000,
        "call_answered_ms": summary(answered_ms),
        "call_to_start_ms": summary(pickup_ms),
        "end_to_seen_ms": summary(seen_ms),
        "seeing_poll_ms": summary(seen_poll_ms),
        "all_call_to_start_ms": [round(value, 1) for value in pickup_ms],
        "all_end_to_seen_ms": [round(value, 1) for value in seen_ms],
    }
    if quiet:
        return result
    log(
        f"reports latency on {broker}: call -> started p50 {result['call_to_start_ms']['p50']} ms, "
        f"p95 {result['call_to_start_ms']['p95']} ms; finished -> seen p50 {result['end_to_seen_ms']['p50']} ms, "
        f"p95 {result['end_to_seen_ms']['p95']} ms ({samples} samples)"
    )
    return result


def summarize(rows):
    """One line per (placement, connections): medians over rounds, and p99 busy/idle per round."""
    groups = {}
    for row in rows:
        groups.setdefault((row["placement"], row["connections"]), {}).setdefault(row["state"], []).append(row)
    lines = []
    for (placement, conns), states in groups.items():
        idle, busy = states["idle"], states["busy"]
        ratios = [b["p99_ms"] / i["p99_ms"] for i, b in zip(idle, busy, strict=True) if i["p99_ms"]]

        def median(sample, key):
            return round(statistics.median(row[key] for row in sample), 3)

        def median_cores(sample):
            return {
                core: statistics.median(row["cores_busy_pct"][core] for row in sample)
                for core in sample[0]["cores_busy_pct"]
            }

        lines.append(
            {
                "placement": placement,
                "connections": conns,
                "rounds": len(ratios),
                "idle": {key: median(idle, key) for key in ("rps", "p50_ms", "p99_ms", "cpu_us")},
                "busy": {key: median(busy, key) for key in ("rps", "p50_ms", "p99_ms", "cpu_us")},
                "p99_ratio": round(statistics.median(ratios), 2),
                "p99_ratio_min": round(min(ratios), 2),
                "p99_ratio_max": round(max(ratios), 2),
                "two_running_pct": statistics.median(row["reports"]["two_running_pct"] for row in busy),
                "cores_busy_idle_pct": median_cores(idle),
                "cores_busy_busy_pct": median_cores(busy),
            }
        )
    return lines


def reports_phase(
    bench,
    database,
    *,
    spec_for_server,
    brokers,
    connections,
    duration,
    warmup,
    rounds,
    samples,
    arguments=None,
    placements=DEFAULT_PLACEMENTS,
):
    """The whole phase; *brokers* is [(label, broker URL)], the first one also carrying the load measurements.

    *spec_for_server(server)* returns wrk's (url, spec lines) for get_customer on that server; *arguments*
    are the report's (default REPORT_ARGUMENTS); *placements* name PLACEMENTS, the first one also used
    for the latencies and the target. Without pinning (--no-pin, one core) the worker runs unpinned.
    """
    arguments = REPORT_ARGUMENTS if arguments is None else arguments
    if not bench.cores:
        placements = [name for name in placements if not PLACEMENTS[name][1]] or ["unpinned"]
    if bench.smoke:
        placements = placements[:1]
    worker_core = bench.cores[1] if bench.cores else None
    key = report_caller_key(bench, database)
    delete_jobs(bench, database)
    result = {
        "config": {
            "report": REPORT,
            "arguments": arguments,
            "concurrency": RUNNING,
            "outstanding": OUTSTANDING,
            "brokers": [label for label, _ in brokers],
            "load_broker": brokers[0][0],
            "connections": connections,
            "duration": duration,
            "rounds": rounds,
            "placements": list(placements),
            "worker_core": worker_core,
        },
        "load": [],
        "summary": [],
        "latency": [],
    }
    for index, (label, broker_url) in enumerate(brokers):
        with bench.server(database, CELERY_BROKER_URL=broker_url) as server:
            spec = spec_for_server(server)
            for placement in placements if index == 0 else placements[:1]:
                description, pin, nice = PLACEMENTS[placement]
                with celery_worker(bench, database, broker_url, worker_core if pin else None, nice):
                    log(f"reports: worker ready ({description}, broker {label})")
                    # The first job of a fresh worker also imports and connects: run one, unmeasured.
                    job_latencies(
                        bench, database, server, key, arguments=arguments, broker=label, samples=1, quiet=True
                    )
                    if index == 0:
                        if warmup:
                            bench.wrk_run(*spec, max(connections), warmup, pid=server.pid)
                        result["load"] += get_customer_under_reports(
                            bench,
                            database,
                            server,
                            spec,
                            key,
                            arguments=arguments,
                            placement=placement,
                            broker=label,
                            connections=connections,
                            duration=duration,
                            rounds=rounds,
                        )
                    if placement == placements[0]:
                        result["latency"].append(
                            job_latencies(
                                bench, database, server, key, arguments=arguments, broker=label, samples=samples
                            )
                        )
    result["summary"] = summarize(result["load"])
    return result


# -- report -----------------------------------------------------------------------------------------------
def targets(reports):
    """The issue's target: get_customer's p99 while two reports run within 1.5x of idle (the first placement)."""
    if not reports or not reports.get("summary"):
        return []
    placement = reports["config"]["placements"][0]
    lines = [line for line in reports["summary"] if line["placement"] == placement]
    worst = max(lines, key=lambda line: line["p99_ratio"])
    return [
        {
            "target": f"get_customer p99 while two reports run within 1.5x of idle ({PLACEMENTS[placement][0]})",
            "measured": f"worst {worst['p99_ratio']:.2f}x ({worst['connections']} connection(s); "
            f"{worst['p99_ratio_min']:.2f}-{worst['p99_ratio_max']:.2f}x over {worst['rounds']} rounds)",
            "met": worst["p99_ratio"] <= 1.5,
        }
    ]


def markdown(reports):
    """The phase's Markdown tables."""
    cfg = reports["config"]
    out = [
        "",
        f"Reports: {cfg['report']} {json.dumps(cfg['arguments'])} on a Celery worker (prefork, concurrency "
        f"{cfg['concurrency']}, broker {cfg['load_broker']}), {cfg['outstanding']} jobs kept queued or running; "
        f"get_customer over MCP {MODERN}, {cfg['duration']} s per point, idle and busy alternating, medians of "
        f"{cfg['rounds']} rounds.",
        "",
        "| worker | conns | req/s idle / busy | p50 ms idle / busy | p99 ms idle / busy | p99 busy / idle (range) "
        "| two reports running | cores busy % idle → busy |",
        "|---|---:|---|---|---|---|---:|---|",
    ]
    for line in reports["summary"]:
        idle, busy = line["idle"], line["busy"]
        cores = ", ".join(
            f"{core}: {line['cores_busy_idle_pct'][core]:.0f} → {line['cores_busy_busy_pct'][core]:.0f}"
            for core in line["cores_busy_busy_pct"]
        )
        out.append(
            f"| {line['placement']} | {line['connections']} | {idle['rps']:.0f} / {busy['rps']:.0f} | "
            f"{idle['p50_ms']:.2f} / {busy['p50_ms']:.2f} | {idle['p99_ms']:.1f} / {busy['p99_ms']:.1f} | "
            f"{line['p99_ratio']:.2f}x ({line['p99_ratio_min']:.2f}-{line['p99_ratio_max']:.2f}) | "
            f"{line['two_running_pct']:.0f} % | {cores} |"
        )
    out += [
        "",
        "| broker | samples | call answered ms p50 / p95 | call → job started ms p50 / p95 | "
        "job finished → seen by a 100 ms poll, ms p50 / p95 | that poll's own ms p50 / p95 |",
        "|---|---:|---|---|---|---|",
    ]
    for row in reports["latency"]:
        out.append(
            f"| {row['broker']} | {row['samples']} | "
            + " | ".join(
                f"{row[key]['p50']} / {row[key]['p95']}"
                for key in ("call_answered_ms", "call_to_start_ms", "end_to_seen_ms", "seeing_poll_ms")
            )
            + " |"
        )
    return out
