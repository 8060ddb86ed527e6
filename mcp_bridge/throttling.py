"""Rate limits per credential (a client's session) and per tool, counted in Django's shared cache.

Fixed one-minute-style windows: cheap (one cache add + incr per limit) and shared by every worker
process when the cache is (Redis in production).
"""

import time

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from .conf import mcp_settings

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate):
    """'600/min' -> (600, 60); None -> None."""
    if rate is None:
        return None
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"Invalid MCP_BRIDGE rate {rate!r}: use '<count>/<s|min|hour|day>', e.g. '600/min'."
        ) from None


class RateLimited(Exception):
    def __init__(self, message, retry_after):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _hit(key, limit, period, now):
    window = int(now // period)
    cache_key = f"mcp_bridge:rate:{key}:{window}"
    if cache.add(cache_key, 1, period + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, period + 1)
            count = 1
    return count <= limit, int(period - now % period) + 1


def check_rate_limits(principal, tool_name, now=None):
    """Count one call of *tool_name* by *principal*; raise RateLimited when a limit is exceeded."""
    now = time.time() if now is None else now
    identity = principal.session_identity
    limits = (
        (f"c:{identity}", parse_rate(mcp_settings.CALL_RATE),
         "Rate limit reached: at most {count} tool calls per {period} for this credential. "
         "Try again in {retry} s, and batch work into fewer calls where a tool allows it."),
        (f"t:{identity}:{tool_name}", parse_rate(mcp_settings.TOOL_RATES.get(tool_name)),
         f"Rate limit reached for {tool_name}: at most {{count}} calls per {{period}}. Try again in {{retry}} s."),
    )
    for key, rate, message in limits:
        if rate is None:
            continue
        allowed, retry = _hit(key, *rate, now)
        if not allowed:
            raise RateLimited(message.format(count=rate[0], period=_period_text(rate[1]), retry=retry), retry)

def _period_text(seconds):
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} s")
