"""Count the SQL statements of each request (bench only; on when BENCH_COUNT_QUERIES=1).

Every statement on any connection is recorded against the request running in that thread (an MCP
call's unit of work, or a Django view); finished requests are kept in a short ring that
/bench/queries returns, so the runner can report statements per call with their SQL.
"""

import collections
import os
import threading

from django.core import signals
from django.db.backends.signals import connection_created

_local = threading.local()
RECENT = collections.deque(maxlen=2000)
_lock = threading.Lock()


def _wrapper(execute, sql, params, many, context):
    current = getattr(_local, "current", None)
    if current is not None:
        current["sql"].append(sql)
    return execute(sql, params, many, context)


def _on_connection(sender, connection, **kwargs):
    if _wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_wrapper)


def _started(sender, **kwargs):
    scope = kwargs.get("scope") or {}
    _local.current = {"sender": getattr(sender, "__name__", str(sender)), "path": scope.get("path", ""), "sql": []}


def _finished(sender, **kwargs):
    current = getattr(_local, "current", None)
    _local.current = None
    if current is not None and current["path"] != "/bench/queries":
        with _lock:
            RECENT.append(current)


def install():
    if os.environ.get("BENCH_COUNT_QUERIES") != "1":
        return
    connection_created.connect(_on_connection, dispatch_uid="bench.querycount")
    signals.request_started.connect(_started, dispatch_uid="bench.querycount.started")
    signals.request_finished.connect(_finished, dispatch_uid="bench.querycount.finished")
    # Connections opened before this ran (none normally) get the wrapper too.
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        _on_connection(None, connection)


def snapshot(last=None):
    with _lock:
        items = list(RECENT)
    return items[-last:] if last else items
