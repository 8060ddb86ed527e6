"""Throttles for tool calls, in the manner of DRF's throttling policies.

Every tool call is checked by the throttle classes of MCP_BRIDGE['THROTTLE_CLASSES'] (a tool's own
`throttle_classes` replace them for that tool), with rates by scope from MCP_BRIDGE['THROTTLE_RATES'].

The rate throttles count fixed windows (per second, minute, hour or day) in the shared cache, so
every worker process shares one budget. They do not reach the cache themselves: the server's unit of
work increments every counter of `counters()` in the cache round trip that reads the access
generation (`permissions.access_generation`), so throttling costs no round trip of its own, then
hands the counts to `check()` once the tool is known to be visible to the caller:

    throttles = get_throttles(tool)
    generation, counts = access_generation(counters(throttles, request, tool))
    ...
    check(throttles, request, tool, counts)  # raises Throttled

Admins override a tool's rates in the Django admin (`models.ToolRateLimit`: a rate per caller, read by
ToolRateThrottle, and a rate per handshake-era session, read by ToolSessionRateThrottle). Each process
reads the overrides from the database once per access generation, which saving or deleting one
replaces, so a change applies on the next call in every process and the warm path costs no query.
"""

import logging
import math
import time

from django.core.exceptions import ImproperlyConfigured
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from .cache import read_and_count
from .conf import mcp_settings
from .permissions import GENERATION_KEY, generation_seen

logger = logging.getLogger(__name__)

#: The periods a rate may name: DRF's forms, and the words spelled out.
PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
PERIOD_WORDS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


class Throttled(Exception):
    """A tool call over a throttle's limit: *message* says the limit and when to retry; *wait* is in seconds."""

    def __init__(self, message, wait=None):
        super().__init__(message)
        self.message = message
        self.wait = wait


def parse_rate(rate, scope=None):
    """Return (number of calls, period in seconds) for *rate* ('100/min'); (None, None) for None (no limit).

    Accepts DRF's forms: '10/s', '10/sec', '100/m', '100/min', '5/h', '5/hour', '1000/d', '1000/day'
    (and 'second', 'minute'). Anything else raises ImproperlyConfigured naming *scope*.
    """
    if rate is None:
        return None, None
    count, _, period = rate.partition("/") if isinstance(rate, str) else ("", "", "")
    try:
        num_requests, duration = int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        num_requests = duration = None
    if num_requests is None or num_requests < 1:
        where = f" for the scope {scope!r}" if scope is not None else ""
        raise ImproperlyConfigured(
            f"Invalid throttle rate {rate!r}{where} in MCP_BRIDGE['THROTTLE_RATES']: use '<calls>/<period>' with a "
            "whole number of calls, at least 1, per s, sec, m, min, h, hour, d or day, e.g. '600/min', or None for "
            "no limit."
        )
    return num_requests, duration


def rate_problem(rate):
    """Return why *rate* is not a rate a ToolRateLimit may hold, or None if it is one ('' is: no limit)."""
    if rate == "":
        return None
    try:
        parse_rate(rate)
    except ImproperlyConfigured:
        return (
            f"{rate!r} is not a rate: use '<calls>/<period>' with a whole number of calls, at least 1, per s, sec, "
            "second, m, min, minute, h, hour, d or day, e.g. '10/minute', or leave it empty."
        )
    return None


def handshake_session_id(request):
    """Return the Mcp-Session-Id of a handshake-era (2025) session the call belongs to, or None.

    Only a stateful server has sessions, and only for the handshake era: a 2026-07-28 call is
    stateless whatever headers it sends, and stdio and in-process calls have no HTTP headers. The SDK
    has already refused an id that is not one of this process's sessions, or not the caller's.
    """
    if mcp_settings.STATELESS_HTTP:
        return None
    version = request.headers.get("mcp-protocol-version")
    if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return None
    return request.headers.get("mcp-session-id") or None


#: No override for this tool: THROTTLE_RATES applies.
DEFAULT = object()


