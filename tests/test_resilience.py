"""Failures of the cache and the database reach clients as retryable errors, never as -32603.

In-process: the MCP cache pointed at a Redis server that is not there (connection refused). Over
real HTTP: 200 concurrent callers against uvicorn with a deliberately small Redis pool, and on
PostgreSQL with the server's database connections killed again and again while they call.
"""

import asyncio
import os
import threading

import pytest
from django.contrib.auth.models import Group
from django.core import checks
from django.db import connection, connections
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceTemplateReference

from bench import resilience
from bench.resilience import call_concurrently
from mcp_bridge.authentication import local_principal
from mcp_bridge.capacity import check_pool_sizes, database_pool_sizes, max_concurrent_requests
from mcp_bridge.models import ApiKey
from mcp_bridge.results import SERVER_BUSY
from mcp_bridge.server import current_principal, get_server
from mcp_bridge.sites import McpSite

from . import servers
from .conftest import mcp_client
from .servers import free_port, uvicorn_server

#: A Redis URL nothing listens on: every cache operation fails with "connection refused".
ABSENT_REDIS = f"redis://127.0.0.1:{free_port()}/0"
MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
CUSTOMER_TEMPLATE = ResourceTemplateReference(type="ref/resource", uri="customers://customer/{id}")


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        **settings.CACHES,
        "mcp": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": ABSENT_REDIS},
    }
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "mcp"}


@pytest.mark.anyio
async def test_cache_failure_is_a_busy_tool_result(demo, mode, cache_down, caplog):
    async with mcp_client(demo["support_agent"], mode) as client:
        result = await client.call_tool("search_customers", {"query": "ana"})
    assert result.is_error and result.structured_content is None
    assert result.content[0].text == (
        "search_customers could not run: The server is busy; retry in a few seconds. Nothing was changed."
    )
    # The cause is logged for the operator, not sent to the client.
    assert any("backing service failed" in r.getMessage() and r.exc_info for r in caplog.records)
    assert "Connection refused" in caplog.text or "Error 111" in caplog.text


@pytest.mark.anyio
@pytest.mark.parametrize("request_kind", ["tools/list", "resources/read", "completion/complete", "prompts/list"])
async def test_cache_failure_is_a_retryable_json_rpc_error(demo, mode, cache_down, request_kind):
    async with mcp_client(demo["support_agent"], mode) as client:
        requests = {
            "tools/list": client.list_tools,
            "resources/read": lambda: client.read_resource("customers://customer/1"),
            "completion/complete": lambda: client.complete(CUSTOMER_TEMPLATE, {"name": "id", "value": "ana"}),
            "prompts/list": client.list_prompts,
        }
        with pytest.raises(MCPError) as busy:
            await requests[request_kind]()
    assert busy.value.code == SERVER_BUSY
    assert busy.value.message == "The server is busy; retry in a few seconds."
    assert busy.value.error.data == {"retryAfter": 2}


# -- real bugs are not reported as "busy" -----------------------------------------------------------

bug_site = McpSite(name="resilience-tests")


@bug_site.tool(name="create_duplicate_group", description="Creates a group that exists (tests only).")
def create_duplicate_group(request, data):
    Group.objects.create(name=Group.objects.order_by("pk").first().name)  # IntegrityError: names are unique
    return {"created": True}


@pytest.mark.anyio
async def test_integrity_error_is_still_an_unexpected_failure(demo):
    token = current_principal.set(local_principal(demo["admin"]))
    try:
        async with Client(get_server(bug_site).server) as client:
            result = await client.call_tool("create_duplicate_group", {})
    finally:
        current_principal.reset(token)
    text = result.content[0].text
    assert result.is_error and "create_duplicate_group failed unexpectedly; nothing was changed" in text
    assert "reference" in text and "busy" not in text


# -- pools sized together ------------------------------------------------------------------------


def test_concurrent_requests_default_to_the_smallest_database_pool(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "MAX_CONCURRENT_REQUESTS": None}
    pools = database_pool_sizes()
    assert max_concurrent_requests() == (min(pools.values()) if pools else 64)
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "MAX_CONCURRENT_REQUESTS": 7}
    assert max_concurrent_requests() == 7


