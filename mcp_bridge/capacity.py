"""How many MCP requests do Django work at once, and the connection pools that must hold them.

Each request's unit of work runs on one worker thread and holds at most one connection of each
database pool and of each of the MCP cache's Redis pools at a time. With more threads than pooled
connections, the extra ones wait for a database connection (until the pool's timeout) or, with
redis-py's default pool, fail at once (`MaxConnectionsError`). So the number of threads is a
setting (MAX_CONCURRENT_REQUESTS) that defaults to the smallest database pool, and system checks
report pools smaller than it.
"""

from django.conf import settings
from django.core import checks

from .cache import redis_connection_pool
from .conf import mcp_settings

#: Threads without a database pool: each thread then opens its own connection.
DEFAULT_MAX_CONCURRENT_REQUESTS = 64


#: psycopg_pool's defaults: min_size 4, and max_size equal to min_size.
PSYCOPG_POOL_MIN_SIZE = 4


def database_pool_sizes(databases=None):
    """{alias: max connections} of the aliases of *databases* (default: DATABASES) that use a connection
    pool (PostgreSQL's OPTIONS['pool']), read from the settings: asking the backend would open the pool."""
    sizes = {}
    for alias, config in (settings.DATABASES if databases is None else databases).items():
        pool = config.get("OPTIONS", {}).get("pool")
        if not pool:
            continue
        options = pool if isinstance(pool, dict) else {}
        sizes[alias] = options.get("max_size") or options.get("min_size", PSYCOPG_POOL_MIN_SIZE)
    return sizes


def max_concurrent_requests():
    """MCP_BRIDGE['MAX_CONCURRENT_REQUESTS'], or the smallest database pool, or 64."""
    configured = mcp_settings.MAX_CONCURRENT_REQUESTS
    if configured:
        return configured
    return min(database_pool_sizes().values(), default=DEFAULT_MAX_CONCURRENT_REQUESTS)


def cache_max_connections(alias):
    """The most connections a Redis pool of cache *alias* opens, or None if it is not Redis.

    Django's pool and mcp_bridge's own (see `cache`) are built from the same settings, so they share
    this limit.
    """
    # A pool object opens no connection until used; it tells the limit redis-py applies.
    pool = redis_connection_pool(alias)
    return None if pool is None else pool.max_connections


@checks.register("mcp_bridge")
def check_pool_sizes(app_configs=None, **kwargs):
    """Warn when a pool holds fewer connections than MCP requests that may run at once."""
    wanted = max_concurrent_requests()
    messages = []
    alias = mcp_settings.CACHE_ALIAS
    cache_limit = cache_max_connections(alias)
    if cache_limit is not None and cache_limit < wanted:
        messages.append(
            checks.Warning(
                f"The MCP cache {alias!r} opens at most {cache_limit} Redis connections, fewer than the {wanted} MCP "
                "requests that may run at once: under load, calls beyond it fail with 'server busy'.",
                hint=f"Set CACHES[{alias!r}]['OPTIONS']['max_connections'] to at least {wanted}, or lower "
                "MCP_BRIDGE['MAX_CONCURRENT_REQUESTS'].",
                id="mcp_bridge.W010",
            )
        )
    for db_alias, size in database_pool_sizes().items():
        if size < wanted:
            messages.append(
                checks.Warning(
                    f"The connection pool of database {db_alias!r} holds at most {size} connections, fewer than the "
                    f"{wanted} MCP requests that may run at once (MCP_BRIDGE['MAX_CONCURRENT_REQUESTS']): requests "
                    "beyond it wait for a connection and fail with 'server busy' after the pool's timeout.",
                    hint=f"Set DATABASES[{db_alias!r}]['OPTIONS']['pool']['max_size'] to at least {wanted}, or lower "
                    "MCP_BRIDGE['MAX_CONCURRENT_REQUESTS'].",
                    id="mcp_bridge.W011",
                )
            )
    return messages
