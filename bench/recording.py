"""What recording a call costs: the call path (CallRecorder, call_finished, audit queue, metrics) and the writer.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mcpb_bench .venv/bin/python bench/recording.py

Runs in this process on the database the settings name (migrated; the demo's support_agent user is
used, or created). Each round records ROUNDS x 2,000 calls of search_orders with four arguments as the
handlers do, timing this process's CPU (user + system) for the call path, then for the writer's flush()
of the same records into AuditEntry; prints the minimum and median per call over the rounds. The rows
written are deleted afterwards. BENCHMARKS.md, "The audit trail's cost", records the results.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from mcp_bridge import audit, metrics  # noqa: E402
from mcp_bridge.authentication import Principal  # noqa: E402
from mcp_bridge.call_records import CallRecorder  # noqa: E402
from mcp_bridge.models import AuditEntry  # noqa: E402

ROUNDS, CALLS = 7, 2000
ARGUMENTS = {"customer": 42, "status": "paid", "created_after": "2025-01-01", "page_size": 25}


class Request:
    """What the handlers pass to finish(): the caller and the credential it authenticated with."""

    def __init__(self, user):
        self.user = user
        self.auth = Principal(kind="api_key", user_id=user.pk, label="bench key")


class Context:
    """The public attributes of the SDK's request context that CallRecorder reads, as over HTTP."""

    class request:  # noqa: N801
        headers = {"authorization": "Bearer mcpk_abcdefghijkl_" + "x" * 32, "mcp-protocol-version": "2026-07-28"}

    session = None
    protocol_version = "2026-07-28"


def main():
    user, _ = get_user_model().objects.get_or_create(username="support_agent")
    request, ctx = Request(user), Context()
    audit.recorder.pid = os.getpid()  # this process writes by hand: no writer thread competes with the timing
    call_path, writer = [], []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(CALLS):
            CallRecorder(ctx, "tool", "search_orders", ARGUMENTS).finish("ok", request=request, rows=25)
        call_path.append((time.process_time() - started) / CALLS)
        started = time.process_time()
        written = audit.recorder.flush()
        writer.append((time.process_time() - started) / max(written, 1))
        if written != CALLS:
            raise SystemExit(f"The writer wrote {written} of {CALLS} records: see the log above.")
    AuditEntry.objects.filter(name="search_orders", credential__startswith="bench key").delete()
    print(f"database: {connection.vendor}; metrics: {'on' if metrics.enabled() else 'off'}; {ROUNDS} x {CALLS} calls")
    for title, values in (("call path", call_path), ("writer", writer)):
        print(f"{title}: min {min(values) * 1e6:.1f} µs, median {statistics.median(values) * 1e6:.1f} µs per call")
    total = min(call_path) + min(writer)
    print(f"total: {total * 1e6:.1f} µs of CPU per call recorded")


if __name__ == "__main__":
    main()
