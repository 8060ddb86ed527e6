from django.apps import AppConfig


class ProbeAppConfig(AppConfig):
    """Tools that report what the server sees of a call, installed only by tests.probe_settings."""

    name = "tests.probe_app"
    label = "probe_app"
    verbose_name = "MCP request probes (tests only)"
