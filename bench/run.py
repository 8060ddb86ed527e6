#!/usr/bin/env python
"""Benchmark mcp_bridge against the Django views a user would write by hand for the same calls.

    .venv/bin/python bench/run.py            # full run on PostgreSQL (~50 min; see BENCHMARKS.md)
    .venv/bin/python bench/run.py --smoke    # a few seconds per case on tiny data: checks it works

What it does:
1. Seeds a database (PostgreSQL `mcpb_bench` by default: 100,000 customers, 300,000 orders; reused
   when already seeded at that size) and issues API keys.
2. Starts uvicorn (one worker, pinned to core 0, uvloop + httptools as in production) twice: the
   default transport (2025-11-25 with sessions and SSE) and stateless JSON (MCP_STATELESS_HTTP=1
   MCP_JSON_RESPONSE=1). Both serve 2026-07-28 and the views of bench/views.py: the bare views
   (async ORM, `.values()`, no DRF, admin or authentication) and the same-work views (the same
   authentication, admin hooks and serializer as MCP).
3. Drives each operation x variant x connection count with wrk pinned to core 1 (bench/lua/post.lua),
   interleaving the variants so that they share the machine's noise; reports requests/s, p50, p99,
   the server's CPU time per call and the ratios to the bare and the same-work view.
4. Scaling: the same reads at other data sizes; tools/list as the number of exposed models grows
   (bench/proxies), with server time and SQL statements per call.
5. Memory: RSS of a fresh worker after 10,000 and 20,000 calls and with 500 open 2025-era sessions.
6. stdio: `manage.py runmcp` start to its first response.
7. Reports (bench/reports.py): get_customer idle and while two churn_risk_report jobs run on a Celery
   worker (pinned to the load generator's core, then unpinned), and how long a job waits for a worker
   and for the poll that sees it end, on Redis and on the embedded filesystem broker.
8. OAuth (bench/oauth.py): the main table's MCP cases with an OAuth access token beside the API key,
   in one run on the same servers, and the first call with a fresh credential of each kind.

Results go to stdout (Markdown tables) and to a JSON file (--output). This is a tool, not a test:
the smoke mode's only job is to prove every part produces a result.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua" / "post.lua"
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mcpb_bench"
MCP_PATH = "/mcp"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
# Exposed models in the demo: Customer, Order, SupportTicket, Refund; proxies add the rest.
DEMO_MODELS = 4
DEMO_VISIBLE_TOOLS = 8  # what support_agent may call in the demo

# operation -> (MCP method, tool, arguments); "__CID__" is a customer id spread over the data.
OPERATIONS = {
    "get_customer": ("tools/call", "get_customer", {"id": "__CID__"}),
    "search_text": ("tools/call", "search_customers", {"query": "ana tanaka"}),
    "search_filters": (
        "tools/call",
        "search_customers",
        {"status": "active", "country": "DE", "ordering": "-lifetime_value"},
    ),
    "search_first_page": ("tools/call", "search_customers", {}),
    # A short substring of many demo names (Ana, Hana, Tanaka): the page fills early in id order, so the
    # call's cost is the 20 rows it returns rather than the scan.
    "search_ana": ("tools/call", "search_customers", {"query": "ana", "page_size": 20, "ordering": "id"}),
    "tools_list": ("tools/list", None, None),
}
PLAIN_PATHS = {"get_customer": "/bench/plain/get_customer", "tools_list": "/bench/plain/tools"}
# The tools bench/views.py has a bare view for (at /bench/bare/<tool>); tools/list has none.
BARE_TOOLS = ("get_customer", "search_customers")
READ_OPERATIONS = tuple(name for name, (_, tool, _) in OPERATIONS.items() if tool in BARE_TOOLS)
# The cases the throughput and latency targets hold for: a get by id and a 20-row page in id order, the same
# work on both sides. The other searches are reported beside them: a text query without `ordering` is
# ranked by relevance over every match, which the bare view does not do, and is bound by the database.
TARGET_OPERATIONS = ("get_customer", "search_ana", "search_filters")
OPERATION_TITLES = {
    "get_customer": "get_customer by id",
    "search_text": "search_customers, text query",
    "search_filters": "search_customers, 2 filters + ordering",
    "search_first_page": "search_customers, first page, no arguments",
    "search_ana": 'search_customers "ana", 20 rows by id',
    "tools_list": "tools/list (support_agent)",
}
VARIANTS = ("bare", "plain", "mcp-2026", "mcp-2025-session", "mcp-2025-json")
MCP_VARIANTS = ("mcp-2026", "mcp-2025-session", "mcp-2025-json")
VARIANT_TITLES = {
    "bare": "bare Django view",
    "plain": "same-work view",
    "mcp-2026": "MCP 2026-07-28",
    "mcp-2025-session": "MCP 2025-11-25, session + SSE",
    "mcp-2025-json": "MCP 2025-11-25, stateless JSON",
}
# The scaling phase compares MCP with the reference only, to keep the full run near 30 minutes.
SCALING_VARIANTS = ("bare", "mcp-2026")
# Throughput each MCP variant must reach, as a multiple of the bare view's (evaluate_targets).
TARGET_RATIOS = {"mcp-2026": 1.0, "mcp-2025-session": 0.9, "mcp-2025-json": 0.95}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(*parts):
    print("[bench]", *parts, file=sys.stderr, flush=True)


# -- tools -----------------------------------------------------------------------------------------
def ensure_wrk():
    """Return the wrk binary; exit with a message if it is missing (`make install` installs it)."""
    found = shutil.which("wrk")
    if found:
        return found
    sys.exit(
        "bench: wrk is not installed. Run `make install` (it installs wrk with apt-get), or install wrk "
        "(https://github.com/wg/wrk) yourself, and run again."
    )


def cores():
    """(server core, load generator core) when the machine has two or more cores and taskset, else None."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return 0, 1
    return None


