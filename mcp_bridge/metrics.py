"""Prometheus metrics of MCP calls and report jobs, counted from the `call_finished` signal.

Every CallRecord (mcp_bridge.call_records) moves counters and histograms in memory; nothing else
happens on the call's path. The job queue depth is not counted but read from the database when
Prometheus scrapes (`JobQueueCollector`). `/mcp/metrics` (mcp_bridge.metrics_views) exposes them.

Label values are bounded whatever callers send: a tool, prompt or report is labelled by its name
only if this server's registry has it (else "unknown"), a resource by the URI template it matched,
never by its URI.

Under gunicorn (several worker processes) set PROMETHEUS_MULTIPROC_DIR before the server starts:
each process then writes its values to files there and a scrape sums them (prometheus_client's
multiprocess mode; config/gunicorn.conf.py cleans up after a worker that exits).
"""

import logging
import os

from django.db import router, transaction
from django.db.models import Count

from .call_records import CallRecord, call_finished
from .conf import mcp_settings

try:
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
    from prometheus_client.core import GaugeMetricFamily
except ImportError:  # the `metrics` extra is not installed: no metrics, and METRICS=True fails check E311
    prometheus_client = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

#: What a name the registry does not have is labelled as: callers cannot create label values.
UNKNOWN = "unknown"
#: Call latency buckets, in seconds: from a cached 1 ms read to a 30 s database time budget.
CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Report job buckets, in seconds: up to the 5.5 minute default time limit, and beyond for longer ones.
JOB_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
#: The job statuses the queue depth gauge reports (a job in any other status has left the queue).
QUEUE_STATUSES = ("queued", "running", "input_required")


def prometheus_available():
    return prometheus_client is not None


def enabled():
    """True if metrics are kept: MCP_BRIDGE['METRICS'], or (None) whether prometheus-client is installed."""
    setting = mcp_settings.METRICS
    if setting is None:
        return prometheus_available()
    return bool(setting) and prometheus_available()


def multiprocess_dir():
    """The PROMETHEUS_MULTIPROC_DIR of this process, or None (single-process mode)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


if prometheus_client is not None:
    CALLS = Counter(
        "mcp_calls",
        "MCP tool calls, resource reads and prompt gets, by outcome (ok, error, refused, rate_limited, failed).",
        ["kind", "name", "outcome"],
    )
    ERRORS = Counter(
        "mcp_errors",
        "MCP calls and report jobs that did not end ok, by what went wrong (the outcome).",
        ["kind", "name", "outcome"],
    )
    CALL_DURATION = Histogram(
        "mcp_call_duration_seconds",
        "Seconds from the start of an MCP call to its answer.",
        ["kind", "name"],
        buckets=CALL_BUCKETS,
    )
    RATE_LIMITED = Counter("mcp_rate_limited", "Tool calls refused by a rate limit.", ["name"])
    JOB_DURATION = Histogram(
        "mcp_job_duration_seconds",
        "Seconds a report job ran (from its start, or its creation if it never started), by outcome.",
        ["name", "outcome"],
        buckets=JOB_BUCKETS,
    )


def label_for(record):
    """The bounded label of *record*'s name: its registered name or URI template, else "unknown"."""
    from .sites import site  # the registry is built at the first call, long after this module loads

    registry = site.registry
    if record.kind in ("tool", "job"):
        return record.name if record.name in registry.tools else UNKNOWN
    if record.kind == "prompt":
        return record.name if record.name in registry.prompts else UNKNOWN
    if record.kind == "resource":
        for template in (*registry.resources, *registry.resource_templates):
            if template.match(record.name) is not None:
                return getattr(template, "uri_template", None) or template.uri
    return UNKNOWN


#: The metric children of each (kind, label, outcome) seen, so a call costs no `labels()` lookups (each
#: takes a lock and builds a key). Bounded like the labels: by the registry's names and the outcomes.
_instruments: dict = {}


def instruments(kind, name, outcome):
    """(counter increments, histogram observes) for a call of *kind* labelled *name* that ended with *outcome*."""
    key = (kind, name, outcome)
    found = _instruments.get(key)
    if found is None:
        counters, histograms = [], []
        if outcome != "ok":
            counters.append(ERRORS.labels(kind, name, outcome))
        if kind == "job":
            histograms.append(JOB_DURATION.labels(name, outcome))
        else:
            counters.append(CALLS.labels(kind, name, outcome))
            histograms.append(CALL_DURATION.labels(kind, name))
            if outcome == "rate_limited":
                counters.append(RATE_LIMITED.labels(name))
        found = _instruments[key] = (tuple(counters), tuple(histograms))
    return found