class ToolRateOverrides:
    """The per-tool rates admins set (ToolRateLimit rows), read once per access generation in each process.

    `current()` is what this process read last, for choosing a call's counter before the call has read
    the generation; `for_generation()` is the overrides as of a generation, read from the database
    only when the generation changed. A row that cannot be used (a rate that does not parse, written
    around the admin's validation) is logged and ignored: the settings' rate applies.
    """

    def __init__(self):
        self.state = (None, {})  # (generation, {tool name: (rate, session rate)}), replaced whole

    def current(self):
        return self.state[1]

    def for_generation(self, generation):
        loaded_for, rates = self.state
        if generation is None or generation == loaded_for:
            return rates
        rates = self.load()
        if rates is None:
            return self.state[1]  # unreadable now: try again on the next call
        self.state = (generation, rates)
        return rates

    def clear(self):
        self.state = (None, {})

    def load(self):
        """Return {tool name: (rate, session rate)} from the database; None if it cannot be read.

        A rate is DEFAULT (no override), None (no limit) or a valid rate string.
        """
        from .models import ToolRateLimit

        try:
            rows = list(ToolRateLimit.objects.values_list("tool__name", "rate", "session_rate"))
        except Exception:
            # Overrides must never break calls: the settings' rates apply until the rows can be read.
            logger.warning("Tool rate limits could not be read; THROTTLE_RATES apply meanwhile.", exc_info=True)
            return None
        rates = {}
        for name, rate, session_rate in rows:
            rates[name] = (
                self.usable(name, "rate", rate, DEFAULT),
                self.usable(name, "session_rate", session_rate, None),
            )
        return rates

    @staticmethod
    def usable(name, field, rate, if_invalid):
        problem = rate_problem(rate)
        if problem is not None:
            logger.warning("Ignoring the %s of the rate limit of the tool %r: %s", field, name, problem)
            return if_invalid
        return rate or None


tool_rate_overrides = ToolRateOverrides()


def stored_rate_errors(databases=None):
    """System check E341: stored ToolRateLimit rates that do not parse (written around the admin's form).

    Reads the database, so it runs only when the check is asked for it (`migrate`, `check --database`).
    """
    from django.core import checks
    from django.db import DatabaseError, router

    from .models import ToolRateLimit

    using = router.db_for_read(ToolRateLimit)
    if not databases or using not in databases:
        return []
    try:
        rows = list(ToolRateLimit.objects.using(using).select_related("tool"))
    except DatabaseError:
        return []  # not migrated yet: nothing stored
    return [
        checks.Error(
            f"The {field} of the rate limit of the tool {row.tool.name!r} is invalid: {problem}",
            hint=(
                "Correct it in the admin (MCP bridge > Tool rate limits). Until then calls ignore it, and "
                "MCP_BRIDGE['THROTTLE_RATES'] applies to the tool."
            ),
            obj=row,
            id="mcp_bridge.E341",
        )
        for row in rows
        for field in ("rate", "session_rate")
        if (problem := rate_problem(getattr(row, field))) is not None
    ]


class BaseThrottle:
    """Rate throttling of tool calls.

    A throttle is built for each call. `allow_request()` decides; a throttle that counts calls in the
    shared cache says where with `get_counter()`, and receives the count (this call included) in
    `count` before `allow_request()` is asked.
    """

    #: The cache counter this call was counted in (set by get_counter), and its count after this call.
    key: str | None = None
    count: int | None = None

    @classmethod
    def rate_scopes(cls, tool):
        """Return the THROTTLE_RATES scopes this throttle reads for calls of *tool* (None: an unknown name).

        System check W013 warns about a rate that no throttle reads.
        """
        return ()

    def get_ident(self, request):
        """Identify the caller: its credential (an API key, a token, a local user), or None if unknown."""
        return request.auth.session_identity if request.auth is not None else None

    def get_counter(self, request, tool):
        """Return (cache key, timeout in seconds) of the counter this call counts in, or None to count nothing.

        Asked before the caller is known to see *tool* (None: a name the registry does not have), so
        that calls of hidden and unknown tools spend the budget too.
        """
        return None

    def refresh(self, request, tool, generation):
        """Catch up with *generation*, read after `get_counter()`; return a counter to count in now, or None.

        For a throttle whose rate comes from state keyed by the access generation (an admin's override):
        counted in a window of the rate it knew, it may need another window once the new rate is known.
        """
        return None

    def allow_request(self, request, tool):
        """Return True if this call of *tool*, which the caller may see, may go ahead."""
        raise NotImplementedError(".allow_request() must be overridden")  # pragma: no cover

    def wait(self):
        """Return the seconds to wait before the next call would be allowed, or None if unknown."""
        return None

    def get_message(self, request, tool):
        """Return the text a refused caller reads (the calling model decides from it when to retry)."""
        wait = self.wait()
        what = f" for {tool.name}" if tool is not None else ""
        if wait is None:
            return f"Rate limit reached{what}. Try again later."
        return f"Rate limit reached{what}. Try again in {math.ceil(wait)} s."


