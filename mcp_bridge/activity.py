"""The "MCP activity" admin page's numbers and charts, read from the audit trail (AuditEntry rows).

Every query is bounded by the chosen window (the `created` index) and grouped in the database, so
the number of rows read does not grow with traffic, except the latency sample: percentiles are
computed in Python (portable to SQLite and PostgreSQL) over the newest LATENCY_SAMPLE durations of
the window at most. Charts are SVG built here, inline in the page: no JavaScript, no CDN, a <title>
on every bar as its tooltip.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .models import AuditEntry, AuditOutcome


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    length: timedelta
    bucket: str  # "hour" or "day"


#: The windows the page offers, by their query-string key; the first is the default.
WINDOWS = {
    window.key: window
    for window in (
        Window("24h", "Last 24 hours", timedelta(hours=24), "hour"),
        Window("7d", "Last 7 days", timedelta(days=7), "day"),
        Window("30d", "Last 30 days", timedelta(days=30), "day"),
    )
}
DEFAULT_WINDOW = "24h"
#: The most durations read for the percentiles; beyond it, the newest of the window are used.
LATENCY_SAMPLE = 20_000
#: Tools drawn in their own colour in the calls chart; the others are summed as "other tools".
CHART_TOOLS = 8
#: Rows of the "slowest", "most refused" and "top callers" tables.
TOP = 10
#: Outcomes counted as errors (the error rate): an isError result or an internal failure.
ERROR_OUTCOMES = (AuditOutcome.ERROR, AuditOutcome.FAILED)
#: Outcomes counted as refusals: not permitted (or unknown), or over a rate limit.
REFUSED_OUTCOMES = (AuditOutcome.REFUSED, AuditOutcome.RATE_LIMITED)
PALETTE = ("#417690", "#e0a526", "#79aec8", "#ba2121", "#5b8a3c", "#8e6bb5", "#c26b2c", "#2f9c95", "#999999")


def percentile(sorted_values, percent):
    """The nearest-rank *percent* percentile of *sorted_values* (ascending), or None if there are none."""
    if not sorted_values:
        return None
    rank = max(math.ceil(percent / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


@dataclass
class ToolStats:
    name: str
    calls: int = 0
    errors: int = 0
    refused: int = 0
    rate_limited: int = 0
    p50: float | None = None
    p95: float | None = None
    sampled: int = 0

    @property
    def error_rate(self):
        return self.errors / self.calls if self.calls else 0.0

    @property
    def refusals(self):
        return self.refused + self.rate_limited

    @property
    def error_percent(self):
        return round(self.error_rate * 100, 1)

    @property
    def p50_text(self):
        return format_ms(self.p50)

    @property
    def p95_text(self):
        return format_ms(self.p95)


@dataclass
class Activity:
    """Everything the page shows for one window and kind of call."""

    window: Window
    kind: str
    since: object
    until: object
    buckets: list = field(default_factory=list)  # bucket start datetimes, oldest first
    calls_by_bucket: dict = field(default_factory=dict)  # {tool: {bucket: calls}}
    tools: list = field(default_factory=list)  # ToolStats, most calls first
    callers: list = field(default_factory=list)  # (username, calls, errors), most calls first
    total: ToolStats = field(default_factory=lambda: ToolStats("all"))
    sample_truncated: bool = False

    @property
    def slowest(self):
        timed = [stats for stats in self.tools if stats.p95 is not None]
        return sorted(timed, key=lambda stats: (-stats.p95, -(stats.p50 or 0), stats.name))[:TOP]

    @property
    def most_refused(self):
        refused = [stats for stats in self.tools if stats.refusals]
        return sorted(refused, key=lambda stats: (-stats.refusals, stats.name))[:TOP]


def collect(window_key=DEFAULT_WINDOW, kind=AuditEntry.Kind.TOOL, now=None):
    """Return the Activity of *kind* of call over the window *window_key* (a key of WINDOWS) up to *now*."""
    window = WINDOWS[window_key]
    until = now or timezone.now()
    since = until - window.length
    rows = AuditEntry.objects.filter(created__gte=since, created__lte=until, kind=kind).order_by()
    activity = Activity(window=window, kind=kind, since=since, until=until)
    activity.buckets = bucket_starts(since, until, window.bucket)

    trunc = TruncHour if window.bucket == "hour" else TruncDay
    tz = timezone.get_current_timezone()
    for row in rows.annotate(bucket=trunc("created", tzinfo=tz)).values("bucket", "name").annotate(calls=Count("pk")):
        activity.calls_by_bucket.setdefault(row["name"], {})[bucket_key(row["bucket"])] = row["calls"]

    stats = {}
    for row in rows.values("name", "outcome").annotate(calls=Count("pk")):
        tool = stats.setdefault(row["name"], ToolStats(row["name"]))
        add_outcome(tool, row["outcome"], row["calls"])
        add_outcome(activity.total, row["outcome"], row["calls"])

    durations = defaultdict(list)
    sample = list(
        rows.filter(duration_ms__isnull=False)
        .order_by("-created")
        .values_list("name", "duration_ms")[: LATENCY_SAMPLE + 1]
    )
    activity.sample_truncated = len(sample) > LATENCY_SAMPLE
    for name, duration in sample[:LATENCY_SAMPLE]:
        durations[name].append(duration)
    everything = []
    for name, values in durations.items():
        values.sort()
        everything.extend(values)
        if name in stats:
            tool = stats[name]
            tool.p50, tool.p95, tool.sampled = percentile(values, 50), percentile(values, 95), len(values)
    everything.sort()
    total = activity.total
    total.p50, total.p95, total.sampled = percentile(everything, 50), percentile(everything, 95), len(everything)
    activity.tools = sorted(stats.values(), key=lambda tool: (-tool.calls, tool.name))

    callers = Counter()
    caller_errors = Counter()
    for row in rows.values("username", "outcome").annotate(calls=Count("pk")):
        callers[row["username"]] += row["calls"]
        if row["outcome"] in ERROR_OUTCOMES:
            caller_errors[row["username"]] += row["calls"]
    ranked = sorted(callers.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    activity.callers = [(username, calls, caller_errors[username]) for username, calls in ranked]
    return activity


def add_outcome(stats, outcome, calls):
    stats.calls += calls
    if outcome in ERROR_OUTCOMES:
        stats.errors += calls
    elif outcome == AuditOutcome.REFUSED:
        stats.refused += calls
    elif outcome == AuditOutcome.RATE_LIMITED:
        stats.rate_limited += calls


def bucket_key(moment):
    """A bucket's key: its start in the current time zone, naive (the database's and ours compare equal)."""
    return timezone.localtime(moment).replace(tzinfo=None)


def bucket_starts(since, until, bucket):
    """The keys of the hour or day buckets from *since* to *until*, oldest first (empty ones too)."""
    start = bucket_key(since).replace(minute=0, second=0, microsecond=0)
    step = timedelta(hours=1)
    if bucket == "day":
        start = start.replace(hour=0)
        step = timedelta(days=1)
    end = bucket_key(until)
    starts = []
    while start <= end:
        starts.append(start)
        start += step
    return starts


# -- SVG --------------------------------------------------------------------------------------------------
def calls_chart(activity, width=900, height=260):
    """A stacked bar chart of calls per bucket, one colour per tool (the busiest CHART_TOOLS), as inline SVG."""
    names = [stats.name for stats in activity.tools[:CHART_TOOLS]]
    others = [stats.name for stats in activity.tools[CHART_TOOLS:]]
    series = [(name, activity.calls_by_bucket.get(name, {})) for name in names]
    if others:
        merged = Counter()
        for name in others:
            merged.update(activity.calls_by_bucket.get(name, {}))
        series.append((f"{len(others)} other tools", merged))
    buckets = activity.buckets
    totals = [sum(counts.get(bucket, 0) for _, counts in series) for bucket in buckets]
    top = nice_ceiling(max(totals, default=0))
    left, right, upper, lower = 48, 12, 12, 44
    plot_width, plot_height = width - left - right, height - upper - lower
    slot = plot_width / max(len(buckets), 1)
    bar = max(slot * 0.8, 1)
    label_format = "%H:%M" if activity.window.bucket == "hour" else "%b %d"
    label_every = max(1, math.ceil(len(buckets) / 12))
    parts = [axes(left, upper, plot_width, plot_height, top)]
    for index, bucket in enumerate(buckets):
        x = left + index * slot + (slot - bar) / 2
        base = upper + plot_height
        for colour, (name, counts) in zip(PALETTE, series, strict=False):
            calls = counts.get(bucket, 0)
            if not calls:
                continue
            bar_height = calls / top * plot_height
            base -= bar_height
            parts.append(
                format_html(
                    '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{}: {} call{} ({} from {})</title></rect>",
                    num(x),
                    num(base),
                    num(bar),
                    num(bar_height),
                    colour,
                    name,
                    calls,
                    "" if calls == 1 else "s",
                    activity.window.bucket,
                    bucket.strftime("%Y-%m-%d %H:%M"),
                )
            )
        if index % label_every == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#666">{}</text>',
                    num(left + index * slot + slot / 2),
                    upper + plot_height + 16,
                    bucket.strftime(label_format),
                )
            )
    legend_y = height - 10
    x = left
    for colour, (name, _) in zip(PALETTE, series, strict=False):
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="10" height="10" fill="{}"></rect>'
                '<text x="{}" y="{}" font-size="11" fill="#333">{}</text>',
                x,
                legend_y - 9,
                colour,
                x + 14,
                legend_y,
                name,
            )
        )
        x += 24 + 7 * len(name)
    return svg(width, height, "Calls per tool over time", parts)


def latency_chart(activity, width=900, row=22):
    """Horizontal bars of p95 latency per tool (p50 as a darker inner bar), slowest first, as inline SVG."""
    slowest = activity.slowest
    left, right, upper = 220, 80, 8
    height = upper + row * max(len(slowest), 1) + 24
    plot_width = width - left - right
    top = nice_ceiling(max((stats.p95 for stats in slowest), default=0))
    parts = []
    for index, stats in enumerate(slowest):
        y = upper + index * row
        p95_width = stats.p95 / top * plot_width
        p50_width = (stats.p50 or 0) / top * plot_width
        tooltip = f"{stats.name}: p50 {format_ms(stats.p50)}, p95 {format_ms(stats.p95)} over {stats.sampled} calls"
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="12" text-anchor="end" fill="#333">{}</text>'
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="#79aec8"><title>{}</title></rect>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="#417690"><title>{}</title></rect>'
                '<text x="{}" y="{}" font-size="11" fill="#666">{}</text>',
                left - 6,
                y + 14,
                stats.name,
                left,
                y + 3,
                num(p95_width),
                row - 6,
                tooltip,
                left,
                y + 3,
                num(p50_width),
                row - 6,
                tooltip,
                num(left + p95_width + 4),
                y + 14,
                format_ms(stats.p95),
            )
        )
    parts.append(
        format_html(
            '<text x="{}" y="{}" font-size="11" fill="#666">dark: p50, light: p95 (ms, axis to {})</text>',
            left,
            height - 6,
            format_ms(top),
        )
    )
    return svg(width, height, "p50 and p95 latency per tool", parts)


def axes(left, upper, plot_width, plot_height, top):
    parts = [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ccc"></line>',
            left,
            upper + plot_height,
            left + plot_width,
            upper + plot_height,
        )
    ]
    for step in range(5):
        value = top * step / 4
        y = upper + plot_height - plot_height * step / 4
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#eee"></line>'
                '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#666">{}</text>',
                left,
                num(y),
                left + plot_width,
                num(y),
                left - 6,
                num(y + 4),
                f"{value:g}",
            )
        )
    return mark_safe("".join(parts))


def svg(width, height, title, parts):
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="mcp-chart" role="img" width="{}" height="{}" '
        'viewBox="0 0 {} {}"><title>{}</title>{}</svg>',
        width,
        height,
        width,
        height,
        title,
        format_html_join("", "{}", ((part,) for part in parts)),
    )


def num(value):
    """A coordinate for SVG: one decimal (format_html escapes its arguments to strings first)."""
    return f"{value:.1f}"


def nice_ceiling(value):
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above *value* (an axis maximum); 1 for 0."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * power:
            return factor * power
    return 10 * power


def format_ms(value):
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"
