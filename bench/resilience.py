#!/usr/bin/env python
"""200 concurrent MCP callers through a real PostgreSQL restart: no -32603, no call over its budget.

    .venv/bin/python bench/resilience.py [--callers 200] [--calls 5] [--restart-after 3]

Seeds a PostgreSQL database (`mcpb_resilience`, 5,000 customers), serves the demo with uvicorn on
PostgreSQL (Django's connection pool) and Redis, and drives `search_customers` over 2026-07-28 from
many concurrent callers. While they run, PostgreSQL is restarted (`pg_ctlcluster ... restart`, so
this needs root on a Debian-style machine, and stops every other user of that server for a few
seconds: not for CI). Every answer is classified: `ok`, a retryable failure (isError "busy", JSON-RPC
-32003 with retryAfter, HTTP 503 with Retry-After) or `unexpected` (anything else, -32603 included).
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mcpb_resilience"
REDIS_URL = "redis://127.0.0.1:6379/14"
MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "resilience", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
BUSY_TEXT = "The server is busy; retry in a few seconds. Nothing was changed."
SERVER_BUSY = -32003
#: No call may take longer: the database budget (10 s) plus the pool's wait (10 s) plus slack.
CALL_BUDGET_SECONDS = 25


def manage(*args, env):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE)


def prepare(env):
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "mcpb_resilience"], capture_output=True)
    manage("migrate", "--verbosity", "0", env=env)
    manage("seed_demo", "--customers", "5000", env=env)
    key = subprocess.run(
        [sys.executable, "manage.py", "mcp_apikey", "create", "--user", "support_agent"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return key


def classify(response):
    """'ok', or the kind of retryable failure; anything else is returned as 'unexpected: ...'."""
    if response.status_code == 503 and response.headers.get("retry-after"):
        return "503 retry-after"
    try:
        message = json.loads(response.text)
    except ValueError:
        return f"unexpected: HTTP {response.status_code} {response.text[:120]!r}"
    if "error" in message:
        error = message["error"]
        if error.get("code") == SERVER_BUSY and "retryAfter" in (error.get("data") or {}):
            return "-32003 busy"
        return f"unexpected: JSON-RPC {error.get('code')} {error.get('message', '')[:120]!r}"
    result = message.get("result", {})
    if not result.get("isError"):
        return "ok"
    text = result["content"][0]["text"]
    return "isError busy" if BUSY_TEXT in text else f"unexpected: isError {text[:120]!r}"


async def call_concurrently(base_url, key, callers, calls, during=None):
    """*callers* concurrent callers each make *calls* search_customers calls over 2026-07-28 while the
    coroutine *during* (if any) runs; return ({outcome: count}, [latency in s], seconds taken)."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "search_customers",
    }
    outcomes, latencies = {}, []
    # No keep-alive: a connection the server closes as idle while a call reuses it is no server failure.
    limits = httpx2.Limits(max_connections=callers, max_keepalive_connections=0)
    async with httpx2.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:

        async def caller(number):
            for call in range(calls):
                body = {
                    "jsonrpc": "2.0",
                    "id": number * 1000 + call,
                    "method": "tools/call",
                    "params": {"name": "search_customers", "arguments": {"query": "a", "page_size": 5}, "_meta": META},
                }
                started = time.monotonic()
                try:
                    kind = classify(await http.post("/mcp", json=body, headers=headers))
                except httpx2.TransportError as exc:
                    kind = f"unexpected: {type(exc).__name__} {exc}"
                latencies.append(time.monotonic() - started)
                outcomes[kind] = outcomes.get(kind, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(caller(number) for number in range(callers)), *([during] if during else []))
    return outcomes, latencies, time.monotonic() - started


async def restart_postgresql(after, cluster, marks):
    """Restart the PostgreSQL cluster *after* seconds; record how long the restart took in *marks*."""
    await asyncio.sleep(after)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        "pg_ctlcluster",
        "--skip-systemctl-redirect",
        *cluster,
        "restart",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await process.wait()
    marks["restart_seconds"] = time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument(
        "--calls",
        type=int,
        default=5,
        help="calls per caller (callers x calls stays under the demo's 1200/min credential rate for one key)",
    )
    parser.add_argument("--restart-after", type=float, default=3, help="seconds into the load")
    parser.add_argument(
        "--cluster", nargs=2, default=[sorted(os.listdir("/etc/postgresql"))[-1], "main"], metavar=("VERSION", "NAME")
    )
    args = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "LOG_LEVEL": "WARNING"}
    key = prepare(env)
    from tests.servers import free_port, wait_until_serving

    port = free_port()
    log_path = ROOT / "var" / f"resilience-{port}.log"
    with open(log_path, "w+") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = wait_until_serving(server, port, log)
            marks = {}
            outcomes, latencies, duration = asyncio.run(
                call_concurrently(
                    base_url, key, args.callers, args.calls, restart_postgresql(args.restart_after, args.cluster, marks)
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=15)
    latencies.sort()
    unexpected = sum(count for kind, count in outcomes.items() if kind.startswith("unexpected"))
    report = {
        "calls": sum(outcomes.values()),
        "callers": args.callers,
        "outcomes": outcomes,
        "restart_seconds": round(marks.get("restart_seconds", 0), 2),
        "duration_seconds": round(duration, 1),
        "latency_p50_s": round(latencies[len(latencies) // 2], 3),
        "latency_max_s": round(latencies[-1], 2),
        "unexpected": unexpected,
        "over_budget": sum(1 for value in latencies if value > CALL_BUDGET_SECONDS),
        "server_log": str(log_path),
    }
    print(json.dumps(report, indent=2))
    return 1 if report["unexpected"] or report["over_budget"] else 0


if __name__ == "__main__":
    sys.exit(main())
