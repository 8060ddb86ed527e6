"""The audit trail's recorder: call records queued in memory, written to AuditEntry in batches by one thread.

A call never waits for its audit row. `call_finished` (mcp_bridge.call_records) hands the record to
`record()`, which appends it to a bounded in-memory queue and returns; one daemon thread per process
writes what waits with one bulk INSERT per AUDIT_BATCH_SIZE records (plus one for the links to the
admin's LogEntry rows), at least every AUDIT_FLUSH_INTERVAL seconds. A full queue drops its oldest
record, and a database that refuses a batch loses that batch: both are logged (logger
'mcp_bridge.audit'), neither reaches a caller. What waits is written at exit (atexit), at the end of
the ASGI lifespan and of `runmcp`, and whenever `flush()` is called.

Writes made during a call keep the admin's LogEntry rows, linked from the call's audit row:
`log_entries_of_call()` collects the ids of the LogEntry rows saved on the call's own thread and
context (a contextvar), so concurrent calls of the same user are never mixed up.
"""

import atexit
import collections
import contextlib
import contextvars
import logging
import os
import threading
from collections.abc import Iterator
from datetime import timedelta

from django.db import connections, router, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from .call_records import CallRecord, call_finished
from .conf import mcp_settings

logger = logging.getLogger("mcp_bridge.audit")

#: Rows `cleanup()` deletes per DELETE statement: short statements, no long lock on a big table.
CLEANUP_CHUNK = 5000

_log_entry_ids: contextvars.ContextVar[list | None] = contextvars.ContextVar("mcp_bridge_log_entry_ids", default=None)


@contextlib.contextmanager
def log_entries_of_call() -> Iterator[list]:
    """Yield a list that receives the ids of the LogEntry rows saved in this context while it is open."""
    ids: list = []
    token = _log_entry_ids.set(ids)
    try:
        yield ids
    finally:
        _log_entry_ids.reset(token)


def _note_log_entry(sender, instance, created, **kwargs):
    ids = _log_entry_ids.get()
    if ids is not None and created:
        ids.append(instance.pk)


# ModelAdmin.log_addition/log_change/log_deletion save one LogEntry each, which sends post_save.
post_save.connect(_note_log_entry, sender="admin.LogEntry", dispatch_uid="mcp_bridge.audit.log_entries")


