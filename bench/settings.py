"""Bench-only settings: the demo project plus the plain comparison views and, optionally, N proxy models.

Never used by the product: `python bench/run.py` starts servers with DJANGO_SETTINGS_MODULE=bench.settings.
- BENCH_PROXY_MODELS=N registers N proxy models of Customer, each with an annotated admin exposing
  search and get (2 tools each), to measure tools/list as the number of exposed models grows.
- BENCH_COUNT_QUERIES=1 counts the SQL statements each request runs (bench/querycount.py).
- The per-credential rate limit stays on (its cost is part of every call) but is raised so that a
  load generator never trips it: BENCH_CALL_RATE, default 100000000/min.
- The demo's reports keep their own limit too, raised from REPORT_THROTTLE_RATE's 5/hour so that the
  reports phase can keep two running for minutes: BENCH_REPORT_RATE, default 100000/min.
- BENCH_RECORDING=0 turns the audit trail and the metrics off, to measure what recording calls costs
  (BENCHMARKS.md, "The audit trail's cost"); both are on otherwise, as in the demo.
"""

import os

from config.settings import *  # noqa: F401,F403
from config.settings import INSTALLED_APPS, MCP_BRIDGE

MCP_BRIDGE = {
    **MCP_BRIDGE,
    "THROTTLE_RATES": {
        **MCP_BRIDGE["THROTTLE_RATES"],
        "credential": os.environ.get("BENCH_CALL_RATE", "100000000/min"),
        "churn_risk_report": os.environ.get("BENCH_REPORT_RATE", "100000/min"),
        "revenue_report": os.environ.get("BENCH_REPORT_RATE", "100000/min"),
    },
    "AUDIT": os.environ.get("BENCH_RECORDING", "1") != "0",
    "METRICS": None if os.environ.get("BENCH_RECORDING", "1") != "0" else False,
}

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
BENCH_PROXY_MODELS = int(os.environ.get("BENCH_PROXY_MODELS", "0"))
if BENCH_PROXY_MODELS:
    INSTALLED_APPS.append("bench.proxies")

ROOT_URLCONF = "bench.urls"
