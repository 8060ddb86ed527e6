"""Settings for tests of what a tool sees of its call: the demo project plus tests.probe_app, behind a TLS proxy."""

from config.settings import *  # noqa: F401,F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.probe_app"]  # noqa: F405
# As behind a proxy that terminates TLS: a request is https only when the proxy says so.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
