"""Production profile: DJANGO_SETTINGS_MODULE=config.production.

PostgreSQL with psycopg's pool, Redis as the shared cache, stateless MCP so any worker serves any
request, static files served by WhiteNoise, JSON logs on stdout. Run with gunicorn (config/gunicorn.conf.py).
"""

import os

from django.core.exceptions import ImproperlyConfigured


def required(name, hint=""):
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable for the production profile.{hint}")
    return value


# Checked before the demo settings load: without it they would generate a key of their own.
required(
    "DJANGO_SECRET_KEY",
    " Use a long random value, kept secret and the same in every process, e.g. the output of "
    "`python -c 'from django.core.management.utils import get_random_secret_key; print(get_random_secret_key())'`.",
)

from .settings import *  # noqa: E402,F403  (SECRET_KEY: DJANGO_SECRET_KEY)
from .settings import MCP_BRIDGE, env_bool  # noqa: E402

DEBUG = False
required("DATABASE_URL")  # settings.database_settings() reads it, with the pool on
required("REDIS_URL")  # settings.CACHES reads it

STATIC_ROOT = VAR_DIR / "static"  # noqa: F405  (from .settings)
WHITENOISE_USE_FINDERS = False  # collectstatic has gathered them into STATIC_ROOT
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 3600))
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# Several worker processes and no sticky sessions: handshake-era clients are served statelessly.
MCP_BRIDGE = {**MCP_BRIDGE, "STATELESS_HTTP": env_bool("MCP_STATELESS_HTTP", True)}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"mcp_bridge.calls": {"level": os.environ.get("MCP_CALL_LOG_LEVEL", "INFO")}},
}
