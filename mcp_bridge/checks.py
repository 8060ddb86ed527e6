"""System checks for MCP annotations: reported at startup, with ids and hints."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register("mcp_bridge")
def check_registry(app_configs=None, **kwargs):
    """Build the registry so annotation mistakes surface as errors instead of at the first call."""
    from .sites import site

    site.reset()
    try:
        registry = site.registry
    except (ImproperlyConfigured, ValueError, LookupError) as exc:
        return [checks.Error(str(exc), hint="Fix the MCP annotation named in the message.", id="mcp_bridge.E001")]
    messages = []
    for exposure in registry.exposures.values():
        for entry in exposure.skipped_filters:
            messages.append(
                checks.Warning(
                    f"list_filter entry {entry!r} of {type(exposure.model_admin).__qualname__} is not a model field path, "
                    "so search tools cannot offer it as a filter.",
                    hint="Use field paths in list_filter, or accept that MCP callers cannot filter on it.",
                    obj=type(exposure.model_admin),
                    id="mcp_bridge.W001",
                )
            )
    return messages
