"""The cache mcp_bridge keeps shared state in: one backend instance per process, one round trip per call.

`django.core.cache.cache` hands every asyncio task its own backend instance (the cache handler is
context-local), so under ASGI Django's RedisCache opens a fresh Redis connection for every request
(Django ticket #35651). mcp_bridge reads the cache on every call, so it keeps one instance of the
configured alias per process instead; its connection pool is shared by every thread.
"""

import threading

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed

from .conf import mcp_settings

_lock = threading.Lock()
_shared = None


def shared_cache():
    """The process-wide instance of the cache alias MCP_BRIDGE['CACHE_ALIAS'] names."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = caches.create_connection(mcp_settings.CACHE_ALIAS)
    return _shared


def read_and_count(read_key, counters=()):
    """Read *read_key* and count one hit on each `(key, timeout)` counter; return (value, counts).

    A counter starts at 1 in a new window and expires *timeout* seconds after its first hit. With
    Django's RedisCache all of it is one pipelined round trip; other backends use get/add/incr.
    """
    cache = shared_cache()
    if isinstance(cache, RedisCache):
        return _redis_read_and_count(cache, read_key, counters)
    return cache.get(read_key), [_count(cache, key, timeout) for key, timeout in counters]


def _redis_read_and_count(cache, read_key, counters):
    client = cache._cache.get_client(write=True)  # the primary: counters are written, the read must be fresh
    pipe = client.pipeline(transaction=False)
    pipe.get(cache.make_and_validate_key(read_key))
    for key, timeout in counters:
        redis_key = cache.make_and_validate_key(key)
        pipe.set(redis_key, 0, ex=timeout, nx=True)  # Django's RedisCache stores ints unpickled, as incr() does
        pipe.incr(redis_key)
    replies = pipe.execute()
    raw = replies[0]
    return (None if raw is None else cache._cache._serializer.loads(raw)), replies[2::2]


def _count(cache, key, timeout):
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1


def _forget(*, setting, **kwargs):
    global _shared
    if setting in ("CACHES", "MCP_BRIDGE"):
        _shared = None


setting_changed.connect(_forget)
