"""The database time budget of an MCP request: no statement runs longer than DATABASE_TIMEOUT.

A caller controls what the admin's search runs (words, filters, offsets), so one request could
otherwise hold a connection, and the memory of a database backend, for as long as it likes.
`statement_budget()` wraps a request's unit of work with Django's `connection.execute_wrapper()`:

- PostgreSQL: a watchdog thread cancels a statement that has run past the budget, through the
  driver's public cancel (psycopg's `cancel_safe()`, psycopg2's `cancel()`), exactly as psql's
  Ctrl-C does. Nothing is sent to the server while statements finish in time: a `SET
  statement_timeout` before and a `RESET` after every request cost two round trips, as much as
  the request's own query, and the session state they changed would follow a pooled connection to
  its next user. A cancel is sent while the statement's thread is held back from starting another,
  and PostgreSQL ignores a cancel that reaches a connection waiting for its next command, so it
  can stop only the statement that ran too long.
- SQLite: a progress handler (`sqlite3.Connection.set_progress_handler`) interrupts a statement
  that has run longer than the budget; it is removed at the end of the unit.
- Other backends: no budget (the setting is ignored).

A statement over the budget raises `StatementTimeout`.

A tool call's own time budget (mcp_bridge.time_budget) shortens it further: inside
`call_deadline(seconds)` no statement runs past the call's deadline, whatever DATABASE_TIMEOUT allows,
and one stopped for it raises `CallTimeout`. Python code cannot be interrupted; the database is where
a call spends the time it cannot account for, so that is where the deadline is enforced.
"""

import contextlib
import contextvars
import logging
import math
import os
import threading
import time

from django.db import OperationalError, connections

from .conf import mcp_settings

logger = logging.getLogger(__name__)

#: PostgreSQL's SQLSTATE for a cancelled statement (a cancel request, or a statement_timeout).
QUERY_CANCELED = "57014"
#: SQLite virtual machine instructions between two looks at the clock (a few µs of work each).
SQLITE_PROGRESS_STEPS = 10_000
#: The watchdog looks at running statements this often (at most; a shorter budget looks more often).
WATCHDOG_INTERVAL = 0.1


class StatementTimeout(OperationalError):
    """A database statement ran longer than MCP_BRIDGE['DATABASE_TIMEOUT'] and was stopped."""

    def __init__(self, seconds):
        super().__init__(f"A database statement ran longer than {seconds:g} s and was stopped.")
        self.seconds = seconds


class CallTimeout(StatementTimeout):
    """A database statement was stopped because its tool call ran out of its time budget."""

    def __init__(self, seconds):
        super().__init__(seconds)
        self.args = (
            f"The tool call ran longer than its {seconds:g} s time budget and its database statement was stopped.",
        )


#: (deadline on time.monotonic(), budget in seconds) of the tool call running in this context, or None.
_call_deadline: contextvars.ContextVar = contextvars.ContextVar("mcp_bridge_call_deadline", default=None)
#: True while this context's statements already pass through a _Budget (statement_budget is active).
_wrapped: contextvars.ContextVar = contextvars.ContextVar("mcp_bridge_statement_budget", default=False)


