"""The demo's ASGI application, optionally timed (bench only).

With BENCH_SERVER_TIMING=1, every MCP request is timed from the moment the ASGI app receives it to
the moment its response has been handed to the server (server time: no network, no client), keyed
by the Mcp-Method header (2026-07-28 requests carry it). GET /bench/timings returns the durations
recorded since the last GET /bench/timings?reset=1.
"""

import json
import os
import time

from config.asgi import application as demo_application

_timings = {}


async def timed_application(scope, receive, send):
    if scope["type"] != "http":
        return await demo_application(scope, receive, send)
    path = scope["path"]
    if path == "/bench/timings":
        reset = b"reset=1" in scope.get("query_string", b"")
        body = json.dumps({} if reset else _timings).encode()
        if reset:
            _timings.clear()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return None
    if not path.startswith("/mcp"):
        return await demo_application(scope, receive, send)
    method = "?"
    for name, value in scope.get("headers", []):
        if name == b"mcp-method":
            method = value.decode()
    started = time.perf_counter()
    try:
        return await demo_application(scope, receive, send)
    finally:
        _timings.setdefault(method, []).append(round((time.perf_counter() - started) * 1e6))


application = timed_application if os.environ.get("BENCH_SERVER_TIMING") == "1" else demo_application