def test_small_redis_pool_is_reported(settings):
    settings.CACHES = {
        **settings.CACHES,
        "mcp": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": ABSENT_REDIS,
            "OPTIONS": {"max_connections": 4},
        },
    }
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "mcp", "MAX_CONCURRENT_REQUESTS": 10}
    pools = database_pool_sizes()
    expected = [
        checks.Warning(
            "The MCP cache 'mcp' opens at most 4 Redis connections, fewer than the 10 MCP requests that may run at once: "
            "under load, calls beyond it fail with 'server busy'.",
            hint="Set CACHES['mcp']['OPTIONS']['max_connections'] to at least 10, or lower MCP_BRIDGE['MAX_CONCURRENT_REQUESTS'].",
            id="mcp_bridge.W010",
        )
    ]
    for alias, size in pools.items():  # PostgreSQL with a pool (the demo's default there): also compared
        if size < 10:
            expected.append(
                checks.Warning(
                    f"The connection pool of database {alias!r} holds at most {size} connections, fewer than the 10 MCP "
                    "requests that may run at once (MCP_BRIDGE['MAX_CONCURRENT_REQUESTS']): requests beyond it wait for a "
                    "connection and fail with 'server busy' after the pool's timeout.",
                    hint=f"Set DATABASES[{alias!r}]['OPTIONS']['pool']['max_size'] to at least 10, or lower "
                    "MCP_BRIDGE['MAX_CONCURRENT_REQUESTS'].",
                    id="mcp_bridge.W011",
                )
            )
    assert check_pool_sizes() == expected
    # redis-py's own default (100 connections) is enough for 10, and the demo's settings are clean.
    settings.CACHES["mcp"]["OPTIONS"] = {}
    assert [m for m in check_pool_sizes() if m.id == "mcp_bridge.W010"] == []
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "default", "MAX_CONCURRENT_REQUESTS": None}
    assert check_pool_sizes() == []


def test_database_pool_sizes_are_read_from_the_settings():
    assert database_pool_sizes(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "OPTIONS": {"pool": {"min_size": 2, "max_size": 10}},
            },
            "defaults": {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {"pool": True}},
            "min_only": {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {"pool": {"min_size": 6}}},
            "no_pool": {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {}},
            "sqlite": {"ENGINE": "django.db.backends.sqlite3"},
        }
    ) == {"default": 10, "defaults": 4, "min_only": 6}


def test_database_pool_smaller_than_the_setting_is_reported(settings):
    pools = database_pool_sizes()
    wanted = max(pools.values(), default=0) + 1
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "MAX_CONCURRENT_REQUESTS": wanted}
    reported = {m.id for m in check_pool_sizes() if m.id == "mcp_bridge.W011"}
    assert reported == ({"mcp_bridge.W011"} if pools else set())


# -- 200 concurrent callers over HTTP while the cache is saturated and the database connections die --

CALLERS = 200
CALLS_EACH = 4  # 800 calls: under the demo's credential rate, 1200/min, for the one key
#: No call may take longer: the database budget (10 s) plus the pool's wait (3 s) plus slack.
CALL_BUDGET_SECONDS = 20


def test_the_load_driver_knows_the_busy_code():
    assert resilience.SERVER_BUSY == SERVER_BUSY


def kill_server_connections(stop, killed):
    """Terminate the uvicorn process's PostgreSQL connections every 0.2 s until *stop* is set."""
    try:
        while not stop.is_set():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'mcp-load-test'"
                )
                killed.append(cursor.fetchone()[0])
            stop.wait(0.2)
    finally:
        connections.close_all()


@pytest.mark.subprocess
def test_concurrent_calls_through_cache_and_database_failures_get_retryable_errors(demo, capsys):
    key = ApiKey.issue(demo["support_agent"], "load test")[1]
    env = {"LOG_LEVEL": "WARNING", "DATABASE_POOL_TIMEOUT": "3"}  # the causes go to the server log
    if os.environ.get("REDIS_URL"):
        env["REDIS_MAX_CONNECTIONS"] = "4"  # far below the requests that run at once
    else:
        env["REDIS_URL"] = ABSENT_REDIS  # no Redis here: the cache refuses every connection
    postgres = connection.vendor == "postgresql"
    if postgres:
        env["DATABASE_URL"] = servers.test_database_env()["DATABASE_URL"] + "?application_name=mcp-load-test"
    killed, stop = [], threading.Event()
    with uvicorn_server(env) as base_url:
        killer = threading.Thread(target=kill_server_connections, args=(stop, killed)) if postgres else None
        if killer:
            killer.start()
        try:
            outcomes, latencies, duration = asyncio.run(call_concurrently(base_url, key, CALLERS, CALLS_EACH))
        finally:
            stop.set()
            if killer:
                killer.join()
    with capsys.disabled():
        print(
            f"\n{sum(outcomes.values())} calls in {duration:.1f} s by {CALLERS} callers: {outcomes}; "
            f"max latency {max(latencies):.2f} s; {sum(killed)} server connections killed"
        )
    unexpected = {kind: count for kind, count in outcomes.items() if kind.startswith("unexpected")}
    assert unexpected == {}
    assert sum(outcomes.values()) == CALLERS * CALLS_EACH
    assert max(latencies) < CALL_BUDGET_SECONDS
    assert outcomes.get("isError busy", 0) + outcomes.get("-32003 busy", 0) + outcomes.get("503 retry-after", 0) > 0