def pinned(command, core):
    return ["taskset", "-c", str(core), *command] if core is not None else command


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine_info():
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        info["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        pass
    return info


def cpu_seconds(pid):
    """User + system CPU time of process *pid*, all its threads (utime and stime of /proc/<pid>/stat)."""
    # The command name (field 2) may hold spaces and parentheses; the fields after its ")" do not.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


# -- databases -------------------------------------------------------------------------------------
class Database:
    """One benchmark database: PostgreSQL (created when missing) or an SQLite file."""

    def __init__(self, url=None, sqlite_path=None):
        self.url = url
        self.sqlite_path = sqlite_path

    @property
    def label(self):
        return urlsplit(self.url).path.lstrip("/") if self.url else str(self.sqlite_path)

    def variant(self, suffix):
        if self.url:
            parts = urlsplit(self.url)
            return Database(url=urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_{suffix}")))
        return Database(sqlite_path=self.sqlite_path.with_name(f"{self.sqlite_path.stem}_{suffix}.sqlite3"))

    def env(self):
        if self.url:
            return {"DATABASE_URL": self.url}
        return {"SQLITE_PATH": str(self.sqlite_path)}

    def create(self, fresh=False):
        if not self.url:
            if fresh and self.sqlite_path.exists():
                self.sqlite_path.unlink()
            return
        import psycopg

        parts = urlsplit(self.url)
        name = parts.path.lstrip("/")
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists and fresh:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = None
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def drop(self):
        if not self.url:
            if self.sqlite_path.exists():
                self.sqlite_path.unlink()
            return
        import psycopg

        parts = urlsplit(self.url)
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


class Bench:
    def __init__(self, args):
        self.args = args
        self.smoke = args.smoke
        self.wrk = ensure_wrk()
        self.cores = cores() if not args.no_pin else None
        self.var_dir = Path(tempfile.mkdtemp(prefix="mcpb-bench-"))
        self.redis_url = choose_cache(args)
        self.repeat = max(args.repeat or (1 if args.smoke else 2), 1)
        self.results = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "mode": "smoke" if self.smoke else "full",
            "config": {},
            "throughput": [],
            "scaling": [],
            "tools_list_scaling": [],
            "queries": {},
            "memory": {},
            "stdio": {},
            "reports": {},
            "oauth": {},
        }

    # -- environment and processes ------------------------------------------------------------
    def django_env(self, database, **extra):
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "SQLITE_PATH", "DJANGO_SETTINGS_MODULE", "REDIS_URL"}
        }
        env.update(database.env())
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "VAR_DIR": str(self.var_dir),
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "ERROR",
                "MCP_STATELESS_HTTP": "0",
                "MCP_JSON_RESPONSE": "0",
                "BENCH_PROXY_MODELS": "0",
            }
        )
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def manage(self, database, *command, **extra_env):
        result = subprocess.run(
            [PYTHON, "manage.py", *command],
            cwd=ROOT,
            env=self.django_env(database, **extra_env),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def prepare(self, database, customers, *, fresh=False, keys="support_agent,admin", proxies=0):
        database.create(fresh=fresh)
        started = time.monotonic()
        args = [
            "bench_prepare",
            "--customers",
            str(customers),
            "--orders-per-customer",
            str(self.args.orders_per_customer),
            "--keys",
            keys,
        ]
        if self.args.reseed and not proxies:
            args.append("--reseed")
        output = self.manage(database, *args, BENCH_PROXY_MODELS=proxies)
        info = json.loads(output.strip().splitlines()[-1])
        info["prepare_seconds"] = round(time.monotonic() - started, 1)
        log(
            f"database {database.label}: {info['customers']} customers, {info['orders']} orders "
            f"({'seeded' if info['seeded'] else 'reused'}, {info['prepare_seconds']} s)"
        )
        return info

    @contextmanager
    def server(self, database, **extra_env):
        """uvicorn serving bench.asgi with one worker, pinned to the server core, on --loop and --http."""
        port = free_port()
        env = self.django_env(database, **extra_env)
        log_path = self.var_dir / f"uvicorn-{port}.log"
        command = [
            PYTHON,
            "-m",
            "uvicorn",
            "bench.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "2",
            "--backlog",
            "2048",
            "--loop",
            self.args.loop,
            "--http",
            self.args.http,
        ]
        with open(log_path, "w+") as log_file:
            process = subprocess.Popen(
                pinned(command, self.cores and self.cores[0]),
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                self._wait_ready(process, base, log_path)
                yield Server(base, process.pid)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    @staticmethod
    def _wait_ready(process, base, log_path):
        import httpx2

        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}:\n{Path(log_path).read_text()[-3000:]}")
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 60 s")
            time.sleep(0.1)

    # -- load ---------------------------------------------------------------------------------
    def wrk_run(self, url, spec, connections, duration, *, pid):
        """Load *url* with wrk; the figures include the CPU time server process *pid* spent per request."""
        cpu_before = cpu_seconds(pid)
        spec_path = self.var_dir / "spec.txt"
        spec_path.write_text("\n".join(spec) + "\n")
        command = [
            self.wrk,
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
            "--",
            str(spec_path),
        ]
        result = subprocess.run(
            pinned(command, self.cores and self.cores[1]), capture_output=True, text=True, timeout=duration + 120
        )
        match = re.search(r"^BENCH_JSON (\{.*\})$", result.stdout, re.M)
        if result.returncode != 0 or not match:
            raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        data = json.loads(match.group(1))
        seconds = data["duration_us"] / 1e6
        errors = sum(v for k, v in data.items() if k.startswith("errors_"))
        if errors:
            detail = ", ".join(f"{k[7:]} {v}" for k, v in data.items() if k.startswith("errors_") and v)
            raise RuntimeError(
                f"{url}: {errors} of {data['requests']} requests failed ({detail}); spec:\n" + "\n".join(spec)
            )
        # Requests still in flight when wrk stops keep the server (and the database) busy; let them
        # finish so they do not eat into the next measurement.
        time.sleep(min(data["max_us"] / 1e6, 0.2 if self.smoke else 10) + 0.05)
        # Read after that wait, so the CPU time of the requests still in flight is counted too.
        cpu = cpu_seconds(pid) - cpu_before
        return {
            "requests": data["requests"],
            "max_ms": round(data["max_us"] / 1000, 3),
            "rps": round(data["requests"] / seconds, 1) if seconds else 0.0,
            "p50_ms": round(data["p50_us"] / 1000, 3),
            "p90_ms": round(data["p90_us"] / 1000, 3),
            "p99_ms": round(data["p99_us"] / 1000, 3),
            "mean_ms": round(data["mean_us"] / 1000, 3),
            "cpu_us": round(cpu * 1e6 / data["requests"], 1) if data["requests"] else 0.0,
            "errors": errors,
        }


def choose_cache(args):
    """The cache the servers use: Redis (as in production) when reachable, else the demo's file cache.

    A Redis cache gets its own database index, flushed first: cached permission sets are keyed by
    user id, which other databases reuse. Smoke runs use the file cache in their own directory.
    """
    if args.cache == "file" or (args.cache == "auto" and args.smoke):
        return None
    url = args.redis_url
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.flushdb()
        return url
    except Exception as exc:
        if args.cache == "redis":
            sys.exit(f"bench: Redis at {url} is not reachable: {exc}")
        log(f"Redis at {url} is not reachable ({exc}); using the file cache")
        return None


class Server:
    def __init__(self, base, pid):
        self.base = base
        self.pid = pid
        self.mcp = base + MCP_PATH


# -- requests --------------------------------------------------------------------------------------
def _json_body(obj):
    return (
        json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        .replace('"__CID__"', "__CID__")
        .replace('"__ID__"', "__ID__")
    )


def mcp_body(operation, era):
    method, tool, arguments = OPERATIONS[operation]
    params = {} if tool is None else {"name": tool, "arguments": arguments}
    if era == MODERN:
        params["_meta"] = ENVELOPE
    body = {"jsonrpc": "2.0", "id": "__ID__", "method": method}
    if params:
        body["params"] = params
    return _json_body(body)


def plain_body(operation):
    _, _, arguments = OPERATIONS[operation]
    return _json_body(arguments or {})


def view_path(variant, operation):
    """The path of the bare or same-work view of *operation*."""
    if variant == "bare":
        return f"/bench/bare/{OPERATIONS[operation][1]}"
    return PLAIN_PATHS.get(operation, "/bench/plain/search_customers")


def variants_of(operation, variants):
    """The *variants* that can run *operation*: every one but the bare view for tools/list."""
    return tuple(variant for variant in variants if variant != "bare" or OPERATIONS[operation][1] in BARE_TOOLS)


def ranked_by_relevance(operation):
    """Whether MCP orders the rows of *operation* by relevance (a text query without ordering).

    The bare view does not rank, so its page may hold other rows; every other operation must return
    the same rows in the same order from every variant.
    """
    arguments = OPERATIONS[operation][2] or {}
    return bool(arguments.get("query")) and not arguments.get("ordering")


def spec_for(server, variant, operation, key, *, sessions=(), id_range=(1, 1)):
    """Return (url, spec lines) of one case for post.lua."""
    lines = [f"H Authorization: Bearer {key}", "H Content-Type: application/json", f"C {id_range[0]} {id_range[1]}"]
    if variant in ("bare", "plain"):
        return server.base + view_path(variant, operation), lines + [f"B {plain_body(operation)}"]
    lines += ["H Accept: application/json, text/event-stream", 'E "isError":true', 'E "error":{']
    method, tool, _ = OPERATIONS[operation]
    if variant == "mcp-2026":
        lines += [f"H MCP-Protocol-Version: {MODERN}", f"H Mcp-Method: {method}"]
        if tool:
            lines.append(f"H Mcp-Name: {tool}")
        lines.append(f"B {mcp_body(operation, MODERN)}")
    else:
        lines.append(f"H MCP-Protocol-Version: {LEGACY}")
        lines.append(f"B {mcp_body(operation, LEGACY)}")
        lines += [f"S {sid}" for sid in sessions]
    return server.mcp, lines


def parse_mcp_response(response):
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[-1] if data else ""
    return json.loads(text) if text else None


def headers_for(key, era=None, method=None, name=None, session=None):
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    if era:
        headers["MCP-Protocol-Version"] = era
    if method and era == MODERN:
        headers["Mcp-Method"] = method
        if name:
            headers["Mcp-Name"] = name
    if session:
        headers["Mcp-Session-Id"] = session
    return headers


def open_session(client, server, key):
    """A 2025-11-25 session: initialize, then notifications/initialized; return its id."""
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
    }
    response = client.post(server.mcp, json=init, headers=headers_for(key))
    response.raise_for_status()
    session = response.headers["mcp-session-id"]
    client.post(
        server.mcp,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers=headers_for(key, LEGACY, session=session),
    ).raise_for_status()
    return session


