"""Settings for the mcp_bridge demo project.

Every value comes from an environment variable with a safe default, so a fresh checkout runs with
SQLite and no other server; set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis) in production.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from mcp_bridge.conf import DEFAULTS as MCP_BRIDGE_DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    value = os.environ.get(name)
    return [item.strip() for item in value.split(",") if item.strip()] if value else default


def local_secret_key(path):
    """This checkout's own SECRET_KEY: generated into *path* (readable by its owner only) once, then reused.

    Every process of the checkout (the server, runmcp, manage.py) reads the same file, and cursors,
    sessions and sealed request state survive restarts; no key is ever published with the source.
    """
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        with os.fdopen(descriptor, "w") as file:
            file.write(get_random_secret_key() + "\n")
        try:
            os.link(temporary, path)  # atomic, and never replaces the key of a process that came first
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
        key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it to generate a new key, or set DJANGO_SECRET_KEY.")
    return key


DEBUG = env_bool("DJANGO_DEBUG", False)
# Production sets DJANGO_SECRET_KEY (config.production refuses to start without it).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or local_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth2_provider",
    "django_celery_results",
    "mcp_bridge",
    "customers",
    "tasks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The admin's and the OAuth pages' CSS under uvicorn with DEBUG off (runserver is not used here).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_settings():
    url = os.environ.get("DATABASE_URL")
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            # WAL + IMMEDIATE: web and worker can write concurrently without "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file (not in-memory) test database, so subprocesses (uvicorn, runmcp, Celery) see it.
            "TEST": {"NAME": os.environ.get("SQLITE_TEST_PATH", str(VAR_DIR / "test.sqlite3"))},
        }
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
        # Under ASGI each request runs in its own thread, so persistent connections are never
        # reused; psycopg's pool is the way to reuse them (CONN_MAX_AGE must stay 0 with it).
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": int(os.environ.get("DATABASE_POOL_MIN", 2)),
            "max_size": int(os.environ.get("DATABASE_POOL_MAX", 10)),
            "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", 10)),
        }
    return config


DATABASES = {"default": database_settings()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A cache shared by every process (web workers, runmcp, the admin), so a permission change made in
# one is seen by all: Redis in production, a directory under VAR_DIR otherwise.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            # Redis connections per process: at least MCP_BRIDGE['MAX_CONCURRENT_REQUESTS'] (check W010).
            "OPTIONS": {"max_connections": int(os.environ.get("REDIS_MAX_CONNECTIONS", 100))},
        }
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
    )
}

# ModelBackend that answers an MCP call's permission checks from the set cached for the call, so a
# call costs no permission queries; logins and the admin work as with ModelBackend.
AUTHENTICATION_BACKENDS = ["mcp_bridge.backends.McpModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The demo serves static files straight from the apps (no collectstatic); production.py collects them
# into STATIC_ROOT.
WHITENOISE_USE_FINDERS = True

# Celery: a broker that needs no server by default; Redis or RabbitMQ via CELERY_BROKER_URL.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    from tasks import transport as embedded_broker

    if CELERY_BROKER_URL == "filesystem://":
        CELERY_BROKER_URL = "filesystem://localhost/"  # a host name spares kombu's warning on each connection

    # kombu's filesystem transport, with messages renamed into place whole (see tasks.transport).
    # Local disk and one host only, and a worker killed hard loses the task it was running.
    CELERY_BROKER_TRANSPORT = embedded_broker.TRANSPORT
    CELERY_BROKER_TRANSPORT_OPTIONS = embedded_broker.transport_options(VAR_DIR / "celery-broker")
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task not acknowledged this long after delivery is delivered again: it must exceed the
        # longest report (MCP_BRIDGE['JOB_TIME_LIMIT']) and any countdown, or tasks run twice.
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 3600)),
        # Look for the messages of vanished workers every ~10 s, not kombu's ~100 s.
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        # A publish to a broker that is down or hung fails in seconds instead of waiting forever (the
        # read timeout must exceed the 1 s a worker's BRPOP waits).
        "socket_connect_timeout": 2,
        "socket_timeout": 3,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish to a broker that is down gives up after three quick attempts (~0.2 s when the connection
# is refused; a hung Redis costs its socket_timeout), so the request that sent it can answer.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
# At-least-once: a task is acknowledged when it ends, and one whose pool process died is queued again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
# A worker that loses the broker stops its running tasks: the broker delivers them again anyway.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Reports run on their own queue (MCP_BRIDGE['JOB_QUEUE']), so a long report never delays short tasks.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"mcp_bridge.run_job": {"queue": "mcp_reports"}}
# `celery beat` (the default PersistentScheduler) sends these; its schedule file lives under VAR_DIR.
CELERY_BEAT_SCHEDULE = {
    # Deletes expired jobs and queues again the jobs whose worker vanished.
    "mcp-bridge-sweep-jobs": {
        "task": "mcp_bridge.sweep_jobs",
        "schedule": float(os.environ.get("JOB_SWEEP_INTERVAL", 60)),
    },
    # Deletes expired OAuth tokens and stale client registrations (manage.py mcp_oauth_cleanup).
    "mcp-bridge-oauth-cleanup": {
        "task": "mcp_bridge.oauth_cleanup",
        "schedule": float(os.environ.get("OAUTH_CLEANUP_INTERVAL", 3600)),
    },
    # Deletes audit rows older than MCP_BRIDGE['AUDIT_RETENTION_DAYS'] (manage.py mcp_audit cleanup).
    "mcp-bridge-audit-cleanup": {
        "task": "mcp_bridge.audit_cleanup",
        "schedule": float(os.environ.get("AUDIT_CLEANUP_INTERVAL", 86400)),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Not an app's `tasks` module, so not autodiscovered: the OAuth housekeeping task.
CELERY_IMPORTS = ["mcp_bridge.oauth.tasks"]

MCP_BRIDGE = {
    "SERVER_NAME": "mcp-bridge-demo",
    "SERVER_TITLE": "Acme support (demo)",
    # OAuth 2.1 access tokens from this project's authorization server (django-oauth-toolkit), and the
    # API keys issued in the admin. The first class's challenge answers requests without credentials.
    "AUTHENTICATION_CLASSES": [
        "mcp_bridge.oauth.authentication.OAuth2Authentication",
        "mcp_bridge.authentication.ApiKeyAuthentication",
    ],
    "INSTRUCTIONS": (
        "Customer support and commerce data for Acme Ltd. Find customers with search_customers, "
        "read one with get_customer, and use issue_refund / update_ticket_status for changes."
    ),
    "STATELESS_HTTP": env_bool("MCP_STATELESS_HTTP", False),
    "JSON_RESPONSE": env_bool("MCP_JSON_RESPONSE", False),
    "THROTTLE_RATES": {"credential": "1200/min", "issue_refund": "30/min", "delete_customer": "10/min"},
    # One long-lived server process per worker: its start-up objects are frozen out of the garbage
    # collector's full collections (see mcp_bridge's FREEZE_GC_AT_STARTUP).
    "FREEZE_GC_AT_STARTUP": True,
    # Reports run on Celery workers; their jobs are rows of tasks.Job.
    "JOB_MODEL": "tasks.Job",
    # Prometheus may scrape /mcp/metrics with this bearer token (staff sessions may too).
    "METRICS_TOKEN": os.environ.get("MCP_METRICS_TOKEN") or None,
    # The demo's agent-evaluation suite; its figures are kept beside the benchmarks' (bench/).
    "EVAL_SUITE": "customers.evaluation.SUITE",
    "EVAL_HISTORY_FILE": BASE_DIR / "bench" / "eval-history.jsonl",
}

# Behind a proxy that terminates TLS, Django must know the original scheme and host: the OAuth
# metadata, the issuer and the canonical resource are built from them. Trust the proxy's headers only
# when one is in front (it must set them, and strip them from clients).
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env_bool("DJANGO_USE_X_FORWARDED_HOST")

# OAuth 2.1 authorization server for remote MCP clients (django-oauth-toolkit; see docs/oauth.md).
# Users sign in for the consent page here: any active user, not only staff.
LOGIN_URL = "mcp_oauth_login"
OAUTH2_PROVIDER = {
    # The scopes of MCP_BRIDGE['OAUTH_SCOPES'], with the words the consent page shows.
    "SCOPES": MCP_BRIDGE_DEFAULTS["OAUTH_SCOPES"],
    "DEFAULT_SCOPES": ["mcp:read"],
    # OAuth 2.1 and RFC 9700: PKCE with S256 only, no implicit or password grant, no token in the query
    # string, the issuer in authorization responses (RFC 9207), tokens stored only as checksums.
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    # Left False: http stays allowed for loopback redirects (RFC 8252; Claude Code, MCP Inspector), which
    # this gate would make a deploy-check error. Registration allows http only to loopback hosts.
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": False,
    # Public clients get a new refresh token on every refresh; replaying an old one revokes the family.
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 86400,
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https", "cursor", "vscode"],  # OAUTH_NATIVE_REDIRECT_SCHEMES
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_basic", "client_secret_post"],
    # Clients register themselves (RFC 7591) or are described by a metadata document at their client_id
    # URL (CIMD); mcp_bridge's registration view limits redirect URIs and the rate per address.
    "DCR_ENABLED": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "CIMD_ENABLED": True,
    "CIMD_METADATA_FETCHER": "mcp_bridge.oauth.registration.MetadataFetcher",  # the same redirect URI policy
    # Every authorization code is bound to this server's MCP endpoint (RFC 8707).
    "OAUTH2_VALIDATOR_CLASS": "mcp_bridge.oauth.validators.McpOAuth2Validator",
    # The issuer is this site's origin, as the request shows it (SECURE_PROXY_SSL_HEADER and
    # USE_X_FORWARDED_HOST above), unless OAUTH_ISSUER names it.
    **({"OIDC_ISS_ENDPOINT": os.environ["OAUTH_ISSUER"]} if os.environ.get("OAUTH_ISSUER") else {}),
    "APPLICATION_ADMIN_CLASS": "mcp_bridge.oauth.admin.ApplicationAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "mcp_bridge.oauth.admin.AccessTokenAdmin",
    "REFRESH_TOKEN_ADMIN_CLASS": "mcp_bridge.oauth.admin.RefreshTokenAdmin",
    "GRANT_ADMIN_CLASS": "mcp_bridge.oauth.admin.GrantAdmin",
    "ID_TOKEN_ADMIN_CLASS": "mcp_bridge.oauth.admin.IDTokenAdmin",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
    "root": {"handlers": ["stderr"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