class AuditRecorder:
    """A bounded queue of CallRecords and the one thread per process that writes them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.queue = collections.deque()  # of CallRecord
        self.dropped = 0
        self.thread = None
        self.pid = None
        self.write_lock = threading.Lock()  # one writer at a time: the thread, or an explicit flush()

    def record(self, record):
        """Queue *record*; start the writing thread if this process has none. Fast, and never raises."""
        limit = max(1, int(mcp_settings.AUDIT_QUEUE_SIZE))
        with self.lock:
            while len(self.queue) >= limit:
                self.queue.popleft()
                self.dropped += 1
            self.queue.append(record)
            waiting = len(self.queue)
            if self.pid != os.getpid():  # first record in this process (a forked worker starts without threads)
                self.start()
        if waiting >= mcp_settings.AUDIT_BATCH_SIZE:
            self.wake.set()

    def start(self):
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self.run, name="mcp_bridge.audit", daemon=True)
        self.thread.start()

    def after_fork(self):
        """In a forked child (a Celery or gunicorn worker): fresh locks, no thread, and not the parent's records,
        which the parent writes itself."""
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.wake = threading.Event()
        self.queue = collections.deque()
        self.dropped = 0
        self.thread = self.pid = None

    def run(self):
        while True:
            self.wake.wait(max(0.01, float(mcp_settings.AUDIT_FLUSH_INTERVAL)))
            self.wake.clear()
            try:
                self.flush()
            except Exception:  # flush() logs what it can; this keeps the thread alive whatever happens
                logger.exception("The audit recorder failed; it goes on with the next batch.")
            finally:
                connections.close_all()  # this thread's connections: never left open between batches

    def take(self, size):
        with self.lock:
            batch = [self.queue.popleft() for _ in range(min(size, len(self.queue)))]
            dropped, self.dropped = self.dropped, 0
        if dropped:
            logger.warning(
                "The audit queue was full (MCP_BRIDGE['AUDIT_QUEUE_SIZE'] = %s): the %d oldest call records were "
                "dropped unwritten. Raise AUDIT_QUEUE_SIZE or AUDIT_BATCH_SIZE, or check the database.",
                mcp_settings.AUDIT_QUEUE_SIZE,
                dropped,
            )
        return batch

    def flush(self):
        """Write every record waiting now, in batches; return how many were written. Logs, never raises."""
        written = 0
        size = max(1, int(mcp_settings.AUDIT_BATCH_SIZE))
        with self.write_lock:
            while batch := self.take(size):
                written += write(batch)
        return written

    def pending(self):
        with self.lock:
            return len(self.queue)


def write(batch):
    """Insert *batch* as AuditEntry rows with their LogEntry links; return the rows written (0 on a DB error).

    Most calls change nothing and link no LogEntry: their rows go in as plain values, with COPY on
    PostgreSQL and one executemany elsewhere, some 15-25 µs of this process's CPU a row where model
    instances and bulk_create take over 120 µs (measured: BENCHMARKS.md, "The audit trail's cost"). The
    few rows that link LogEntry rows need their ids back, so they go through bulk_create.
    """
    from .models import AuditEntry

    db = router.db_for_write(AuditEntry)
    try:
        usernames = usernames_of(batch, db)
        plain = [record for record in batch if not record.log_entry_ids]
        linked = [record for record in batch if record.log_entry_ids]
        with transaction.atomic(using=db):
            if plain:
                insert_values(db, [entry_values(record, usernames) for record in plain])
            if linked:
                entries = AuditEntry.objects.using(db).bulk_create(
                    [AuditEntry(**entry_values(record, usernames)) for record in linked]
                )
                links = [
                    AuditEntry.log_entries.through(auditentry_id=entry.pk, logentry_id=log_entry_id)
                    for entry, record in zip(entries, linked, strict=True)
                    if entry.pk is not None
                    for log_entry_id in record.log_entry_ids
                ]
                AuditEntry.log_entries.through.objects.using(db).bulk_create(links, ignore_conflicts=True)
    except Exception as exc:  # a database error, or a value it refuses: logged, never raised
        logger.error(
            "%d audit records could not be written and were dropped: %s. MCP calls go on unrecorded until the "
            "database takes them again.",
            len(batch),
            exc,
            exc_info=True,
        )
        return 0
    return len(batch)


def usernames_of(batch, db):
    """{user id: username} for the records made before their user was loaded (a refused call, a job)."""
    from django.contrib.auth import get_user_model

    missing = {r.user_id for r in batch if r.user_id is not None and not r.username}
    if not missing:
        return {}
    User = get_user_model()
    # `_default_manager` despite the underscore is Django's documented route to a model's manager,
    # whatever a custom user model named it (docs: topics/db/managers, "Default managers"); no
    # other public one reaches a swappable model's rows.
    return dict(User._default_manager.using(db).filter(pk__in=missing).values_list("pk", User.USERNAME_FIELD))


#: The AuditEntry fields written as plain values, in this order (entry_values is keyed by their attnames).
FIELDS = (
    "created",
    "request_id",
    "kind",
    "name",
    "user",
    "username",
    "auth_kind",
    "credential",
    "client_name",
    "client_version",
    "protocol_version",
    "session_id",
    "arguments",
    "outcome",
    "error",
    "duration_ms",
    "rows",
)
#: Values the database driver cannot take as they are: converted by their field (public Field API).
CONVERTED = ("created", "arguments")


def entry_values(record, usernames=None):
    """The AuditEntry field values of *record*, keyed by attname (user_id for user)."""
    username = record.username or (usernames or {}).get(record.user_id, "")
    return {
        "created": record.created,
        "request_id": record.request_id[:64],
        "kind": record.kind,
        "name": record.name[:300],
        "user_id": record.user_id,
        "username": str(username)[:150],
        "auth_kind": record.auth_kind[:32],
        "credential": record.credential[:200],
        "client_name": record.client_name[:200],
        "client_version": record.client_version[:100],
        "protocol_version": record.protocol_version[:32],
        "session_id": record.session_id[:128],
        "arguments": record.arguments,
        "outcome": record.outcome,
        "error": record.error,
        "duration_ms": record.duration_ms,
        "rows": record.rows,
    }


def insert_values(db, rows):
    """INSERT *rows* (dicts from entry_values) into AuditEntry's table on database *db*, without model instances.

    The SQL names every column through the connection's quote_name; `created` and `arguments` go through
    their fields' get_db_prep_save, as the ORM would convert them. On PostgreSQL the rows are streamed
    with psycopg's COPY (the driver's cursor API, reached through Django's cursor wrapper, which hands
    on what it does not define itself).
    """
    from .models import AuditEntry

    connection = connections[db]
    fields = [AuditEntry._meta.get_field(name) for name in FIELDS]
    converters = [(field.attname, field.get_db_prep_save if field.name in CONVERTED else None) for field in fields]
    values = [
        tuple(row[name] if convert is None else convert(row[name], connection) for name, convert in converters)
        for row in rows
    ]
    quote = connection.ops.quote_name
    table = quote(AuditEntry._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and hasattr(cursor, "copy"):  # psycopg 3; psycopg2 has no copy()
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", values)


recorder = AuditRecorder()


def record(sender=None, *, record, **kwargs):
    """The call_finished receiver: queue *record* for the audit trail, if MCP_BRIDGE['AUDIT'] is on."""
    if mcp_settings.AUDIT:
        recorder.record(record)


def flush():
    """Write every call record waiting in this process now; return how many were written."""
    return recorder.flush()


def pending():
    """The number of call records waiting to be written in this process."""
    return recorder.pending()


def _flush_at_exit():
    try:
        if recorder.pending():
            recorder.flush()
    except Exception:  # pragma: no cover - the interpreter is going away; nothing else can be done
        logger.exception("Audit records could not be written at exit.")


call_finished.connect(record, sender=CallRecord, dispatch_uid="mcp_bridge.audit.record")
atexit.register(_flush_at_exit)
os.register_at_fork(after_in_child=recorder.after_fork)


def cleanup(days=None, *, now=None, chunk=CLEANUP_CHUNK):
    """Delete audit rows older than *days* (default AUDIT_RETENTION_DAYS), *chunk* rows per statement.

    Returns the number of rows deleted; None retention deletes nothing.
    """
    from .models import AuditEntry

    days = mcp_settings.AUDIT_RETENTION_DAYS if days is None else days
    if days is None:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            AuditEntry.objects.filter(created__lt=cutoff).order_by("created").values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return deleted
        AuditEntry.log_entries.through.objects.filter(auditentry_id__in=ids).delete()
        count, _ = AuditEntry.objects.filter(pk__in=ids).delete()
        deleted += count


# -- system checks (registered in checks.py) ---------------------------------------------------------------
def check_audit_settings():
    """E301-E305: audit settings that would fail, or silently record nothing, on the first call."""
    from django.core import checks

    errors = []

    def whole_number(setting, minimum, allow_none=False):
        value = getattr(mcp_settings, setting)
        if allow_none and value is None:
            return True
        return isinstance(value, int) and not isinstance(value, bool) and value >= minimum

    if not isinstance(mcp_settings.AUDIT, bool):
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['AUDIT'] is {mcp_settings.AUDIT!r}; it must be True or False.",
                hint="Set it to True to record every MCP call in the audit trail, or False to record none.",
                id="mcp_bridge.E301",
            )
        )
    if not whole_number("AUDIT_RETENTION_DAYS", 1, allow_none=True):
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['AUDIT_RETENTION_DAYS'] is {mcp_settings.AUDIT_RETENTION_DAYS!r}; it must be a whole "
                "number of days of at least 1, or None.",
                hint="E.g. 90 keeps three months of audit rows; None keeps them for ever (the cleanup deletes nothing).",
                id="mcp_bridge.E302",
            )
        )
    if not whole_number("AUDIT_BATCH_SIZE", 1):
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['AUDIT_BATCH_SIZE'] is {mcp_settings.AUDIT_BATCH_SIZE!r}; it must be a whole number of at "
                "least 1.",
                hint="The rows written per INSERT; 200 is the default.",
                id="mcp_bridge.E303",
            )
        )
    interval = mcp_settings.AUDIT_FLUSH_INTERVAL
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval <= 3600:
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['AUDIT_FLUSH_INTERVAL'] is {interval!r}; it must be a number of seconds above 0 and at "
                "most 3600.",
                hint="The most seconds a call record waits before it is written; 1.0 is the default.",
                id="mcp_bridge.E304",
            )
        )
    if not whole_number("AUDIT_QUEUE_SIZE", 1):
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['AUDIT_QUEUE_SIZE'] is {mcp_settings.AUDIT_QUEUE_SIZE!r}; it must be a whole number of at "
                "least 1.",
                hint="The call records a process holds before it drops the oldest; 10000 is the default.",
                id="mcp_bridge.E305",
            )
        )
    elif whole_number("AUDIT_BATCH_SIZE", 1) and mcp_settings.AUDIT_QUEUE_SIZE < mcp_settings.AUDIT_BATCH_SIZE:
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['AUDIT_QUEUE_SIZE'] ({mcp_settings.AUDIT_QUEUE_SIZE}) is smaller than AUDIT_BATCH_SIZE "
                f"({mcp_settings.AUDIT_BATCH_SIZE}): records would be dropped before a batch is full.",
                hint="Make AUDIT_QUEUE_SIZE several times AUDIT_BATCH_SIZE (the defaults are 10000 and 200).",
                id="mcp_bridge.E305",
            )
        )
    return errors
