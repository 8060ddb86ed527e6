"""The database time budget of an MCP request: no statement runs longer than DATABASE_TIMEOUT.

A caller controls what the admin's search runs (words, filters, offsets), so one request could
otherwise hold a connection, and the memory of a database backend, for as long as it likes.
`statement_budget()` wraps a request's unit of work with Django's `connection.execute_wrapper()`:

- PostgreSQL: before the first statement on a connection, `statement_timeout` is set for the
  session; at the end of the unit it is reset, so a pooled or persistent connection goes back to
  other users (Django views, the admin) exactly as it was. A connection closed after every request
  (CONN_MAX_AGE = 0, no pool) is not reset: it carries nothing further.
- SQLite: a progress handler (`sqlite3.Connection.set_progress_handler`) interrupts a statement
  that has run longer than the budget; it is removed at the end of the unit.
- Other backends: no budget (the setting is ignored).

A statement over the budget raises `StatementTimeout`.
"""

import contextlib
import time

from django.db import DatabaseError, OperationalError, connections

from .conf import mcp_settings

#: PostgreSQL's SQLSTATE for a statement cancelled (here: by statement_timeout).
QUERY_CANCELED = "57014"
#: SQLite virtual machine instructions between two looks at the clock (a few µs of work each).
SQLITE_PROGRESS_STEPS = 10_000


class StatementTimeout(OperationalError):
    """A database statement ran longer than MCP_BRIDGE['DATABASE_TIMEOUT'] and was stopped."""

    def __init__(self, seconds):
        super().__init__(f"A database statement ran longer than {seconds:g} s and was stopped.")
        self.seconds = seconds


class _Budget:
    """The execute wrapper for one connection during one unit of work."""

    def __init__(self, connection, seconds):
        self.connection = connection
        self.seconds = seconds
        self.applied_to = None  # the DB-API connection the budget was applied to
        self.deadline = None  # SQLite: when the running statement is out of time
        self.interrupted = False

    def __call__(self, execute, sql, params, many, context):
        if self.applied_to is not self.connection.connection:
            self.apply()
        self.deadline = time.monotonic() + self.seconds
        self.interrupted = False
        try:
            return execute(sql, params, many, context)
        except OperationalError as exc:
            if self.interrupted or getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED:
                raise StatementTimeout(self.seconds) from exc
            raise

    def apply(self):
        raw = self.applied_to = self.connection.connection
        if self.connection.vendor == "postgresql":
            # Through this wrapper again; `applied_to` is already set, so it passes straight on.
            with self.connection.cursor() as cursor:
                # SET takes no parameters; the value is an integer (milliseconds) formatted here.
                cursor.execute(f"SET statement_timeout = {max(round(self.seconds * 1000), 1)}")
        elif self.connection.vendor == "sqlite":
            raw.set_progress_handler(self.progress, SQLITE_PROGRESS_STEPS)

    def progress(self):
        if time.monotonic() > self.deadline:
            self.interrupted = True
            return 1  # non-zero: SQLite stops the statement with "interrupted"
        return 0

    def release(self):
        raw = self.applied_to
        if raw is None or raw is not self.connection.connection:
            return  # never used, or replaced: the connection the budget was set on is gone
        if self.connection.vendor == "sqlite":
            raw.set_progress_handler(None, 0)
        elif self.connection.vendor == "postgresql" and _outlives_request(self.connection):
            try:
                with self.connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")
            except DatabaseError:
                pass  # an unusable connection: request_finished closes it and the pool discards it


def _outlives_request(connection):
    """True if the connection is reused after the request (a pool, or CONN_MAX_AGE > 0)."""
    settings_dict = connection.settings_dict
    return bool(settings_dict["OPTIONS"].get("pool")) or settings_dict["CONN_MAX_AGE"] != 0


@contextlib.contextmanager
def statement_budget():
    """Apply MCP_BRIDGE['DATABASE_TIMEOUT'] to every statement run inside, on every database alias."""
    seconds = mcp_settings.DATABASE_TIMEOUT
    if not seconds:
        yield
        return
    budgets = [_Budget(connection, seconds) for connection in connections.all()]
    try:
        with contextlib.ExitStack() as wrappers:
            for budget in budgets:
                wrappers.enter_context(budget.connection.execute_wrapper(budget))
            yield
    finally:
        for budget in budgets:
            budget.release()
