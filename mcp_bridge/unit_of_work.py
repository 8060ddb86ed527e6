"""The one thread hop of an MCP request: all of its Django work, run as one Django request.

Every MCP request that needs Django runs `work(request, generation)` once, on a worker thread,
inside Django's request_started/request_finished signals (so database connections are opened,
pooled, or kept with CONN_MAX_AGE, and closed as for a view) and the database time budget
(database.statement_budget). Before `work` runs, in this order:

1. the call's McpRequest is built, with `request.auth` = the principal;
2. one cache round trip reads the access generation and counts a tool call in its throttles' windows;
3. the principal loads its user, the credential re-checked (`request.user`);
4. the user's permissions are primed for that generation.

A failed backing service (database, cache) becomes ServiceUnavailable: retry, not a bug.
"""

import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.core import signals
from mcp import types
from mcp.shared.exceptions import MCPError

from . import throttling
from .availability import is_service_failure
from .capacity import max_concurrent_requests
from .database import StatementTimeout, statement_budget
from .exceptions import AuthenticationFailed, ServiceUnavailable
from .permissions import access_generation, prime_permissions
from .principals import CREDENTIAL_REFUSED_SCOPE_KEY
from .requests import McpRequest
from .tracing import unit_of_work_span

logger = logging.getLogger(__name__)

_pool = None
_pool_lock = threading.Lock()


def worker_pool():
    """Return the process's worker threads: at most MAX_CONCURRENT_REQUESTS of them (see capacity.py).

    A plain ThreadPoolExecutor. The hand-written pool it replaced saved ~4 µs of a ~35 µs hop (0.15 %
    of a 2.8 ms get_customer) and kept 16 threads where this keeps up to 20 at 16 concurrent callers
    (bench/executor.py): nothing a request notices, and never more than max_workers.
    """
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_concurrent_requests(), thread_name_prefix="mcp_bridge")
    return _pool


async def run_in_worker(function):
    """Return `function()`, run on a worker thread with this task's contextvars."""
    return await sync_to_async(function, thread_sensitive=False, executor=worker_pool())()


@contextlib.contextmanager
def django_request(scope):
    """Django's request signals around one unit of work: connections are handled as for a view."""
    signals.request_started.send(sender=McpRequest, scope=scope)  # as Django's ASGIHandler sends it
    try:
        yield
    finally:
        signals.request_finished.send(sender=McpRequest)


async def run_unit(principal, scope, work, *, tool_name=None, tool=None, throttles=()):
    """Return `work(request, generation)`, run as one Django request on a worker thread.

    *principal* is the authenticated caller and *scope* the ASGI scope of its HTTP request (None on
    stdio and in-process). A tool call passes its *tool_name*, the registry's *tool* (None for a
    name the registry lacks) and the *throttles* it counts against: the call is counted in the
    round trip that reads the access generation, and `request.throttle_counts` holds the counts for
    `work` to check (`throttling.check`) once it knows the caller may see the tool.
    """

    def unit():
        # A child of the SDK's request span: run_in_worker carries the OpenTelemetry context over.
        with unit_of_work_span(tool_name), django_request(scope), statement_budget():
            request = McpRequest(None, principal=principal, tool_name=tool_name, scope=scope)
            generation, request.throttle_counts = access_generation(throttling.counters(throttles, request, tool))
            try:
                request.user = principal.load_user(generation)
            except AuthenticationFailed as exc:
                if scope is not None:
                    scope[CREDENTIAL_REFUSED_SCOPE_KEY] = exc  # asgi.py answers 401 instead of this error
                raise MCPError(code=types.INVALID_REQUEST, message=str(exc)) from None
            prime_permissions(request.user, generation)
            return work(request, generation)

    def unit_or_busy():
        try:
            return unit()
        except StatementTimeout as exc:
            logger.warning("MCP request stopped: a database statement ran longer than %g s", exc.seconds)
            raise ServiceUnavailable(
                f"The request needed a database query longer than the {exc.seconds:g} s allowed; it was stopped. "
                "Ask for less (a more specific value or query), or retry later.",
            ) from exc
        except Exception as exc:
            if not is_service_failure(exc) or isinstance(exc, ServiceUnavailable):
                raise
            logger.warning("MCP request could not be served: a backing service failed", exc_info=True)
            raise ServiceUnavailable() from exc

    return await run_in_worker(unit_or_busy)
