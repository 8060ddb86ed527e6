"""Rate limits per credential (a client's session) and per tool, counted in the shared cache.

Fixed windows (per second, minute, hour or day), shared by every worker process when the cache is
(Redis in production). A call's counters are incremented in the same cache round trip that reads
the access generation (see `permissions.access_generation`), so limits cost no extra round trip.
"""

import time
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Limit:
    """One rate limit that applies to a call: its counter in the current window and its budget."""

    counter: str
    count: int
    period: int
    message: str

    @property
    def timeout(self):
        return self.period + 1


def limits_for(principal, tool_name, now=None):
    """The limits one call of *tool_name* by *principal* counts against, with this window's counters."""
    now = time.time() if now is None else now
    identity = principal.session_identity
    candidates = (
        (f"c:{identity}", parse_rate(mcp_settings.THROTTLE_RATES.get("credential")),
         "Rate limit reached: at most {count} tool calls per {period} for this credential. "
         "Try again in {retry} s, and batch work into fewer calls where a tool allows it."),
        (f"t:{identity}:{tool_name}", parse_rate(mcp_settings.THROTTLE_RATES.get(tool_name)),
         f"Rate limit reached for {tool_name}: at most {{count}} calls per {{period}}. Try again in {{retry}} s."),
    )
    return [
        Limit(f"mcp_bridge:rate:{key}:{int(now // rate[1])}", rate[0], rate[1], message)
        for key, rate, message in candidates
        if rate is not None
    ]


def enforce(limits, counts, now=None):
    """Raise RateLimited for the first of *limits* whose count (after this call) is over budget."""
    now = time.time() if now is None else now
    for limit, count in zip(limits, counts):
        if count > limit.count:
            retry = int(limit.period - now % limit.period) + 1
            raise RateLimited(limit.message.format(count=limit.count, period=_period_text(limit.period), retry=retry), retry)


def _period_text(seconds):
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} s")