class SimpleRateThrottle(BaseThrottle):
    """A fixed-window limit of `rate` calls per period, counted in the shared cache.

    The rate is `rate`, or THROTTLE_RATES[scope]; a scope without a rate (or with None) is not limited.
    Calls are counted per credential (`get_cache_key()`). Windows start at multiples of the period since the epoch
    of `timer`, which tests replace to move through windows without sleeping.
    """

    timer = time.time
    cache_format = "mcp_bridge:throttle:%(scope)s:%(ident)s"
    scope: str | None = None
    rate: str | None = None
    num_requests: int | None = None
    duration: int | None = None
    now: float | None = None  # when this call was counted

    @property
    def THROTTLE_RATES(self):
        # Read on use, not bound at import (DRF's gotcha), so override_settings reaches it.
        return mcp_settings.THROTTLE_RATES

    def __init__(self):
        if not self.rate:
            self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    @classmethod
    def rate_scopes(cls, tool):
        return (cls.scope,) if cls.scope and not cls.rate else ()

    def get_rate(self):
        """Return the rate string for `scope` (None if THROTTLE_RATES gives it none)."""
        if not self.scope:
            raise ImproperlyConfigured(
                f"You must set either `.scope` or `.rate` for the {type(self).__name__!r} throttle."
            )
        return self.THROTTLE_RATES.get(self.scope)

    def parse_rate(self, rate):
        """Return (number of calls, period in seconds) for *rate*, or (None, None) for None."""
        return parse_rate(rate, self.scope)

    def get_cache_key(self, request, tool):
        """Return the key of this caller's counter in `scope` (without the window), or None not to throttle.

        Keyed by the caller's credential; override to count by something else (a user, a tenant).
        """
        ident = self.get_ident(request)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}

    def get_counter(self, request, tool):
        if self.rate is None:
            return None
        key = self.get_cache_key(request, tool)
        if key is None:
            return None
        self.now = self.timer()
        self.key = f"{key}:{int(self.now // self.duration)}"
        return self.key, self.duration + 1  # a window's counter outlives the window by a second

    def allow_request(self, request, tool):
        return self.key is None or self.count <= self.num_requests

    def wait(self):
        """Return the seconds until this window ends (and a new budget starts)."""
        if self.now is None:
            return None
        return self.duration - self.now % self.duration

    def period_text(self):
        """The period in words: 'minute', or '90 s' for a period a subclass's parse_rate() allows."""
        return PERIOD_WORDS.get(self.duration, f"{self.duration} s")

    def calls_text(self, noun="call"):
        """'30 calls', '1 call': the limit in words."""
        return f"{self.num_requests} {noun}{'s' if self.num_requests != 1 else ''}"


class CredentialRateThrottle(SimpleRateThrottle):
    """Limit all tool calls of one credential (an API key, a token, a local user): scope 'credential'."""

    scope = "credential"

    def get_message(self, request, tool):
        return (
            f"Rate limit reached: at most {self.calls_text('tool call')} per {self.period_text()} for this credential. "
            f"Try again in {math.ceil(self.wait())} s, and batch work into fewer calls where a tool allows it."
        )


class AdminOverrideMixin:
    """Rates that an admin's ToolRateLimit override: `configure()` sets the rate from the overrides."""

    #: The override this call was counted with (DEFAULT: none).
    override = DEFAULT

    def __init__(self):
        # The rate is known only once the tool is (as DRF's ScopedRateThrottle waits for the view).
        pass

    def override_for(self, tool, overrides):
        raise NotImplementedError(".override_for() must be overridden")  # pragma: no cover

    def configure(self, tool, overrides):
        raise NotImplementedError(".configure() must be overridden")  # pragma: no cover

    def get_counter(self, request, tool):
        if tool is None:
            return None
        self.configure(tool, tool_rate_overrides.current())
        return super().get_counter(request, tool)

    def refresh(self, request, tool, generation):
        if tool is None:
            return None
        overrides = tool_rate_overrides.for_generation(generation)
        if self.override_for(tool, overrides) == self.override:
            return None
        counted = (self.scope, self.duration) if self.key is not None else None
        self.configure(tool, overrides)
        if counted is not None and counted == (self.scope, self.duration):
            return None  # the same window: its count stands, against the new limit
        self.key = self.count = None
        return super().get_counter(request, tool)


