#!/usr/bin/env python
"""Profile one benchmark case with py-spy: `bench/profile.py <operation> <variant> [seconds] [connections]`.

For example `bench/profile.py search_ana bare`, or `bench/profile.py get_customer mcp-2026 --credential oauth`
to call with an OAuth access token (bench/oauth.py) instead of the API key; `--database-url` names another
bench database. Operations and variants are those of bench/run.py
(variants: bare, plain, mcp-2026, mcp-2025-session, mcp-2025-json). Starts a server on the main
bench database (as bench/run.py does), drives the case with wrk at 16 connections and records the
worker with py-spy (installed with pip if missing); writes a flame graph SVG and a top-functions
text summary under var/bench/.
"""

import argparse
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("operation", choices=run.OPERATIONS)
    parser.add_argument("variant", choices=run.VARIANTS)
    parser.add_argument("seconds", type=int, nargs="?", default=10)
    parser.add_argument("connections", type=int, nargs="?", default=16)
    parser.add_argument("--credential", choices=("api_key", "oauth"), default="api_key")
    parser.add_argument("--database-url", default=run.DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", help="Redis for the server's cache (its DB is flushed; default: bench/run.py's)")
    args = parser.parse_args()
    if args.variant not in run.variants_of(args.operation, run.VARIANTS):
        parser.error("tools_list has no bare view")
    if args.credential == "oauth" and args.variant in ("bare", "plain"):
        parser.error("--credential oauth profiles an MCP variant")
    return args


def main():
    options = parse_args()
    operation, variant = options.operation, options.variant
    seconds, connections = options.seconds, options.connections
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    args = run.parse_args(
        ["--database-url", options.database_url] + (["--redis-url", options.redis_url] if options.redis_url else [])
    )
    args.customers = 100_000
    bench = run.Bench(args)
    database = run.Database(url=options.database_url)
    key = bench.prepare(database, args.customers, keys="support_agent")["keys"]["support_agent"]
    id_range = run.id_range_of(bench, database)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    env = {"MCP_STATELESS_HTTP": 1, "MCP_JSON_RESPONSE": 1} if variant == "mcp-2025-json" else {}
    import httpx2

    with bench.server(database, **env) as server, httpx2.Client() as client:
        if options.credential == "oauth":
            from bench import oauth

            key = oauth.issue_credentials(bench, database, server)["oauth"][0]
        sessions = (
            [run.open_session(client, server, key) for _ in range(connections)] if variant == "mcp-2025-session" else []
        )
        url, spec = run.spec_for(server, variant, operation, key, sessions=sessions, id_range=id_range)
        bench.wrk_run(url, spec, connections, 2, pid=server.pid)
        stem = out / (f"profile-{operation}-{variant}" + ("-oauth" if options.credential == "oauth" else ""))
        load = threading.Thread(
            target=lambda: print(bench.wrk_run(url, spec, connections, seconds + 2, pid=server.pid))
        )
        load.start()
        subprocess.run(
            [
                py_spy,
                "record",
                "-p",
                str(server.pid),
                "-d",
                str(seconds),
                "-r",
                "250",
                "-f",
                "raw",
                "-o",
                f"{stem}.txt",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run([py_spy, "record", "-p", str(server.pid), "-d", "1", "-o", f"{stem}.svg"], capture_output=True)
        load.join()
    print(f"raw folded stacks: {stem}.txt")
    summarize(Path(f"{stem}.txt"))


def summarize(path, top=40):
    """Print inclusive sample share per function from folded stacks."""
    inclusive, total = {}, 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        count = int(count)
        total += count
        seen = set()
        for frame in stack.split(";"):
            name = (
                frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
                if " (" in frame
                else frame
            )
            if name not in seen:
                seen.add(name)
                inclusive[name] = inclusive.get(name, 0) + count
    for name, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
