"""The MCP cache: one instance per process, and Redis reached through redis-py's public client.

The round-trip tests run on the configured cache: the demo's file cache, or Redis when REDIS_URL is
set (as in CI), where they go through mcp_bridge's own redis-py client.
"""

import pytest
import redis

from mcp_bridge.cache import read_and_count, redis_client, redis_connection_pool, shared_cache, write_text

REDIS = "django.core.cache.backends.redis.RedisCache"


class CustomPool(redis.ConnectionPool):
    """A pool class named by a dotted path in OPTIONS, as Django's RedisCache accepts it."""


def redis_alias(settings, location, **options):
    settings.CACHES = {**settings.CACHES, "mcp": {"BACKEND": REDIS, "LOCATION": location, "OPTIONS": options}}
    return "mcp"


@pytest.mark.parametrize(
    "location",
    [
        "redis://127.0.0.1:6390/4,redis://replica:6379/4",
        "redis://127.0.0.1:6390/4;redis://replica:6379/4",
        ["redis://127.0.0.1:6390/4", "redis://replica:6379/4"],
    ],
)
def test_the_pool_is_for_the_primary_server(settings, location):
    """Django's RedisCache writes to the first LOCATION; counters are writes, so they go there too."""
    pool = redis_connection_pool(redis_alias(settings, location))
    assert pool.connection_kwargs["host"] == "127.0.0.1"
    assert pool.connection_kwargs["port"] == 6390
    assert pool.connection_kwargs["db"] == 4


def test_the_pool_takes_the_cache_options(settings):
    alias = redis_alias(
        settings,
        "redis://127.0.0.1:6390/0",
        max_connections=7,
        socket_timeout=3,
        pool_class=f"{__name__}.CustomPool",
        serializer="django.core.cache.backends.redis.RedisSerializer",  # Django's own values: not used here
    )
    pool = redis_connection_pool(alias)
    assert type(pool) is CustomPool
    assert pool.max_connections == 7
    assert pool.connection_kwargs["socket_timeout"] == 3
    assert "serializer" not in pool.connection_kwargs


def test_a_cache_that_is_not_redis_has_no_pool(settings):
    settings.CACHES = {**settings.CACHES, "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert redis_connection_pool("local") is None
    assert redis_connection_pool("no-such-alias") is None


def test_one_client_per_process_for_the_configured_alias(settings):
    client = redis_client()
    assert redis_client() is client
    alias = redis_alias(settings, "redis://127.0.0.1:6390/0")
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": alias}  # a setting change builds it anew
    assert isinstance(redis_client(), redis.Redis)
    assert redis_client().connection_pool.connection_kwargs["port"] == 6390


def test_read_and_count_in_one_call():
    shared_cache().delete("test:cache:value")
    for key in ("test:cache:a", "test:cache:b"):
        shared_cache().delete(key)
    assert read_and_count("test:cache:value") == (None, [])
    write_text("test:cache:value", "first")
    counters = [("test:cache:a", 60), ("test:cache:b", 60)]
    assert read_and_count("test:cache:value", counters) == ("first", [1, 1])
    assert read_and_count("test:cache:value", counters[:1]) == ("first", [2])


def test_write_text_only_if_missing_keeps_the_value_there():
    shared_cache().delete("test:cache:text")
    assert write_text("test:cache:text", "mine", only_if_missing=True) == "mine"
    assert write_text("test:cache:text", "theirs", only_if_missing=True) == "mine"
    assert write_text("test:cache:text", "replaced") == "replaced"
    assert read_and_count("test:cache:text") == ("replaced", [])


def test_keys_follow_the_cache_key_prefix_and_version(settings):
    """The keys are the cache's own (make_and_validate_key), so KEY_PREFIX and VERSION still separate projects."""
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "KEY_PREFIX": "other-project"}}
    write_text("test:cache:prefixed", "theirs")
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "KEY_PREFIX": ""}}
    shared_cache().delete("test:cache:prefixed")
    assert read_and_count("test:cache:prefixed") == (None, [])
