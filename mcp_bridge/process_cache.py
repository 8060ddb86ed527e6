"""Bounded, expiring memory kept in one process (remembered credentials, permission sets, tool lists).

Every such map in mcp_bridge is a `ProcessCache`: at most *maxsize* entries, the least recently used
dropped first when full, each entry gone after its own time to live. Built on cachetools' TLRUCache,
behind a lock because worker threads share it.
"""

import threading
import time

from cachetools import TLRUCache


class ProcessCache:
    """A thread-safe map of at most *maxsize* entries that expire *ttl* seconds after they are set.

    `set(key, value, ttl=...)` overrides the default time to live for one entry; None keeps an entry
    until it is evicted or cleared.
    """

    def __init__(self, maxsize, ttl=None, *, timer=time.monotonic):
        self.default_ttl = ttl
        self._lock = threading.Lock()
        self._entries = TLRUCache(maxsize, self._expires_at, timer=timer)

    @staticmethod
    def _expires_at(key, stored, now):
        ttl = stored[1]
        return float("inf") if ttl is None else now + ttl

    def get(self, key, default=None):
        with self._lock:
            stored = self._entries.get(key)
        return default if stored is None else stored[0]

    def set(self, key, value, ttl=...):
        ttl = self.default_ttl if ttl is ... else ttl
        with self._lock:
            self._entries[key] = (value, ttl)

    def pop(self, key, default=None):
        with self._lock:
            stored = self._entries.pop(key, None)
        return default if stored is None else stored[0]

    def clear(self):
        with self._lock:
            self._entries.clear()

    def __len__(self):
        with self._lock:
            return len(self._entries)
