"""Shared fixtures: the demo data set, the demo users, and MCP clients acting as them."""

import asyncio
import contextlib

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.db import DatabaseError, connections
from django.db.backends.signals import connection_created
from django.test import override_settings
from mcp import Client

from mcp_bridge import audit
from mcp_bridge.authentication import local_principal
from mcp_bridge.cache import shared_cache
from mcp_bridge.server import current_principal, get_server
from mcp_bridge.throttling import SimpleRateThrottle

ROLES = ("admin", "support_agent", "analyst")


def give_way_to_the_flush(sender, connection, **kwargs):
    """PostgreSQL: a server or worker process a test started may still be writing (the audit trail after
    the response, a job's heartbeat) when the test database is flushed, and TRUNCATE then deadlocks with
    it. This process looks for deadlocks after 10 s, the others after PostgreSQL's 1 s, so the other
    session is the one that gives way (it logs its failed write) and the flush goes through."""
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET deadlock_timeout = '10s'")
    except DatabaseError:  # a role that may not set it (not a superuser) keeps the default
        pass


connection_created.connect(give_way_to_the_flush)


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """Passwords hashed in this process use MD5: the project's PBKDF2 costs a second for the demo's three
    users in every test that seeds them. Its hashers stay listed, so their hashes still verify; a user
    who signs in to a server process gets a hash from servers.server_password."""
    fast = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    )
    fast.enable()
    yield
    fast.disable()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """The audit trail is written by a background thread: what a test's calls queued and the test did not
    flush is dropped when it ends, never written into the next test's database.

    A hook rather than a fixture: it runs before any fixture's teardown, so a batch the thread is writing
    is finished before the test database is flushed (a TRUNCATE racing the batch's inserts can deadlock).
    """
    with audit.recorder.write_lock, audit.recorder.lock:
        audit.recorder.queue.clear()
    return (yield)


@pytest.fixture
def demo(transactional_db, django_db_serialized_rollback, django_db_blocker):
    """Seed the demo domain (small), its groups and users; return the users by name.

    Transactional: MCP calls run their ORM work on their own thread and connection, as in
    production, so the data must be committed for them to see it. Serialized rollback restores
    content types and permissions with their original ids, which a long-lived server process
    (live_server_url) has cached.
    """
    cache.clear()  # permission sets cached by an earlier test's users
    call_command("seed_demo", customers=40, orders_per_customer=3, stdout=_Null())
    User = get_user_model()
    return {user.username: user for user in User.objects.filter(username__in=ROLES)}


class _Null:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass


@contextlib.asynccontextmanager
async def mcp_client(user, mode="auto"):
    """An in-process SDK client acting as *user* ('auto' speaks 2026-07-28, 'legacy' 2025-11-25)."""
    token = current_principal.set(local_principal(user))
    try:
        async with Client(get_server().server, mode=mode) as client:
            yield client
    finally:
        current_principal.reset(token)


@pytest.fixture(params=["auto", "legacy"])
def mode(request):
    """Both protocol eras: 2026-07-28 (stateless) and 2025-11-25 (handshake)."""
    return request.param


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    """uvicorn serving config.asgi on loopback, on the test database (stopped before it is dropped)."""
    from .servers import uvicorn_server

    with django_db_blocker.unblock(), uvicorn_server() as url:
        yield url


@pytest.fixture
def api_keys(demo):
    """A fresh API key for each demo user: {'support_agent': raw key, ...}."""
    from mcp_bridge.models import ApiKey

    return {name: ApiKey.issue(user, f"test key for {name}")[1] for name, user in demo.items()}


class Clock:
    """An injectable throttle `timer`: a callable object (not a function), so it is not bound as a method."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


#: A multiple of 3600: the start of an hour window and of a minute window.
WINDOW_START = 1_000_800.0


@pytest.fixture
def clock(monkeypatch):
    """Rate-limit windows stand still (20 s into one) and start empty: a test's calls never straddle a window's end."""
    clock = Clock(WINDOW_START + 20)
    monkeypatch.setattr(SimpleRateThrottle, "timer", clock)
    shared_cache().clear()
    return clock


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _close_async_orm_connections():
    """Close the connection that async ORM calls in test bodies open on asgiref's shared thread.

    MCP calls themselves run in Django's request lifecycle; test code outside it does not, and its
    connection would otherwise keep the test database busy when pytest drops it.
    """
    yield
    asyncio.run(sync_to_async(connections.close_all)())


@pytest.fixture(scope="session", autouse=True)
def _fresh_cache(django_db_setup):
    """Start from an empty cache: ids in a new test database repeat those of an earlier run."""
    cache.clear()