class _Budget:
    """The execute wrapper for one connection during one unit of work.

    *seconds* is DATABASE_TIMEOUT (None: statements are limited only by a tool call's deadline).
    """

    def __init__(self, connection, seconds):
        self.connection = connection
        self.seconds = seconds
        self.limit = seconds or 1  # the running statement's budget, for the watchdog's pace
        self.sqlite_handler_on = None  # the sqlite3 connection the progress handler is set on
        self.deadline = None  # when the running statement is out of time; None between statements
        self.stopped = False  # the running statement was interrupted or cancelled for its budget
        self.lock = threading.Lock()  # a cancel and the end of a statement never overlap

    def __call__(self, execute, sql, params, many, context):
        now = time.monotonic()
        deadline = now + self.seconds if self.seconds else math.inf
        call = _call_deadline.get()
        by_call = call is not None and call[0] < deadline
        if by_call:
            deadline = call[0]
            if deadline <= now:  # the call's time is already spent: do not start another statement
                raise CallTimeout(call[1])
        if deadline == math.inf:
            return execute(sql, params, many, context)
        vendor = self.connection.vendor
        if vendor == "sqlite" and self.sqlite_handler_on is not self.connection.connection:
            self.sqlite_handler_on = self.connection.connection
            self.sqlite_handler_on.set_progress_handler(self.progress, SQLITE_PROGRESS_STEPS)
        with self.lock:
            self.deadline = deadline
            self.limit = deadline - now
            self.stopped = False
            if vendor == "postgresql":
                watchdog.watch(self)  # under the lock: the watchdog cannot let go of a running statement
        try:
            return execute(sql, params, many, context)
        except OperationalError as exc:
            if self.stopped or getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED:
                raise (CallTimeout(call[1]) if by_call else StatementTimeout(self.seconds)) from exc
            raise
        finally:
            with self.lock:
                self.deadline = None

    def progress(self):
        """SQLite's progress handler: non-zero stops the running statement with 'interrupted'."""
        deadline = self.deadline
        if deadline is not None and time.monotonic() > deadline:
            self.stopped = True
            return 1
        return 0

    def cancel_if_late(self, now, watched):
        """Watchdog: cancel the running statement if it is past its deadline; stop watching between statements."""
        with self.lock:
            if self.deadline is None:
                watched.discard(self)
                return
            if self.stopped or now <= self.deadline:
                return
            self.stopped = True
            raw = self.connection.connection
            cancel = getattr(raw, "cancel_safe", None) or raw.cancel
            try:
                cancel()
            except Exception:
                logger.warning("Could not cancel a database statement past its %g s budget", self.limit, exc_info=True)

    def release(self):
        raw = self.sqlite_handler_on
        if raw is not None and raw is self.connection.connection:
            raw.set_progress_handler(None, 0)


class Watchdog:
    """One daemon thread per process that cancels PostgreSQL statements past their budget."""

    def __init__(self):
        self.watched = set()
        self.lock = threading.Lock()
        self.thread = None

    def watch(self, budget):
        self.watched.add(budget)
        if self.thread is None or not self.thread.is_alive():
            with self.lock:
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(target=self.run, name="mcp_bridge-statement-watchdog", daemon=True)
                    self.thread.start()

    def run(self):
        while True:
            time.sleep(min(WATCHDOG_INTERVAL, min((b.limit for b in list(self.watched)), default=1) / 4))
            now = time.monotonic()
            for budget in list(self.watched):
                budget.cancel_if_late(now, self.watched)

    def after_fork(self):
        self.watched = set()
        self.thread = None


watchdog = Watchdog()
if hasattr(os, "register_at_fork"):
    # A forked worker (gunicorn --preload) starts without the parent's thread: it starts its own.
    os.register_at_fork(after_in_child=watchdog.after_fork)


@contextlib.contextmanager
def statement_budget():
    """Apply MCP_BRIDGE['DATABASE_TIMEOUT'] to every statement run inside, on every database alias."""
    seconds = mcp_settings.DATABASE_TIMEOUT
    if not seconds:
        yield
        return
    with _budgets(seconds):
        yield


@contextlib.contextmanager
def call_deadline(seconds):
    """Stop every statement run inside once *seconds* have passed (a tool call's time budget).

    Inside `statement_budget()` it shortens that budget; outside it (DATABASE_TIMEOUT off, a tool
    called from a shell or a test) it installs its own wrappers.
    """
    token = _call_deadline.set((time.monotonic() + seconds, seconds))
    try:
        if _wrapped.get():
            yield
        else:
            with _budgets(None):
                yield
    finally:
        _call_deadline.reset(token)


@contextlib.contextmanager
def _budgets(seconds):
    budgets = [_Budget(connection, seconds) for connection in connections.all()]
    token = _wrapped.set(True)
    try:
        with contextlib.ExitStack() as wrappers:
            for budget in budgets:
                wrappers.enter_context(budget.connection.execute_wrapper(budget))
            yield
    finally:
        _wrapped.reset(token)
        for budget in budgets:
            budget.release()
