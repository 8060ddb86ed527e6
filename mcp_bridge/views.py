"""Health (the process is up) and readiness (it can serve MCP: database, cache, registry) endpoints."""

import uuid

from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .cache import shared_cache
from .sites import site


@never_cache
def health(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readiness(request):
    checks = {}
    try:
        for alias in connections:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any backend error means "not ready"
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        cache = shared_cache()  # MCP_BRIDGE['CACHE_ALIAS']: the cache every call reads
        probe = f"mcp_bridge:ready:{uuid.uuid4().hex}"
        cache.set(probe, 1, 5)
        checks["cache"] = "ok" if cache.get(probe) == 1 else "error: value not stored"
        cache.delete(probe)
    except Exception as exc:
        checks["cache"] = f"error: {type(exc).__name__}"
    try:
        checks["tools"] = len(site.registry.tools)
    except Exception as exc:
        checks["tools"] = f"error: {type(exc).__name__}"
    ready = checks["database"] == "ok" and checks["cache"] == "ok" and isinstance(checks["tools"], int)
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)
