"""Failures of the services MCP requests depend on (database, cache, broker), told apart from bugs.

A lost database connection, a pool that cannot hand out a connection in time, a cache that refuses
another connection or a broker that is down are not the caller's fault and not a bug: the caller
should retry, and is told so (`ServiceUnavailable`). Errors that come from the request or the code
(IntegrityError, DataError, ProgrammingError, ...) are not service failures and are reported as
the failures they are.
"""

from types import ModuleType

from django.db import DatabaseError, InterfaceError, OperationalError, connections

from .exceptions import ServiceUnavailable

redis_exceptions: ModuleType | None
kombu_exceptions: ModuleType | None
try:
    from redis import exceptions as redis_exceptions
except ImportError:  # the cache is not Redis
    redis_exceptions = None
try:
    from kombu import exceptions as kombu_exceptions
except ImportError:  # no Celery broker
    kombu_exceptions = None


def _service_errors():
    # The built-in ConnectionError and TimeoutError: refused, reset or silent sockets (Memcached, ...).
    errors = [ServiceUnavailable, OperationalError, InterfaceError, ConnectionError, TimeoutError]
    if redis_exceptions is not None:
        # Not ResponseError or DataError in general: those are commands the code got wrong.
        errors += [redis_exceptions.ConnectionError, redis_exceptions.TimeoutError, redis_exceptions.ReadOnlyError]
    if kombu_exceptions is not None:
        errors.append(kombu_exceptions.OperationalError)
    return tuple(errors)


SERVICE_ERRORS = _service_errors()


def is_service_failure(exc):
    """True if *exc* says a backing service failed or is saturated (retry later), not a bug."""
    if isinstance(exc, SERVICE_ERRORS):
        return True
    if isinstance(exc, DatabaseError):
        return False  # IntegrityError, DataError, ProgrammingError, ...: the request or the code
    # A driver's own error that escaped Django's wrapping (psycopg_pool raises from the pool).
    return any(
        isinstance(exc, (connection.Database.OperationalError, connection.Database.InterfaceError))
        for connection in connections.all(initialized_only=True)
    )
