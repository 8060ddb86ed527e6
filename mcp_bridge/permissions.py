"""Per-user permission sets, cached so a tool call costs no permission queries.

Django's ModelBackend caches permissions on the user object for one request only; MCP calls
arrive as many short requests, so the set is kept in the MCP cache under the *access generation*:
a value that every change to users, groups, permissions or credentials replaces, and that every
call reads. A cache shared by every process (Redis, Memcached, files, the database) holds it, read
in the same round trip as the call's rate-limit counters. A cache of the process's own (LocMemCache,
DummyCache) never sees a change made in another process, so then it is read from the database: one
query per call, and a grant given in the admin or the shell still applies on the next call.

The set is handed to Django's permission checks as `user.mcp_permissions`, which
`mcp_bridge.backends.McpModelBackend` answers from.
"""

import secrets
import threading

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import DatabaseError, connections, router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from .authentication import UserSnapshot
from .cache import read_and_count, shared_cache, write_text
from .conf import mcp_settings
from .models import AccessGeneration
from .process_cache import ProcessCache

GENERATION_KEY = "mcp_bridge:permissions:generation"
GENERATION_ROW = 1  # the primary key of AccessGeneration's one row

# The shared entry is also remembered in this process for a few seconds, saving a cache read per
# call. The key holds the generation (read on every call) and the superuser flag, so any change
# that replaces the generation is seen on the next call, in every process.
_RECENT_SECONDS = 10
_recent_sets = ProcessCache(maxsize=10_000)

# The generation each thread read last: a unit of work reads it once, and what it decides afterwards
# (a tool's rate-limit override) is keyed by it without another read.
_seen = threading.local()


def new_generation():
    """A fresh access generation.

    Decimal digits: Django's RedisCache reads them as an int (it stores ints unpickled), so a process
    that reads the generation through Django's cache API, as earlier mcp_bridge versions did, sees
    the same change during a rolling deploy.
    """
    return str(secrets.randbits(64))


def cache_is_shared():
    """Whether other processes see what this one writes to the MCP cache."""
    return not isinstance(shared_cache(), (LocMemCache, DummyCache))


def permissions_generation():
    return access_generation()[0]


def access_generation(counters=()):
    """Return (the access generation, the counts of *counters*).

    *counters* are `(key, timeout)` pairs counted once each (the rate limits of a call). With a
    shared cache both come from one cache round trip; otherwise the generation is one database query.
    """
    generation, counts = read_and_count(GENERATION_KEY, counters)
    if not cache_is_shared():
        generation = stored_generation()  # this process's cache holds no one else's changes
    elif generation is None:
        # Another process may have set one first: keep theirs.
        generation = write_text(GENERATION_KEY, new_generation(), only_if_missing=True)
    _seen.generation = generation
    return generation, counts


def generation_seen():
    """Return the access generation this thread read last (in its current unit of work), or None."""
    return getattr(_seen, "generation", None)


def stored_generation():
    """The access generation kept in the database (created on first use)."""
    using = router.db_for_write(AccessGeneration)  # the primary: a replica may lag behind a revocation
    connection, options = connections[using], AccessGeneration._meta
    # Plain SQL: this runs on every call, and compiling the ORM's query costs ten times running it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(options.get_field('value').column)} "
            f"FROM {connection.ops.quote_name(options.db_table)} WHERE {connection.ops.quote_name(options.pk.column)} = %s",
            [GENERATION_ROW],
        )
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    return (
        AccessGeneration.objects.using(using)
        .get_or_create(pk=GENERATION_ROW, defaults={"value": new_generation()})[0]
        .value
    )


def invalidate_permissions(update_fields=None, using=None, action=None, **kwargs):
    """Forget every cached permission set and remembered credential (on any change to who may do what)."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every admin log-in saves the user; that changes nobody's access
    if action is not None and action.startswith("pre_"):
        return  # m2m_changed: the post_ signal that follows is the change
    # Both places, whatever this process reads: a process with another cache may be serving.
    _store_generation(new_generation())
    _replace_cached_generation()
    # A call between now and the commit may cache the old permissions under the new generation:
    # replace it once more when the change is visible. (The row is written inside the transaction.)
    transaction.on_commit(_replace_cached_generation, using=using)


def invalidate_on_credential_change(created=False, **kwargs):
    """A saved credential: a new one changes nothing anyone remembers (OAuth issues one per sign-in and
    refresh); a changed one (revoked, expired, reassigned) replaces the access generation."""
    if not created:
        invalidate_permissions(**kwargs)


def _replace_cached_generation():
    write_text(GENERATION_KEY, new_generation())


def _store_generation(value):
    using = router.db_for_write(AccessGeneration)
    rows = AccessGeneration.objects.using(using)
    try:
        with transaction.atomic(using=using):  # a savepoint: the caller's transaction survives a missing table
            if not rows.filter(pk=GENERATION_ROW).update(value=value):
                if not rows.get_or_create(pk=GENERATION_ROW, defaults={"value": value})[1]:
                    rows.filter(pk=GENERATION_ROW).update(value=value)  # created by a reader meanwhile
    except DatabaseError:
        if AccessGeneration._meta.db_table in connections[using].introspection.table_names():
            raise
        # Users or permissions saved while migrating, before this table exists: nobody reads it yet.


def prime_permissions(user, generation=None):
    """Put *user*'s permission set on `user.mcp_permissions` (a frozenset), for McpModelBackend to answer from.

    The set comes from this process's memory, the MCP cache, or the database once per generation.
    Return the generation the set belongs to, which keys everything derived from it.
    """
    if generation is None:
        generation = permissions_generation()
    if not user.is_active or user.is_anonymous:
        user.mcp_permissions = frozenset()
        return generation
    # The superuser flag is part of the key: a flag cleared without signals (QuerySet.update, raw
    # SQL) must not keep the all-permissions set of the superuser era.
    key = f"mcp_bridge:permissions:{generation}:{user.pk}:{int(user.is_superuser)}"
    perms = _recent_sets.get(key)
    if perms is None:
        cache = shared_cache()
        perms = cache.get(key)
        if perms is None:
            perms = permissions_from_backends(user)
            cache.set(key, perms, mcp_settings.PERMISSION_CACHE_TIMEOUT)
        perms = frozenset(perms)
        _recent_sets.set(key, perms, ttl=min(mcp_settings.PERMISSION_CACHE_TIMEOUT, _RECENT_SECONDS))
    user.mcp_permissions = perms
    return generation


def permissions_from_backends(user):
    """*user*'s permissions as the configured authentication backends give them now.

    Asked of a copy of the instance: ModelBackend keeps what it reads on the instance it is given,
    and a set *user* was primed with earlier would answer for McpModelBackend.
    """
    return UserSnapshot.of(user).build().get_all_permissions()


def connect_signals(credential_models=()):
    """Replace the access generation on every change to users, groups, permissions and *credential_models*."""
    user_model = get_user_model()
    for model in (user_model, Group, Permission):
        post_save.connect(
            invalidate_permissions, sender=model, dispatch_uid=f"mcp_bridge.perm.save.{model._meta.label}"
        )
    for model in credential_models:
        post_save.connect(
            invalidate_on_credential_change, sender=model, dispatch_uid=f"mcp_bridge.perm.save.{model._meta.label}"
        )
    for model in (user_model, Group, Permission, *credential_models):
        post_delete.connect(
            invalidate_permissions, sender=model, dispatch_uid=f"mcp_bridge.perm.del.{model._meta.label}"
        )
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            invalidate_permissions, sender=through, dispatch_uid=f"mcp_bridge.perm.m2m.{through._meta.label}"
        )
