"""Settings for the MCP conformance suite: the demo project plus the suite's fixture tools."""

from config.settings import *  # noqa: F401,F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.conformance_app"]  # noqa: F405
