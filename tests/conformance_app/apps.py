from django.apps import AppConfig


class ConformanceAppConfig(AppConfig):
    """The MCP conformance suite's "everything" fixtures, installed only by tests.conformance_settings."""

    name = "tests.conformance_app"
    label = "conformance_app"
    verbose_name = "MCP conformance fixtures (tests only)"