def check_case(client, server, variant, operation, key, *, session=None, customer_id):
    """Make one request of the case and verify the answer; return the ids (tool names) it returned."""
    method, tool, _ = OPERATIONS[operation]
    if variant in ("bare", "plain"):
        body = plain_body(operation).replace("__CID__", str(customer_id))
        response = client.post(server.base + view_path(variant, operation), content=body, headers=headers_for(key))
        if response.status_code != 200:
            raise RuntimeError(f"{variant} {operation}: HTTP {response.status_code}: {response.text[:300]}")
        data = response.json()
    else:
        era = MODERN if variant == "mcp-2026" else LEGACY
        body = mcp_body(operation, era).replace("__CID__", str(customer_id)).replace("__ID__", "7")
        response = client.post(server.mcp, content=body, headers=headers_for(key, era, method, tool, session))
        message = parse_mcp_response(response) if response.status_code == 200 else None
        if not message or "result" not in message:
            raise RuntimeError(f"{variant} {operation}: HTTP {response.status_code}: {response.text[:300]}")
        result = message["result"]
        if result.get("isError"):
            raise RuntimeError(f"{variant} {operation}: tool error: {result['content'][0]['text'][:300]}")
        data = result.get("structuredContent", result)
    if operation == "get_customer":
        if data.get("id") != customer_id:
            raise RuntimeError(f"{variant} get_customer returned {data!r:.200}")
        return [data["id"]]
    if operation == "tools_list":
        return [tool["name"] for tool in data["tools"]]
    if not data["items"]:
        raise RuntimeError(f"{variant} {operation} found nothing; the data set is not what the bench expects")
    return [item["id"] for item in data["items"]]


def check_same_rows(operation, answers):
    """Fail unless every variant returned the bare view's rows (ids in order) for *operation*."""
    if "bare" not in answers or ranked_by_relevance(operation):
        return
    for variant, ids in answers.items():
        if ids != answers["bare"]:
            raise RuntimeError(
                f"{operation}: {VARIANT_TITLES[variant]} returned ids {ids} but the bare view {answers['bare']}; "
                "the cases do not do the same work"
            )