def count_call(sender, record, **kwargs):
    """The `call_finished` receiver: move this process's counters for *record*; never raises."""
    if not enabled():
        return
    try:
        counters, histograms = instruments(record.kind, label_for(record), record.outcome)
        for counter in counters:
            counter.inc()
        seconds = max(record.duration_ms, 0.0) / 1000
        for histogram in histograms:
            histogram.observe(seconds)
    except Exception:  # a metric must never break or slow down the call it measures
        logger.exception("Counting the metrics of %s %r failed.", record.kind, record.name)


call_finished.connect(count_call, sender=CallRecord, dispatch_uid="mcp_bridge.metrics.count_call")


class JobQueueCollector:
    """`mcp_job_queue_depth{status}`: jobs of MCP_BRIDGE['JOB_MODEL'] waiting or running, read at scrape time.

    One grouped COUNT over the indexed status column. A database that fails the query leaves the gauge
    out of that scrape (and is logged): the other metrics are still served.
    """

    name = "mcp_job_queue_depth"
    documentation = "Report jobs queued, running or waiting for input, when Prometheus scraped."

    def describe(self):
        # Registering a collector with describe() does not run collect() (no query at import).
        return [GaugeMetricFamily(self.name, self.documentation, labels=["status"])]

    def collect(self):
        if not mcp_settings.JOB_MODEL:
            return
        from .jobs import job_model

        try:
            model = job_model()
            # A savepoint inside a request's transaction: a failed query must not poison the rest of it.
            with transaction.atomic(using=router.db_for_read(model)):
                counts = dict(
                    model.objects.filter(status__in=QUEUE_STATUSES)
                    .order_by()
                    .values_list("status")
                    .annotate(jobs=Count("pk"))
                )
        except Exception:
            logger.warning("The job queue depth was left out of this scrape: its query failed.", exc_info=True)
            return
        gauge = GaugeMetricFamily(self.name, self.documentation, labels=["status"])
        for status in QUEUE_STATUSES:
            gauge.add_metric([status], counts.get(status, 0))
        yield gauge


if prometheus_client is not None:
    prometheus_client.REGISTRY.register(JobQueueCollector())


def scrape_registry():
    """The registry a scrape reads: this process's, or (multi-process mode) every process's summed.

    In multi-process mode a fresh registry per scrape reads the files of all processes, as the
    prometheus_client documentation prescribes; the queue depth is read from the database either way.
    """
    if multiprocess_dir() is None:
        return prometheus_client.REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(JobQueueCollector())
    return registry


#: A METRICS_TOKEN shorter than this is warned about (W311): it guards traffic and failure rates.
MIN_TOKEN_LENGTH = 32


def check_metrics_settings():
    """E311-E314, W311: MCP_BRIDGE['METRICS'], METRICS_TOKEN and PROMETHEUS_MULTIPROC_DIR."""
    from django.core import checks

    errors = []
    setting = mcp_settings.METRICS
    if setting not in (True, False, None):
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['METRICS'] is {setting!r}, which is not True, False or None.",
                hint="Use True (metrics on), False (off), or None (on if prometheus-client is installed).",
                id="mcp_bridge.E311",
            )
        )
    elif setting is True and not prometheus_available():
        errors.append(
            checks.Error(
                "MCP_BRIDGE['METRICS'] is True but prometheus-client cannot be imported.",
                hint="Install it (pip install 'django-mcp-bridge[metrics]'), or set METRICS to None or False.",
                id="mcp_bridge.E312",
            )
        )
    token = mcp_settings.METRICS_TOKEN
    if token is not None and (not isinstance(token, str) or not token.strip()):
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['METRICS_TOKEN'] is {type(token).__name__ if token else repr(token)}, "
                "which is not None or a non-empty string.",
                hint="Set it to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
                "or None to let only staff sessions read /mcp/metrics.",
                id="mcp_bridge.E313",
            )
        )
    elif token is not None and len(token) < MIN_TOKEN_LENGTH:
        errors.append(
            checks.Warning(
                f"MCP_BRIDGE['METRICS_TOKEN'] has {len(token)} characters, fewer than {MIN_TOKEN_LENGTH}.",
                hint="Use a long random string (python -c 'import secrets; print(secrets.token_urlsafe(32))').",
                id="mcp_bridge.W311",
            )
        )
    directory = multiprocess_dir()
    if directory is not None and enabled() and not (os.path.isdir(directory) and os.access(directory, os.W_OK)):
        errors.append(
            checks.Error(
                f"PROMETHEUS_MULTIPROC_DIR is {directory!r}, which is not an existing directory this process can write.",
                hint="Create it (empty) before the server starts, writable by every worker process, "
                "or unset PROMETHEUS_MULTIPROC_DIR for a single process.",
                id="mcp_bridge.E314",
            )
        )
    return errors
