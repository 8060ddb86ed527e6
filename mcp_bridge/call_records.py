"""The record of one finished MCP call, and the signal that carries it to the audit trail and metrics.

Every tool call, resource read, prompt get and report job sends `call_finished` once, with
`record=CallRecord(...)`, after its MCP response was produced. Receivers run on the event loop or a
worker thread, so they must be fast (queue the record, do the work elsewhere) and must never raise:
`send_record` logs a failing receiver instead of letting it break the call.

The call path does only what every receiver needs; the masked arguments are worked out by their first
reader (the audit trail's writer thread), not on the loop.
"""

import contextvars
import functools
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.dispatch import Signal
from django.utils import timezone

from .principals import request_principal

logger = logging.getLogger(__name__)

#: Sent with record=CallRecord once an MCP call or report job is finished. Receivers are cached per
#: sender (Django's public use_caching): the call path asks for them twice per call.
call_finished = Signal(use_caching=True)


@dataclass(slots=True)
class CallRecord:
    """What one MCP call did, who made it, and how it ended."""

    kind: str  # AuditEntry.Kind value: "tool", "resource", "prompt", "job"
    name: str  # tool name, resource URI or prompt name (for jobs: the report tool's name)
    outcome: str  # AuditOutcome value: ok, error, refused, rate_limited, failed
    duration_ms: float
    request_id: str
    created: datetime  # when the call started (timezone-aware)
    user_id: int | None = None
    username: str = ""
    auth_kind: str = ""  # principal.kind: "api_key", "oauth", "stdio", ...
    credential: str = ""  # API key prefix, OAuth application name/client id, "stdio"
    client_name: str = ""
    client_version: str = ""
    protocol_version: str = ""
    session_id: str = ""
    #: The arguments as the caller sent them, and the field names to mask besides secrets: read
    #: `arguments` for the masked copy, never these.
    raw_arguments: Any = None
    redacted: tuple = ()
    error: str = ""
    rows: int | None = None  # rows returned (search/get) or changed (writes), when known
    log_entry_ids: list[int] = field(default_factory=list)
    masked_arguments: dict | None = field(default=None, repr=False)

    @property
    def arguments(self) -> dict:
        """The arguments with secrets and redacted fields masked, at most ~4 KB of JSON (worked out once)."""
        if self.masked_arguments is None:
            self.masked_arguments = mask_arguments(self.raw_arguments, self.redacted)
        return self.masked_arguments


def send_record(record: CallRecord) -> None:
    """Send `call_finished` for *record*; log, never raise, a receiver that fails."""
    try:
        responses = call_finished.send_robust(sender=CallRecord, record=record)
    except Exception:  # send_robust itself only fails on a broken signal; still never break the call
        logger.exception("Sending the call record of %s %r failed.", record.kind, record.name)
        return
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error(
                "The call_finished receiver %r failed on %s %r.",
                receiver,
                record.kind,
                record.name,
                exc_info=response,
            )


# -- building a record -----------------------------------------------------------------------------------
#: Argument names whose values are never recorded: they look like credentials.
SECRET_NAME = re.compile(r"passw|secret|token|api[_-]?key|authoriz|credential|private[_-]?key|otp", re.IGNORECASE)
#: What a masked value is recorded as.
MASK = "***"
#: The most characters of JSON the arguments of one record may take; larger ones are cut.
MAX_ARGUMENTS_CHARS = 4096
#: The most characters of error text one record keeps.
MAX_ERROR_CHARS = 2000
#: The header a proxy may send to correlate its request id with the audit trail.
REQUEST_ID_HEADER = "x-request-id"


def mask_arguments(arguments, redacted=()):
    """Return *arguments* with secrets and the *redacted* field names masked as '***', at most ~4 KB of JSON.

    Names are masked at any depth (a `password` inside a nested object too). Arguments whose JSON is
    longer than MAX_ARGUMENTS_CHARS become {"_truncated": True, "_json": the first characters}.
    """
    if not isinstance(arguments, dict):
        return {"_value": MASK} if arguments else {}
    masked = _masked(arguments, frozenset(redacted))
    if _surely_small(masked):  # most calls: a few short scalars, no need to write the JSON to measure it
        return masked
    text = json.dumps(masked, ensure_ascii=False, default=str)
    if len(text) <= MAX_ARGUMENTS_CHARS:
        return masked
    return {"_truncated": True, "_json": text[: MAX_ARGUMENTS_CHARS - 100]}


def _surely_small(arguments):
    """True if *arguments* (a dict) holds only scalars whose JSON cannot pass MAX_ARGUMENTS_CHARS."""
    size = 2
    for key, value in arguments.items():
        if isinstance(value, str):
            size += len(value)
        elif not (value is None or isinstance(value, (bool, int, float))):
            return False
        size += len(key) + 30  # quotes, separators, a number's digits
    return size * 6 < MAX_ARGUMENTS_CHARS  # an escaped character takes at most 6 (\u001f)