# -- phases ----------------------------------------------------------------------------------------
def main_matrix(
    bench,
    server_a,
    server_b,
    key,
    id_range,
    connections,
    duration,
    warmup,
    size_label,
    operations=None,
    variants=VARIANTS,
    repeat=None,
    credentials=None,
):
    """Measure every operation x variant x connection count; return one row per case and count.

    *credentials* ({name: bearer token}, default {"api_key": *key*}) are what every variant but the bare
    view (which takes none) is measured with, each as a case of its own, rotated with the others; rows
    name theirs in "credential" (None for the bare view). A token bound to one server (an OAuth token's
    resource) is given as {server base URL: token}.
    """
    import httpx2

    rows = []
    operations = operations or list(OPERATIONS)
    credentials = credentials or {"api_key": key}
    with httpx2.Client(timeout=30) as client:
        # A 2025-era session is bound to the credential that opened it.
        sessions = {
            name: [open_session(client, server_a, credential_at(token, server_a)) for _ in range(max(connections))]
            if "mcp-2025-session" in variants
            else []
            for name, token in credentials.items()
        }
        for operation in operations:
            cases = [
                (variant, None if variant == "bare" else name)
                for variant in variants_of(operation, variants)
                for name in ([None] if variant == "bare" else credentials)
            ]
            answers = {}
            for variant, name in cases:
                server = server_b if variant == "mcp-2025-json" else server_a
                token = credential_at(credentials[name], server) if name else key
                case_sessions = sessions[name] if name and variant == "mcp-2025-session" else []
                answers[variant, name] = check_case(
                    client,
                    server,
                    variant,
                    operation,
                    token,
                    session=case_sessions[0] if case_sessions else None,
                    customer_id=id_range[0] + 1,
                )
                if warmup:
                    url, spec = spec_for(server, variant, operation, token, sessions=case_sessions, id_range=id_range)
                    bench.wrk_run(url, spec, max(connections), warmup, pid=server.pid)
            for name in credentials:
                check_same_rows(operation, {v: ids for (v, n), ids in answers.items() if n in (name, None)})
            for level, conns in enumerate(connections):
                samples = {case: [] for case in cases}
                for round_ in range(repeat or bench.repeat):
                    # Rotate the order, so no case always follows the heaviest run.
                    shift = (level + round_) % len(cases)
                    for variant, name in cases[shift:] + cases[:shift]:
                        server = server_b if variant == "mcp-2025-json" else server_a
                        token = credential_at(credentials[name], server) if name else key
                        case_sessions = sessions[name] if name and variant == "mcp-2025-session" else []
                        url, spec = spec_for(
                            server, variant, operation, token, sessions=case_sessions, id_range=id_range
                        )
                        samples[variant, name].append(bench.wrk_run(url, spec, conns, duration, pid=server.pid))
                for variant, name in cases:
                    result = _median_result(samples[variant, name])
                    rows.append(
                        {
                            "size": size_label,
                            "operation": operation,
                            "variant": variant,
                            "credential": name,
                            "connections": conns,
                            "returned": len(answers[variant, name]),
                            **result,
                        }
                    )
                    label = variant if len(credentials) == 1 or name is None else f"{variant} {name}"
                    log(
                        f"{size_label:>9} {operation:18} {label:24} c={conns:<3} {result['rps']:8.1f} req/s  "
                        f"p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms  "
                        f"CPU {result['cpu_us']:7.1f} µs/call  errors {result['errors']}"
                        + (f"  (median of {len(samples[variant, name])})" if len(samples[variant, name]) > 1 else "")
                    )
    return rows


def credential_at(credential, server):
    """The bearer token of *credential* for *server*: the token itself, or the one of {base URL: token}."""
    return credential[server.base] if isinstance(credential, dict) else credential


def _median_result(samples):
    """One result from repeated runs: the median of each figure (requests and errors summed)."""
    if len(samples) == 1:
        return samples[0]
    merged = {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}
    merged["requests"] = sum(sample["requests"] for sample in samples)
    merged["errors"] = sum(sample["errors"] for sample in samples)
    merged["runs"] = [
        {"rps": sample["rps"], "p50_ms": sample["p50_ms"], "cpu_us": sample["cpu_us"]} for sample in samples
    ]
    return merged


def tools_list_scaling(bench, database, key, id_range, points, duration):
    """tools/list (2026-07-28) as exposed models grow; server time per call; SQL per get_customer call."""
    import httpx2

    rows, queries = [], None
    for models in points:
        proxies = models - DEMO_MODELS
        bench.prepare(database, bench.args.customers, keys="", proxies=proxies)
        with (
            bench.server(database, BENCH_PROXY_MODELS=proxies, BENCH_SERVER_TIMING=1, BENCH_COUNT_QUERIES=1) as server,
            httpx2.Client(timeout=30) as client,
        ):
            visible = len(check_case(client, server, "mcp-2026", "tools_list", key, customer_id=id_range[0] + 1))
            url, spec = spec_for(server, "mcp-2026", "tools_list", key, id_range=id_range)
            if not bench.smoke:
                bench.wrk_run(url, spec, 1, 1, pid=server.pid)  # warm-up
            client.get(server.base + "/bench/timings?reset=1")
            one = bench.wrk_run(url, spec, 1, duration, pid=server.pid)
            timings = client.get(server.base + "/bench/timings").json().get("tools/list", [])
            sixteen = bench.wrk_run(url, spec, 16, duration, pid=server.pid)
            server_ms = statistics.median(timings) / 1000 if timings else None
            server_p99 = sorted(timings)[int(len(timings) * 0.99) - 1] / 1000 if timings else None
            row = {
                "exposed_models": models,
                "registered_tools": None,
                "visible_tools": visible,
                "server_p50_ms": round(server_ms, 3) if server_ms else None,
                "server_p99_ms": round(server_p99, 3) if server_p99 else None,
                "p50_ms_1c": one["p50_ms"],
                "rps_1c": one["rps"],
                "rps_16c": sixteen["rps"],
                "p99_ms_16c": sixteen["p99_ms"],
            }
            rows.append(row)
            log(
                f"tools/list with {models} exposed models: {visible} visible tools, server p50 {row['server_p50_ms']} ms, "
                f"{sixteen['rps']} req/s at 16 connections"
            )
            if queries is None:
                queries = count_queries(bench, client, server, key, id_range)
    return rows, queries


