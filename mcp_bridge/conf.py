"""The MCP_BRIDGE settings dict, read through `mcp_settings` (reloaded on setting_changed)."""

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS = {
    # Server identity advertised to clients.
    "SERVER_NAME": "mcp-bridge",
    "SERVER_TITLE": None,
    "SERVER_VERSION": None,  # defaults to mcp_bridge's own version
    "INSTRUCTIONS": "",
    # Where the endpoint lives in the ASGI app; "/mcp" and "/mcp/" are both served.
    "PATH": "/mcp",
    # Admin sites whose annotated ModelAdmins generate tools.
    "ADMIN_SITES": ["django.contrib.admin.site"],
    # Authentication classes shaped like DRF's: each `authenticate(request)` returns (user, Principal)
    # or None ("not my kind of credential"); the first that recognises the request wins, and the
    # first class's `authenticate_header(request)` is the 401 challenge. Add
    # "mcp_bridge.oauth.authentication.OAuth2Authentication" (first) for OAuth 2.1 clients.
    "AUTHENTICATION_CLASSES": ["mcp_bridge.authentication.ApiKeyAuthentication"],
    # -- OAuth 2.1 (django-oauth-toolkit as the authorization server; see docs/oauth.md) -----------
    # The canonical URI tokens must be issued for (RFC 8707), e.g. "https://mcp.example.com/mcp".
    # None: derived from each request (scheme and host as Django sees them, honouring
    # SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST) and PATH.
    "OAUTH_RESOURCE": None,
    # The scopes a token may carry, in words for the consent page. Every accepted token needs at
    # least one of them.
    "OAUTH_SCOPES": {
        "mcp:read": "Read: search and view records, read resources and prompts",
        "mcp:write": "Write: create, change and delete records and run admin actions, as your account allows",
        "mcp:reports": "Reports: start background reports and read their results",
    },
    # Broader scopes imply narrower ones.
    "OAUTH_SCOPE_HIERARCHY": {"mcp:write": ["mcp:read"], "mcp:reports": ["mcp:read"]},
    # What a client is told to ask for first (the 401 challenge's scope=): the minimum for basic use.
    # A call that needs more gets 403 insufficient_scope naming every scope it needs (step-up).
    "OAUTH_CHALLENGE_SCOPES": ["mcp:read"],
    # Dynamic client registration: registrations per client IP address (DRF's rate forms), redirect
    # URI schemes allowed besides https and loopback http, and days after which an application
    # registered dynamically that never obtained a token is deleted by the cleanup.
    "OAUTH_REGISTRATION_RATE": "20/hour",
    "OAUTH_NATIVE_REDIRECT_SCHEMES": ["cursor", "vscode"],
    "OAUTH_ABANDONED_REGISTRATION_DAYS": 7,
    # Handshake-era (2025) clients: stateful sessions with streaming by default.
    "STATELESS_HTTP": False,
    "JSON_RESPONSE": False,
    # Search paging.
    "PAGE_SIZE": 25,
    "MAX_PAGE_SIZE": 100,
    # Admin actions run on at most this many objects per call.
    "MAX_ACTION_OBJECTS": 100,
    # The most characters a tool result may have (its JSON text and the notes after it); larger
    # results are cut at a record boundary and say so (mcp_bridge.budgets). Sized for clients that
    # refuse results over 25,000 tokens (Claude Code's default): record JSON runs at about 3-4
    # characters a token, so 60,000 characters is 15,000-20,000 tokens, with room for the client's
    # own framing and for text that tokenizes worse (digits, non-Latin names).
    "RESULT_MAX_CHARS": 60_000,
    # Seconds a user's permission set stays cached; a change saved through the ORM applies on the next
    # call in every process regardless (it replaces the access generation the set is keyed by).
    "PERMISSION_CACHE_TIMEOUT": 300,
    # The Django cache alias holding permission sets, the access generation and rate-limit counters.
    # Use a shared cache (Redis) when several processes serve MCP: with a process-local one
    # (LocMemCache), rate limits are counted per process and the access generation is read from the
    # database on every call.
    "CACHE_ALIAS": "default",
    # Seconds a verified credential and its user are remembered in a process. Any change saved through
    # the ORM (revoking or editing a key, deactivating a user, changing permissions) applies on the next
    # call in every process; only bulk updates and raw SQL wait up to this long. 0 re-checks the
    # credential in the database on every call.
    "CREDENTIAL_CACHE_TIMEOUT": 30,
    # Throttles, in the manner of DRF's DEFAULT_THROTTLE_CLASSES: every tool call is checked by each
    # class (a tool's own `throttle_classes` replace this list for that tool).
    "THROTTLE_CLASSES": [
        "mcp_bridge.throttling.CredentialRateThrottle",
        "mcp_bridge.throttling.ToolRateThrottle",
        "mcp_bridge.throttling.SessionRateThrottle",
        "mcp_bridge.throttling.ToolSessionRateThrottle",
    ],
    # Rates by throttle scope, in DRF's forms ("1200/min", "10/s", "5/hour", "1000/day"): "credential"
    # counts all tool calls of one credential; "session" all calls of one handshake-era (2025) session
    # (None: off); a tool's scope is its `throttle_scope`, by default its name ({"issue_refund":
    # "30/min"}). A scope without a rate is not limited. Admins override a tool's rates in the admin.
    "THROTTLE_RATES": {"credential": "1200/min", "session": None},
    # gc.freeze() the start-up objects when serving starts (ASGI lifespan, runmcp), so full garbage
    # collections scan only what requests allocate (~1 ms, not an ~80 ms stall every few thousand
    # calls). A process-wide decision, so off unless the project turns it on (the demo does).
    "FREEZE_GC_AT_STARTUP": False,
    # An API key's last-used time is written at most this often, in seconds.
    "API_KEY_LAST_USED_INTERVAL": 60,
    # Seconds any one database statement of an MCP request may run (PostgreSQL statement_timeout,
    # SQLite progress handler; other backends ignore it). Over it, a tool call gets an isError
    # result that says what to narrow and other requests a retryable error. None disables it.
    "DATABASE_TIMEOUT": 10,
    # Seconds a tool call may take in all (a tool's `time_budget=` or its ModelAdmin's `mcp_time_budget`
    # overrides it). Past it the call ends with an isError result and its transaction is rolled back;
    # database statements are stopped at the deadline. Reports get JOB_PROGRESS_WAIT on top. None: no budget.
    "TOOL_TIME_BUDGET": 30,
    # How many MCP requests run their Django work at once (one worker thread each); more wait for a
    # thread. None: the smallest max_size of the database connection pools, or 64 without a pool.
    # Keep it at or below the MCP cache's and each database pool's max connections (checks W010, W011).
    "MAX_CONCURRENT_REQUESTS": None,
    # The MCP SDK's OpenTelemetry span around every request: True keeps it, False drops it, None
    # keeps it only if an OpenTelemetry tracer provider is installed when the server is built (with
    # none, the spans go nowhere and their cost buys nothing).
    "OPENTELEMETRY_SPANS": None,
    # -- reports (tools that run on a Celery worker; see mcp_bridge.reports) --------------------------
    # The model jobs are stored in, "app_label.ModelName": a subclass of mcp_bridge.models.AbstractJob.
    # Reports cannot be declared without one (check mcp_bridge.E120).
    "JOB_MODEL": None,
    # The Celery queue report jobs run on (a report's `queue=` overrides it): keep reports off the
    # queue of light background work, and give them their own workers.
    "JOB_QUEUE": "mcp_reports",
    # Seconds a report may run: past the soft limit it is stopped with a message saying what to narrow,
    # past the hard limit its worker process is killed. A report's own options override them.
    "JOB_SOFT_TIME_LIMIT": 300,
    "JOB_TIME_LIMIT": 330,
    # Seconds a job and its result are kept after it was created; the sweep deletes it after that.
    "JOB_RESULT_TTL": 86400,
    # The poll interval suggested to clients, in seconds.
    "JOB_POLL_INTERVAL": 2,
    # A result whose JSON text is longer than this many characters is not put inline in a status
    # answer: it is a link (a resource URI and a URL) to read it from.
    "JOB_INLINE_RESULT_CHARS": 20_000,
    # Seconds beyond its hard time limit that a running job may stay silent before the sweep decides
    # its worker was lost and queues it again (at most JOB_MAX_ATTEMPTS runs in all).
    "JOB_LOST_AFTER": 60,
    "JOB_MAX_ATTEMPTS": 3,
    # A handshake-era (2025) client that asks for progress on a report call keeps the call open up to
    # this many seconds, getting the job's progress as notifications and, if it ends by then, its
    # result; then the call answers with the job to poll. 0: every report call answers at once.
    "JOB_PROGRESS_WAIT": 30,
    # The rate of a report's calls per caller when THROTTLE_RATES names none for its scope.
    "REPORT_THROTTLE_RATE": "5/hour",
    # The status URL's origin ("https://mcp.example.com"); None: the origin of the HTTP request that
    # started the job (stdio callers then get no URL, only the job tools and resources).
    "JOB_STATUS_ORIGIN": None,
    # -- audit trail (mcp_bridge.audit): every tool call, resource read, prompt get and report job --
    # False: nothing is recorded. Records are queued in memory and written in batches by one thread.
    "AUDIT": True,
    # Days an audit row is kept; `manage.py mcp_audit cleanup` (and the mcp_bridge.audit_cleanup
    # Celery task) delete older ones. None: kept for ever.
    "AUDIT_RETENTION_DAYS": 90,
    # Rows written per INSERT, and the seconds at most between two writes.
    "AUDIT_BATCH_SIZE": 200,
    "AUDIT_FLUSH_INTERVAL": 1.0,
    # Records waiting at most; when full, the oldest is dropped (and counted in a logged warning).
    "AUDIT_QUEUE_SIZE": 10_000,
    # -- metrics (mcp_bridge.metrics; see docs/observability.md) ---------------------------------------
    # Prometheus metrics of calls, errors, latency, rate-limit refusals and report jobs, at /mcp/metrics.
    # None: on if prometheus-client is installed (the `metrics` extra).
    "METRICS": None,
    # A bearer token that may scrape /mcp/metrics besides staff sessions; None: staff sessions only.
    "METRICS_TOKEN": None,
    # -- agent evaluation (mcp_bridge.evaluation; `manage.py mcp_eval`) ---------------------------------
    # The dotted path of the project's evaluation Suite; None: `mcp_eval` needs --suite.
    "EVAL_SUITE": None,
    # The JSON Lines file every `mcp_eval` run appends its figures to; `mcp_eval --report` reads it.
    "EVAL_HISTORY_FILE": "mcp_eval_history.jsonl",
}

IMPORT_STRINGS = {"AUTHENTICATION_CLASSES", "ADMIN_SITES", "THROTTLE_CLASSES"}


class McpSettings:
    """Attribute access to MCP_BRIDGE with defaults; unknown names are an error, not a silent None."""

    def __init__(self):
        self._cache = {}

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid MCP_BRIDGE setting: {name!r}")
        if name not in self._cache:
            user_settings = getattr(settings, "MCP_BRIDGE", {})
            value = user_settings.get(name, DEFAULTS[name])
            if name in IMPORT_STRINGS:
                value = [self._import(item, name) for item in value]
            self._cache[name] = value
        return self._cache[name]

    @staticmethod
    def _import(dotted_path, setting_name):
        if not isinstance(dotted_path, str):
            return dotted_path
        try:
            return import_string(dotted_path)
        except ImportError as exc:
            raise ImportError(
                f"Could not import {dotted_path!r} for MCP_BRIDGE setting {setting_name!r}: {exc}"
            ) from exc

    def reload(self):
        self._cache.clear()


mcp_settings = McpSettings()


def _reload(*, setting, **kwargs):
    if setting == "MCP_BRIDGE":
        mcp_settings.reload()


setting_changed.connect(_reload)