@functools.lru_cache(maxsize=4096)
def is_secret_name(name):
    """True if an argument called *name* looks like a credential (names come from schemas: few, repeated)."""
    return SECRET_NAME.search(name) is not None


def _masked(value, redacted, depth=0):
    if depth > 20:  # schemas bound depth; this bounds the walk for anything that slipped through
        return MASK
    if isinstance(value, dict):
        return {
            str(key): MASK
            if (isinstance(key, str) and (key in redacted or is_secret_name(key)))
            else _masked(item, redacted, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_masked(item, redacted, depth + 1) for item in value]
    return value


def redacted_fields(tool):
    """The field names a tool's ModelAdmin redacts (`mcp_redacted_fields`), masked in its recorded arguments."""
    model_admin = getattr(tool, "model_admin", None)
    return tuple(getattr(model_admin, "mcp_redacted_fields", ()) or ())


def rows_of(tool, data):
    """Rows a successful tool call returned or changed, when its kind or its result says: None otherwise."""
    kind = getattr(tool, "kind", "")
    if isinstance(data, dict):
        items = data.get("items")
        if isinstance(items, list):
            return len(items)  # search tools, list-shaped results
        ids = data.get("ids")
        if kind == "action" and isinstance(ids, list):
            return len(ids)
    if kind in ("get", "create", "update", "delete"):
        return 1
    return None


def error_text(text):
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def new_request_id():
    """A random request id (32 hex digits) for a call whose client sent no X-Request-ID."""
    return os.urandom(16).hex()


def is_recording():
    """True if anything listens to call_finished: otherwise no record is built at all."""
    return call_finished.has_listeners(CallRecord)


#: Set while serving stdio (stdio.py): calls are recorded as authenticated by "stdio".
stdio_transport = contextvars.ContextVar("mcp_bridge_stdio_transport", default=False)


class CallRecorder:
    """Measure one MCP call from its start and send its CallRecord when `finish()` is called.

    Built on the event loop when a request starts; the caller's identity, client and protocol come
    from the SDK's request context *ctx* (public attributes only). Nothing is sent if nobody listens.
    """

    __slots__ = ("kind", "name", "ctx", "arguments", "created", "started", "active")

    def __init__(self, ctx, kind, name, arguments=None):
        self.active = is_recording()
        self.kind = kind
        self.name = name
        self.ctx = ctx
        self.arguments = arguments
        self.created = timezone.now() if self.active else None
        self.started = time.perf_counter()

    def finish(self, outcome, *, request=None, error="", rows=None, log_entry_ids=(), redacted=()):
        """Send the record of this call, which ended with *outcome*; never raises."""
        if not self.active:
            return
        try:
            record = self.build(outcome, request, error, rows, log_entry_ids, redacted)
        except Exception:
            logger.exception("The call record of %s %r could not be built.", self.kind, self.name)
            return
        send_record(record)

    def build(self, outcome, request, error, rows, log_entry_ids, redacted):
        ctx = self.ctx
        principal = getattr(request, "auth", None) or request_principal(ctx)
        user = getattr(request, "user", None)
        client = None
        session = getattr(ctx, "session", None)
        params = getattr(session, "client_params", None) if session is not None else None
        if params is not None:
            client = params.client_info
        headers = ctx.request.headers if getattr(ctx, "request", None) is not None else {}
        auth_kind, credential = describe_principal(principal, headers)
        return CallRecord(
            kind=self.kind,
            name=str(self.name)[:300],
            outcome=outcome,
            duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
            request_id=(headers.get(REQUEST_ID_HEADER) or new_request_id())[:64],
            created=self.created,
            user_id=getattr(user, "pk", None) or getattr(principal, "user_id", None),
            username=user.get_username() if user is not None else "",
            auth_kind=auth_kind,
            credential=credential,
            client_name=str(getattr(client, "name", "") or "")[:200],
            client_version=str(getattr(client, "version", "") or "")[:100],
            protocol_version=str(getattr(ctx, "protocol_version", "") or "")[:32],
            session_id=(headers.get("mcp-session-id") or "")[:128],
            raw_arguments=self.arguments,
            redacted=tuple(redacted),
            error=error_text(error or ""),
            rows=rows,
            log_entry_ids=list(log_entry_ids),
        )


def describe_principal(principal, headers=None):
    """Return (auth_kind, credential) of *principal*: how it authenticated and with what, never the secret.

    An API key is named by its label and its public prefix; an OAuth token by its application; a
    local caller is "stdio" when served over stdio (else "local", the in-process client).
    """
    if principal is None:
        return "", ""
    kind = principal.kind
    if kind == "local":
        return ("stdio", "stdio") if stdio_transport.get() else ("local", "local")
    label = principal.label or ""
    credential = label.split(" via ", 1)[1] if " via " in label else label
    if kind == "api_key" and headers:
        from .models import ApiKey  # the caller's own header: its public prefix names the key

        authorization = headers.get("authorization", "")
        prefix = ApiKey.parse_prefix(authorization.partition(" ")[2].strip()) if authorization else None
        if prefix:
            credential = f"{credential} ({prefix})"
    return kind[:32], credential[:200]
