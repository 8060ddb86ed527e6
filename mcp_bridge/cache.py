"""The cache mcp_bridge keeps shared state in: one backend instance per process, one round trip per call.

`django.core.cache.cache` hands every asyncio task its own backend instance (the cache handler is
context-local), so under ASGI Django's RedisCache opens a fresh Redis connection for every request
(Django ticket #35651). mcp_bridge reads the cache on every call, so it keeps one instance of the
configured alias per process instead; its connection pool is shared by every thread.

What every call reads and counts (the access generation and the rate-limit counters) goes, when the
alias is Django's RedisCache, through redis-py's public client on mcp_bridge's own connection pool,
built from the alias's settings: one pipelined round trip. (RedisCache offers no public way to its
client, and builds a new client object, some 50 µs, for every operation.) Those values are plain
text, so nothing is unpickled; only this module reads and writes them. Everything else (permission
sets) goes through Django's cache API.
"""

import re
import threading

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .conf import mcp_settings

_lock = threading.Lock()
_shared = None
_NOT_BUILT = object()
_redis = _NOT_BUILT


def shared_cache():
    """The process-wide instance of the cache alias MCP_BRIDGE['CACHE_ALIAS'] names."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = caches.create_connection(mcp_settings.CACHE_ALIAS)
    return _shared


def redis_connection_pool(alias):
    """A new redis-py connection pool for the primary server of cache *alias*, or None if it is not RedisCache.

    Built from the alias's settings as Django's RedisCache builds its own: the first LOCATION is the
    server it writes to, and OPTIONS other than `serializer` go to the pool (`pool_class` picks the
    class). A pool opens no connection until one is needed.
    """
    config = settings.CACHES.get(alias, {})
    backend = config.get("BACKEND", "")
    if not backend or not issubclass(import_string(backend), RedisCache):
        return None
    options = dict(config.get("OPTIONS", {}))
    options.pop("serializer", None)  # values here are plain text
    pool_class = options.pop("pool_class", None) or "redis.ConnectionPool"
    if isinstance(pool_class, str):
        pool_class = import_string(pool_class)
    if isinstance(options.get("parser_class"), str):
        options["parser_class"] = import_string(options["parser_class"])
    location = config.get("LOCATION", "")
    servers = re.split("[;,]", location) if isinstance(location, str) else location
    return pool_class.from_url(servers[0], **options)


def redis_client():
    """The process-wide redis-py client of the MCP cache alias, or None if the alias is not RedisCache."""
    global _redis
    if _redis is _NOT_BUILT:
        with _lock:
            if _redis is _NOT_BUILT:
                pool = redis_connection_pool(mcp_settings.CACHE_ALIAS)
                if pool is None:
                    _redis = None
                else:
                    import redis  # only when the cache is Redis, which needs it anyway

                    _redis = redis.Redis(connection_pool=pool)
    return _redis


def read_and_count(read_key, counters=()):
    """Read the text at *read_key* and count one hit on each `(key, timeout)` counter; return (text, counts).

    A counter starts at 1 in a new window and expires *timeout* seconds after its first hit. With
    Redis all of it is one pipelined round trip on the primary (counters are written, and the read
    must be fresh); other backends use Django's get/add/incr.
    """
    cache, client = shared_cache(), redis_client()
    if client is None:
        return cache.get(read_key), [_count(cache, key, timeout) for key, timeout in counters]
    pipe = client.pipeline(transaction=False)
    pipe.get(cache.make_and_validate_key(read_key))
    for key, timeout in counters:
        redis_key = cache.make_and_validate_key(key)
        pipe.set(redis_key, 0, ex=timeout, nx=True)
        pipe.incr(redis_key)
    replies = pipe.execute()
    return _text(replies[0]), replies[2::2]


def write_text(key, text, *, only_if_missing=False):
    """Store *text* at *key* with no expiry (unless a value is there and *only_if_missing*); return the value kept."""
    cache, client = shared_cache(), redis_client()
    if client is None:
        if not only_if_missing:
            cache.set(key, text, None)
            return text
        cache.add(key, text, None)
        return cache.get(key, text)
    redis_key = cache.make_and_validate_key(key)
    if not only_if_missing:
        client.set(redis_key, text)
        return text
    pipe = client.pipeline(transaction=False)
    pipe.set(redis_key, text, nx=True)
    pipe.get(redis_key)
    return _text(pipe.execute()[1])


def _text(raw):
    if raw is None:
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        # Written through Django's cache API (pickled) by an earlier mcp_bridge: a stable token all the same.
        return raw.hex()


def _count(cache, key, timeout):
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1


def _forget(*, setting, **kwargs):
    global _shared, _redis
    if setting in ("CACHES", "MCP_BRIDGE"):
        if _redis not in (None, _NOT_BUILT):
            _redis.connection_pool.disconnect()  # its sockets close now, not whenever the pool is collected
        _shared, _redis = None, _NOT_BUILT


setting_changed.connect(_forget)
