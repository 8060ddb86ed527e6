"""Per-user permission sets, cached so a tool call costs no permission queries.

Django's ModelBackend caches permissions on the user object for one request only; MCP calls
arrive as many short requests, so the set is kept in the shared cache under the *access
generation*: a value that every change to users, groups, permissions or credentials replaces, and
that every call reads (in the same cache round trip as its rate-limit counters).
"""

import time
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save

from .cache import read_and_count, shared_cache
from .conf import mcp_settings

GENERATION_KEY = "mcp_bridge:permissions:generation"

# The shared entry is also remembered in this process for a few seconds, saving a cache read per
# call. The key holds the generation (read from the shared cache on every call) and the superuser
# flag, so any change that bumps the generation is seen on the next call, in every process.
_RECENT_SECONDS = 10
_RECENT_SIZE = 10_000
_recent_sets = {}


def permissions_generation():
    return access_generation()[0]


def access_generation(counters=()):
    """Return (the access generation, the counts of *counters*), read in one cache round trip.

    *counters* are `(key, timeout)` pairs counted once each (the rate limits of a call).
    """
    generation, counts = read_and_count(GENERATION_KEY, counters)
    if generation is None:
        cache, fresh = shared_cache(), uuid.uuid4().hex
        cache.add(GENERATION_KEY, fresh, None)  # another process may have set one first: use theirs
        generation = cache.get(GENERATION_KEY, fresh)
    return generation, counts


def invalidate_permissions(update_fields=None, **kwargs):
    """Forget every cached permission set and remembered credential (on any change to who may do what)."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every admin log-in saves the user; that changes nobody's access
    shared_cache().set(GENERATION_KEY, uuid.uuid4().hex, None)


def prime_permissions(user, generation=None):
    """Load *user*'s permissions from the cache (or the database once) into ModelBackend's cache.

    Return the generation the set belongs to, which keys everything derived from it.
    """
    if generation is None:
        generation = permissions_generation()
    if not user.is_active or user.is_anonymous:
        user._perm_cache = set()
        return generation
    # The superuser flag is part of the key: a flag cleared without signals (QuerySet.update, raw
    # SQL) must not keep the all-permissions set of the superuser era.
    key = f"mcp_bridge:permissions:{generation}:{user.pk}:{int(user.is_superuser)}"
    now = time.monotonic()
    remembered = _recent_sets.get(key)
    if remembered is not None and remembered[1] > now:
        perms = remembered[0]
    else:
        cache = shared_cache()
        perms = cache.get(key)
        if perms is None:
            perms = user.get_all_permissions()
            cache.set(key, perms, mcp_settings.PERMISSION_CACHE_TIMEOUT)
        if len(_recent_sets) >= _RECENT_SIZE:
            _recent_sets.clear()
        _recent_sets[key] = (frozenset(perms), now + min(mcp_settings.PERMISSION_CACHE_TIMEOUT, _RECENT_SECONDS))
    # ModelBackend.has_perm() reads these attributes before querying.
    user._perm_cache = set(perms)
    user._user_perm_cache = user._group_perm_cache = set(perms)
    return generation


def connect_signals(credential_models=()):
    """Replace the access generation on every change to users, groups, permissions and *credential_models*."""
    user_model = get_user_model()
    for model in (user_model, Group, Permission, *credential_models):
        post_save.connect(invalidate_permissions, sender=model, dispatch_uid=f"mcp_bridge.perm.save.{model._meta.label}")
        post_delete.connect(invalidate_permissions, sender=model, dispatch_uid=f"mcp_bridge.perm.del.{model._meta.label}")
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(invalidate_permissions, sender=through, dispatch_uid=f"mcp_bridge.perm.m2m.{through._meta.label}")