class ToolRateThrottle(AdminOverrideMixin, SimpleRateThrottle):
    """Limit one credential's calls of a tool: scope `tool.throttle_scope`, by default the tool's name.

    Tools that share a throttle_scope share one budget. The rate is THROTTLE_RATES[scope], else the
    tool's own `default_throttle_rate` (reports: MCP_BRIDGE['REPORT_THROTTLE_RATE']). A call of an
    unknown name, or of a tool whose scope has neither, is not limited by this throttle.

    An admin's ToolRateLimit for the tool replaces that rate (an empty rate: no limit) and gives the
    tool a budget of its own, counted under its name.
    """

    @classmethod
    def rate_scopes(cls, tool):
        return (tool.throttle_scope or tool.name,) if tool is not None else ()

    def override_for(self, tool, overrides):
        return overrides.get(tool.name, (DEFAULT, None))[0]

    def configure(self, tool, overrides):
        self.override = self.override_for(tool, overrides)
        if self.override is DEFAULT:
            self.scope = self.rate_scopes(tool)[0]
            rate = self.get_rate()
            self.rate = rate if rate is not None else tool.default_throttle_rate
        else:
            self.scope, self.rate = tool.name, self.override
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_message(self, request, tool):
        shared = f" (shared by the tools of throttle scope {self.scope!r})" if self.scope != tool.name else ""
        return (
            f"Rate limit reached for {tool.name}: at most {self.calls_text()} per {self.period_text()}{shared}. "
            f"Try again in {math.ceil(self.wait())} s."
        )


class SessionRateThrottle(SimpleRateThrottle):
    """Limit all tool calls of one handshake-era (2025) session: scope 'session', no rate by default.

    Counted per Mcp-Session-Id (and credential), so two sessions of one API key have a budget each.
    Stateless calls (2026-07-28, a STATELESS_HTTP server, stdio) have no session and are not limited.
    """

    scope = "session"

    def get_cache_key(self, request, tool):
        session_id, ident = handshake_session_id(request), self.get_ident(request)
        if session_id is None or ident is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"{ident}:{session_id}"}

    def get_message(self, request, tool):
        return (
            f"Rate limit reached: at most {self.calls_text('tool call')} per {self.period_text()} in this session. "
            f"Try again in {math.ceil(self.wait())} s."
        )


class ToolSessionRateThrottle(AdminOverrideMixin, SessionRateThrottle):
    """Limit one handshake-era session's calls of a tool, at the session rate an admin's ToolRateLimit sets.

    Tools without one (the default) are not limited by this throttle.
    """

    scope = "session_tool"

    @classmethod
    def rate_scopes(cls, tool):
        return ()  # its rates are set in the admin, not in THROTTLE_RATES

    def override_for(self, tool, overrides):
        return overrides.get(tool.name, (DEFAULT, None))[1]

    def configure(self, tool, overrides):
        self.override = self.rate = self.override_for(tool, overrides)
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request, tool):
        key = super().get_cache_key(request, tool)
        return None if key is None else f"{key}:{tool.name}"

    def get_message(self, request, tool):
        return (
            f"Rate limit reached for {tool.name}: at most {self.calls_text()} per {self.period_text()} in this "
            f"session. Try again in {math.ceil(self.wait())} s."
        )


# -- what the server's unit of work calls ---------------------------------------------------------


def get_throttles(tool):
    """Return a fresh instance of each throttle class for a call of *tool* (None: a name the registry lacks)."""
    if tool is None or tool.throttle_classes is None:
        classes = mcp_settings.THROTTLE_CLASSES
    else:
        classes = tool.throttle_classes
    return [throttle_class() for throttle_class in classes]


def counters(throttles, request, tool):
    """Return [(cache key, timeout)]: the windows this call counts in, for `access_generation()` to increment."""
    windows = []
    for throttle in throttles:
        window = throttle.get_counter(request, tool)
        if window is not None:
            throttle.key = window[0]  # check() hands this counter's count back to this throttle
            windows.append(window)
    return windows


def check(throttles, request, tool, counts, generation=None):
    """Raise Throttled if any of *throttles* refuses the call; *counts* are those of `counters()`, in order.

    *generation* is the access generation the call read (by default, the one this thread read last):
    a throttle whose rate changed with it counts in its new window here, in one more round trip that
    only the first call after a change makes. Of several refusals, the one with the longest wait is
    reported (as DRF reports the longest): retrying sooner would be refused again.
    """
    counts = iter(counts)
    for throttle in throttles:
        if throttle.key is not None:
            throttle.count = next(counts)
    generation = generation_seen() if generation is None else generation
    late = [(throttle, throttle.refresh(request, tool, generation)) for throttle in throttles]
    late = [(throttle, window) for throttle, window in late if window is not None]
    if late:
        _, late_counts = read_and_count(GENERATION_KEY, [window for _, window in late])
        for (throttle, window), count in zip(late, late_counts, strict=True):
            throttle.key, throttle.count = window[0], count
    refusals = [throttle for throttle in throttles if not throttle.allow_request(request, tool)]
    if refusals:
        throttle = max(refusals, key=lambda refusal: refusal.wait() or 0)
        wait = throttle.wait()
        raise Throttled(throttle.get_message(request, tool), None if wait is None else math.ceil(wait))