def count_queries(bench, client, server, key, id_range):
    """Steady-state SQL statements per call (Django's query log on the server, bench/querycount.py)."""
    counts = {}
    cases = [
        ("mcp-2026", "get_customer"),
        ("plain", "get_customer"),
        ("mcp-2026", "search_filters"),
        ("mcp-2026", "tools_list"),
        ("mcp-2025-session", "get_customer"),
    ]
    session = open_session(client, server, key)
    for variant, operation in cases:
        for i in range(25):
            check_case(
                client,
                server,
                variant,
                operation,
                key,
                session=session if variant == "mcp-2025-session" else None,
                customer_id=id_range[0] + 1 + i,
            )
        recent = client.get(server.base + "/bench/queries?last=20").json()["requests"]
        per_call = [len(r["sql"]) for r in recent]
        counts[f"{variant} {operation}"] = {
            "statements_per_call_max": max(per_call),
            "statements_per_call_min": min(per_call),
            "sql": recent[-1]["sql"],
        }
        log(f"SQL statements per call, {variant} {operation}: {min(per_call)}..{max(per_call)}")
    return counts


def memory_phase(bench, database, key, id_range, calls, sessions_count):
    import httpx2

    with bench.server(database) as server, httpx2.Client(timeout=60) as client:
        check_case(client, server, "mcp-2026", "get_customer", key, customer_id=id_range[0] + 1)
        start = rss_kb(server.pid)
        mixed = ["get_customer", "search_text", "search_filters", "search_first_page", "tools_list"]
        url = server.mcp
        spec = [
            f"H Authorization: Bearer {key}",
            "H Content-Type: application/json",
            f"C {id_range[0]} {id_range[1]}",
            "H Accept: application/json, text/event-stream",
            f"H MCP-Protocol-Version: {MODERN}",
            'E "isError":true',
            'E "error":{',
        ]
        # Mcp-Method/Mcp-Name must match the body, so batches rotate through the operations; wrk runs
        # for whole seconds, so the marks are taken at the first batch boundary past each target.
        marks = {}
        timeline = []
        done = batch = 0
        for half, target in ((0.5, calls // 4), (1, calls // 2), (1.5, 3 * calls // 4), (2, calls)):
            while done < target:
                operation = mixed[batch % len(mixed)]
                batch += 1
                method, tool, _ = OPERATIONS[operation]
                lines = (
                    spec
                    + [f"H Mcp-Method: {method}"]
                    + ([f"H Mcp-Name: {tool}"] if tool else [])
                    + [f"B {mcp_body(operation, MODERN)}"]
                )
                result = bench.wrk_run(url, lines, 8, 1 if calls < 5000 else 2, pid=server.pid)
                done += result["requests"]
            marks[half] = (done, rss_kb(server.pid))
            timeline.append({"calls": done, "rss_mb": round(marks[half][1] / 1024, 1)})
            log(f"RSS after {done} calls: {marks[half][1] / 1024:.1f} MB")
        sessions = [open_session(client, server, key) for _ in range(sessions_count)]
        with_sessions = rss_kb(server.pid)
        log(f"RSS with {len(sessions)} open 2025-era sessions: {with_sessions / 1024:.1f} MB")
        for session in sessions:
            client.delete(server.mcp, headers=headers_for(key, LEGACY, session=session))
        return {
            "rss_start_mb": round(start / 1024, 1),
            "calls_first": marks[1][0],
            "rss_first_mb": round(marks[1][1] / 1024, 1),
            "calls_second": marks[2][0],
            "rss_second_mb": round(marks[2][1] / 1024, 1),
            "growth_kb": marks[2][1] - marks[1][1],
            "timeline": timeline,
            "sessions": len(sessions),
            "rss_sessions_mb": round(with_sessions / 1024, 1),
            "per_session_kb": round((with_sessions - marks[2][1]) / max(len(sessions), 1), 1),
        }


def stdio_phase(bench, database, runs):
    """Seconds from starting `manage.py runmcp` to its first response (initialize), and to tools/list."""
    first, listed = [], []
    env = bench.django_env(database)
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
    }
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(
            [PYTHON, "manage.py", "runmcp", "--user", "support_agent"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            process.stdin.write((json.dumps(initialize) + "\n").encode())
            process.stdin.flush()
            line = process.stdout.readline()
            first.append(time.perf_counter() - started)
            if not json.loads(line).get("result"):
                raise RuntimeError(f"runmcp answered {line[:300]!r}")
            process.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
            process.stdin.write(b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n')
            process.stdin.flush()
            line = process.stdout.readline()
            listed.append(time.perf_counter() - started)
            if not json.loads(line).get("result", {}).get("tools"):
                raise RuntimeError(f"runmcp tools/list answered {line[:300]!r}")
        finally:
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    result = {
        "runs": runs,
        "first_response_s": round(statistics.median(first), 3),
        "tools_list_s": round(statistics.median(listed), 3),
        "all_first_response_s": [round(x, 3) for x in first],
    }
    log(f"runmcp: first response after {result['first_response_s']} s (median of {runs})")
    return result


# -- report ----------------------------------------------------------------------------------------
def ratio_table(rows):
    """{(size, operation, connections): {variant: row}}"""
    table = {}
    for row in rows:
        table.setdefault((row["size"], row["operation"], row["connections"]), {})[row["variant"]] = row
    return table


def evaluate_targets(results):
    checks = []
    table = ratio_table(results["throughput"])
    main = results["config"]["size_label"]
    conns = results["config"]["connections"]
    reads = {
        key: cell for key, cell in table.items() if key[0] == main and key[1] in TARGET_OPERATIONS and "bare" in cell
    }
    for variant, target in TARGET_RATIOS.items():
        ratios = [
            (
                cell[variant]["rps"] / cell["bare"]["rps"],
                operation,
                connections,
                cell[variant]["rps"],
                cell["bare"]["rps"],
            )
            for (_, operation, connections), cell in reads.items()
            if variant in cell
        ]
        if ratios:
            worst = min(ratios)
            checks.append(
                {
                    "target": f"{VARIANT_TITLES[variant]} >= {target}x bare view ({', '.join(TARGET_OPERATIONS)}; {'/'.join(map(str, conns))} connections)",
                    "measured": f"worst {worst[0]:.3f}x ({worst[1]}, {worst[2]} connections: {worst[3]:.1f} vs {worst[4]:.1f} req/s)",
                    "met": worst[0] >= target,
                }
            )
    fewest = min(conns)
    deltas = [
        (cell["mcp-2026"]["p50_ms"] - cell["bare"]["p50_ms"], operation)
        for (_, operation, connections), cell in reads.items()
        if connections == fewest and "mcp-2026" in cell
    ]
    if deltas:
        worst = max(deltas)
        checks.append(
            {
                "target": f"MCP 2026-07-28 p50 at {fewest} connection(s) within 0.2 ms of the bare view's",
                "measured": f"worst {worst[0]:+.3f} ms ({worst[1]})",
                "met": worst[0] <= 0.2,
            }
        )
    for variant in MCP_VARIANTS:
        cpu = [
            (
                cell[variant]["cpu_us"] - cell["bare"]["cpu_us"],
                connections,
                cell[variant]["cpu_us"],
                cell["bare"]["cpu_us"],
            )
            for (_, operation, connections), cell in reads.items()
            if operation == "get_customer" and variant in cell
        ]
        if cpu:
            worst = max(cpu)
            checks.append(
                {
                    "target": f"{VARIANT_TITLES[variant]}: server CPU per get_customer call <= the bare view's",
                    "measured": f"worst {worst[2]:.0f} vs {worst[3]:.0f} µs ({worst[1]} connections)",
                    "met": worst[0] <= 0,
                }
            )
    queries = results["queries"].get("mcp-2026 get_customer")
    if queries:
        checks.append(
            {
                "target": "steady-state get_customer: at most 2 SQL statements",
                "measured": f"{queries['statements_per_call_max']}",
                "met": queries["statements_per_call_max"] <= 2,
            }
        )
    for row in results["tools_list_scaling"]:
        if row["visible_tools"] == 30:
            checks.append(
                {
                    "target": "tools/list for a user with 30 visible tools < 2 ms server time",
                    "measured": f"{row['server_p50_ms']} ms (p50)",
                    "met": row["server_p50_ms"] < 2,
                }
            )
    memory = results["memory"]
    if memory:
        checks.append(
            {
                "target": f"one worker < 100 MB RSS after {memory['calls_second']} calls",
                "measured": f"{memory['rss_second_mb']} MB",
                "met": memory["rss_second_mb"] < 100,
            }
        )
        checks.append(
            {
                "target": f"no RSS growth between call {memory['calls_first']} and {memory['calls_second']}",
                "measured": f"{memory['growth_kb']:+d} KB",
                "met": memory["growth_kb"] <= 1024,
            }
        )
    if results["stdio"]:
        checks.append(
            {
                "target": "runmcp first response within 1.5 s",
                "measured": f"{results['stdio']['first_response_s']} s",
                "met": results["stdio"]["first_response_s"] <= 1.5,
            }
        )
    if results["reports"]:
        from bench import reports

        checks += reports.targets(results["reports"])
    return checks


def markdown(results):
    out = []
    m = results["machine"]
    out.append(
        f"Run: {results['date']} ({results['mode']} mode); {m.get('cpu', '?')}, nproc {m.get('nproc')}, "
        f"{m.get('ram_gb', '?')} GB RAM, Python {m.get('python')}; load average at start {' '.join(m.get('loadavg', []))}."
    )
    cfg = results["config"]
    out.append(
        f"Data: {cfg.get('customers')} customers, {cfg.get('orders')} orders on {cfg.get('database')}, "
        f"{cfg.get('cache')} cache; uvicorn with {cfg.get('loop')} and {cfg.get('http')}; "
        f"{cfg.get('duration')} s per point (median of {cfg.get('repeat', 1)} runs in rotating order in the main table); server pinned to core {cfg.get('server_core')}, wrk to core {cfg.get('wrk_core')}. "
        "Server CPU: user + system time of the server process per completed call."
    )
    if results["throughput"]:
        out.append("")
        out.append(
            "| operation | conns | variant | req/s | x bare | x same-work | p50 ms | p99 ms | server CPU µs/call |"
        )
        out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for (size, operation, connections), cell in ratio_table(results["throughput"]).items():
        if size != cfg["size_label"]:
            continue
        for variant in VARIANTS:
            row = cell.get(variant)
            if not row:
                continue
            ratios = [
                f"{row['rps'] / cell[reference]['rps']:.2f}x" if reference in cell and reference != variant else "–"
                for reference in ("bare", "plain")
            ]
            out.append(
                f"| {OPERATION_TITLES[operation]} | {connections} | {VARIANT_TITLES[variant]} | {row['rps']:.0f} | "
                f"{ratios[0]} | {ratios[1]} | {row['p50_ms']:.2f} | {row['p99_ms']:.1f} | {row['cpu_us']:.0f} |"
            )
    if results["scaling"]:
        out.append("")
        out.append(
            "| customers | operation | conns | bare req/s | 2026 req/s | 2026 p50 ms | 2026 p99 ms | "
            "server CPU µs/call bare / 2026 |"
        )
        out.append("|---:|---|---:|---:|---:|---:|---:|---|")
        for (size, operation, connections), cell in ratio_table(results["scaling"]).items():
            mcp = cell.get("mcp-2026", {})
            bare = cell.get("bare", {})
            out.append(
                f"| {size} | {OPERATION_TITLES[operation]} | {connections} | {bare.get('rps', 0):.0f} | "
                f"{mcp.get('rps', 0):.0f} | {mcp.get('p50_ms', 0):.2f} | {mcp.get('p99_ms', 0):.2f} | "
                f"{bare.get('cpu_us', 0):.0f} / {mcp.get('cpu_us', 0):.0f} |"
            )
    if results["tools_list_scaling"]:
        out.append("")
        out.append(
            "| exposed models | visible tools | server time p50 / p99 ms | p50 ms (1 conn) | req/s (1 conn) | req/s (16 conns) |"
        )
        out.append("|---:|---:|---|---:|---:|---:|")
        for row in results["tools_list_scaling"]:
            out.append(
                f"| {row['exposed_models']} | {row['visible_tools']} | {row['server_p50_ms']} / {row['server_p99_ms']} | "
                f"{row['p50_ms_1c']} | {row['rps_1c']:.0f} | {row['rps_16c']:.0f} |"
            )
    if results["queries"]:
        out.append("")
        out.append("| call | SQL statements per call | statements (last call) |")
        out.append("|---|---:|---|")
        for name, q in results["queries"].items():
            sql = "; ".join(re.sub(r"\s+", " ", s)[:90] + ("…" if len(s) > 90 else "") for s in q["sql"])
            out.append(f"| {name} | {q['statements_per_call_max']} | {sql.replace('|', '/')} |")
    memory = results["memory"]
    if memory:
        timeline = ", ".join(f"{t['calls']}: {t['rss_mb']} MB" for t in memory.get("timeline", []))
        out.append("")
        out.append(
            f"Memory (one worker): {memory['rss_start_mb']} MB after start-up, {memory['rss_first_mb']} MB after "
            f"{memory['calls_first']} calls, {memory['rss_second_mb']} MB after {memory['calls_second']} calls "
            f"({memory['growth_kb']:+d} KB; RSS by calls: {timeline}), "
            f"{memory['rss_sessions_mb']} MB with {memory['sessions']} open 2025-era "
            f"sessions (~{memory['per_session_kb']} KB each)."
        )
    if results["stdio"]:
        s = results["stdio"]
        out.append(
            f"stdio: `runmcp` first response (initialize) after {s['first_response_s']} s, tools/list answered after "
            f"{s['tools_list_s']} s (median of {s['runs']})."
        )
    if results["reports"]:
        from bench import reports

        out += reports.markdown(results["reports"])
    if results.get("oauth"):
        from bench import oauth

        out += oauth.markdown(results["oauth"])
    if results.get("targets"):
        out.append("")
        out.append("| target | measured | met |")
        out.append("|---|---|---|")
        for check in results["targets"]:
            out.append(f"| {check['target']} | {check['measured']} | {'yes' if check['met'] else '**no**'} |")
    return "\n".join(out)


# -- main ------------------------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny data, 1 s per case: checks that every part works")
    parser.add_argument(
        "--database-url",
        help=f"PostgreSQL URL of the main bench database (default {DEFAULT_DATABASE_URL}; "
        "in --smoke mode: DATABASE_URL's server with a _bench_smoke database, else SQLite)",
    )
    parser.add_argument("--customers", type=int, help="customers in the main data set (default 100000; smoke 200)")
    parser.add_argument("--orders-per-customer", type=int, default=3)
    parser.add_argument("--duration", type=int, help="seconds per measurement (default 6; smoke 1)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="measure each point of the main table this many times, in rotating order, and report "
        "the medians (default 2; smoke 1)",
    )
    parser.add_argument("--connections", help="comma-separated connection counts (default 1,16,64; smoke 1,4)")
    parser.add_argument("--operations", help=f"comma-separated subset of {','.join(OPERATIONS)}")
    parser.add_argument(
        "--variants", help=f"comma-separated subset of {','.join(VARIANTS)} for the main table (default: all)"
    )
    parser.add_argument(
        "--sizes",
        help="comma-separated customer counts for the scaling phase (default 10000,1000000; "
        "the main size is always included)",
    )
    parser.add_argument("--models", help="exposed-model counts for tools/list scaling (default 5,15,50)")
    parser.add_argument(
        "--skip", default="", help="comma-separated phases to skip: matrix,scaling,tools,memory,stdio,reports,oauth"
    )
    parser.add_argument(
        "--oauth-samples",
        type=int,
        help="fresh credentials of each kind whose first call the OAuth phase times (default 20; smoke 3)",
    )
    parser.add_argument("--reseed", action="store_true", help="reseed even when the database already has the data")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and wrk to cores")
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default="uvloop", help="uvicorn's event loop (default uvloop)"
    )
    parser.add_argument(
        "--http", choices=("httptools", "h11"), default="httptools", help="uvicorn's HTTP parser (default httptools)"
    )
    parser.add_argument(
        "--cache",
        choices=("auto", "redis", "file"),
        default="auto",
        help="Django cache of the servers: Redis as in production (auto: when reachable; never in "
        "--smoke) or the demo's file cache",
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/11", help="Redis for --cache (its DB is flushed)"
    )
    parser.add_argument(
        "--broker-url",
        default="redis://127.0.0.1:6379/10",
        help="Celery broker of the reports phase, besides the embedded one (its DB is flushed; --smoke: "
        "the embedded broker only)",
    )
    parser.add_argument(
        "--report-arguments",
        type=json.loads,
        default=None,
        help="the reports phase's churn_risk_report arguments as JSON (default {}: as an agent calls it; "
        "'{\"min_score\": 60}': the same scoring, listing only high-risk customers)",
    )
    parser.add_argument(
        "--report-workers",
        default="pinned,unpinned",
        help="where the reports phase runs its worker, in turn: pinned (to wrk's core), unpinned, pinned-nice "
        "(pinned, at nice 19); the first one also for the latencies and the target (default pinned,unpinned)",
    )
    parser.add_argument("--output", help="JSON results file (default var/bench/results-<date>.json; smoke: none)")
    parser.add_argument("--markdown", help="also write the Markdown report to this file")
    return parser.parse_args(argv)


def main(argv=None):
    from bench import reports  # it imports helpers from bench.run, so not at the top of this module

    args = parse_args(argv)
    smoke = args.smoke
    args.customers = args.customers or (200 if smoke else 100_000)
    duration = args.duration or (1 if smoke else 6)
    warmup = 0 if smoke else 2
    connections = [int(c) for c in (args.connections or ("4" if smoke else "1,16,64")).split(",")]
    operations = chosen(args.operations, OPERATIONS, "--operations")
    variants = chosen(args.variants, VARIANTS, "--variants")
    skip = set(filter(None, args.skip.split(",")))
    report_workers = chosen(args.report_workers, reports.PLACEMENTS, "--report-workers", keep_order=True)
    bench = Bench(args)
    if args.database_url:
        main_db = Database(url=args.database_url)
    elif smoke:
        test_url = os.environ.get("DATABASE_URL")
        if test_url:
            parts = urlsplit(test_url)
            # Unique per run: several test runs may share one PostgreSQL server and DATABASE_URL.
            main_db = Database(
                url=urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_bench_smoke_{os.getpid()}"))
            )
        else:
            main_db = Database(sqlite_path=bench.var_dir / "bench.sqlite3")
    else:
        main_db = Database(url=DEFAULT_DATABASE_URL)
    size_label = f"{args.customers:,}"
    results = bench.results
    results["config"] = {
        "database": "PostgreSQL" if main_db.url else "SQLite",
        "customers": args.customers,
        "repeat": bench.repeat,
        "cache": "Redis" if bench.redis_url else "file",
        "duration": duration,
        "connections": connections,
        "variants": list(variants),
        "loop": args.loop,
        "http": args.http,
        "size_label": size_label,
        "server_core": bench.cores[0] if bench.cores else None,
        "wrk_core": bench.cores[1] if bench.cores else None,
    }
    started = time.monotonic()
    try:
        info = bench.prepare(main_db, args.customers, fresh=smoke)
        results["config"]["orders"] = info["orders"]
        key = info["keys"]["support_agent"]
        id_range = id_range_of(bench, main_db)
        if "matrix" not in skip:
            with ExitStack() as stack:
                server_a = stack.enter_context(bench.server(main_db))
                server_b = stack.enter_context(bench.server(main_db, MCP_STATELESS_HTTP=1, MCP_JSON_RESPONSE=1))
                results["throughput"] = main_matrix(
                    bench,
                    server_a,
                    server_b,
                    key,
                    id_range,
                    connections,
                    duration,
                    warmup,
                    size_label,
                    operations,
                    variants,
                )
        if "scaling" not in skip:
            sizes = [int(s) for s in (args.sizes or ("" if smoke else "10000,1000000")).split(",") if s]
            scale_conns = connections if smoke else [1, 16]
            scale_ops = [op for op in READ_OPERATIONS if op in operations]
            for size in sorted(set(sizes) | {args.customers}):
                if size == args.customers:
                    rows = [
                        r
                        for r in results["throughput"]
                        if r["operation"] in scale_ops
                        and r["variant"] in SCALING_VARIANTS
                        and r["connections"] in scale_conns
                    ]
                    results["scaling"] += [{**r, "size": f"{size:,}"} for r in rows]
                    continue
                database = main_db.variant(_size_suffix(size))
                size_info = bench.prepare(database, size, keys="support_agent")
                size_range = id_range_of(bench, database)
                with bench.server(database) as server:
                    results["scaling"] += main_matrix(
                        bench,
                        server,
                        server,
                        size_info["keys"]["support_agent"],
                        size_range,
                        scale_conns,
                        duration,
                        warmup,
                        f"{size:,}",
                        scale_ops,
                        SCALING_VARIANTS,
                        repeat=1,
                    )
        if "tools" not in skip:
            points = [int(m) for m in (args.models or ("15" if smoke else "5,15,50")).split(",")]
            results["tools_list_scaling"], results["queries"] = tools_list_scaling(
                bench, main_db, key, id_range, points, duration
            )
        if "memory" not in skip:
            results["memory"] = memory_phase(
                bench, main_db, key, id_range, 200 if smoke else 20_000, 5 if smoke else 500
            )
        if "stdio" not in skip:
            results["stdio"] = stdio_phase(bench, main_db, 1 if smoke else 5)
        if "reports" not in skip:
            results["reports"] = reports.reports_phase(
                bench,
                main_db,
                spec_for_server=lambda server: spec_for(server, "mcp-2026", "get_customer", key, id_range=id_range),
                brokers=report_brokers(args),
                connections=[1] if smoke else [1, 16],
                duration=duration if smoke else max(duration, 10),
                warmup=warmup,
                rounds=1 if smoke else max(bench.repeat, 3),
                samples=3 if smoke else 20,
                arguments=args.report_arguments,
                placements=report_workers,
            )
        if "oauth" not in skip:
            from bench import oauth

            results["oauth"] = oauth.oauth_phase(
                bench,
                main_db,
                key,
                id_range,
                connections=connections,
                duration=duration,
                warmup=warmup,
                operations=[op for op in (oauth.SMOKE_OPERATIONS if smoke else oauth.OPERATIONS) if op in operations],
                variants=[variant for variant in oauth.VARIANTS if variant in variants],
                cold_samples=args.oauth_samples or (3 if smoke else 20),
            )
        results["targets"] = evaluate_targets(results)
    finally:
        if smoke:
            try:
                main_db.drop()
            except Exception as exc:  # a left-over smoke database is harmless
                log(f"could not drop {main_db.label}: {exc}")
        shutil.rmtree(bench.var_dir, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    report = markdown(results)
    print(report)
    output = args.output or (
        None if smoke else str(ROOT / "var" / "bench" / f"results-{results['date'][:19].replace(':', '')}.json")
    )
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(results, indent=2))
        log(f"results written to {output}")
    if args.markdown:
        Path(args.markdown).write_text(report + "\n")
    if smoke:
        print("BENCH_RESULTS_JSON " + json.dumps(results))
    return results


def report_brokers(args):
    """[(label, Celery broker URL)] of the reports phase: Redis when reachable (not in --smoke), and the embedded one.

    Redis gets its own database index, flushed first, so no message of an earlier run is delivered.
    """
    embedded = ("embedded (filesystem)", "filesystem://")
    if args.smoke:
        return [embedded]
    try:
        import redis

        client = redis.Redis.from_url(args.broker_url, socket_connect_timeout=1)
        client.ping()
        client.flushdb()
    except Exception as exc:
        log(f"Redis at {args.broker_url} is not reachable ({exc}); reports run on the embedded broker only")
        return [embedded]
    return [("Redis", args.broker_url), embedded]


def chosen(value, names, option, keep_order=False):
    """The names listed in *value* (comma-separated), in their canonical order or as listed; all *names* if empty."""
    if not value:
        return tuple(names)
    wanted = value.split(",")
    unknown = set(wanted) - set(names)
    if unknown:
        sys.exit(f"bench: unknown {option} {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
    return tuple(dict.fromkeys(wanted)) if keep_order else tuple(name for name in names if name in wanted)


def _size_suffix(size):
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k" if size % 1000 == 0 else str(size)


def id_range_of(bench, database):
    """(first customer id, count) of the seeded customers, for spreading get_customer over the data."""
    code = (
        "from customers.models import Customer; from django.db.models import Min, Count; "
        "r = Customer.objects.aggregate(a=Min('id'), n=Count('id')); print(r['a'], r['n'])"
    )
    output = bench.manage(database, "shell", "-c", code)
    first, count = output.split()[-2:]
    return int(first), int(count)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    # Stop cleanly on SIGTERM too: the finally blocks stop the servers and remove the temp files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
