"""mcp_bridge: serve a Django project's admin-annotated models over the Model Context Protocol."""

__version__ = "0.1.0"

__all__ = ["McpAdminMixin", "McpSite", "ToolError", "action", "prompt", "report", "site", "tool", "__version__"]


def __getattr__(name):
    # Lazy, so `import mcp_bridge` works before Django is set up (settings, pyproject tooling).
    if name == "McpAdminMixin":
        from .options import McpAdminMixin

        return McpAdminMixin
    if name in {"tool", "prompt", "action", "report"}:
        from . import decorators

        return getattr(decorators, name)
    if name in {"site", "McpSite"}:
        from . import sites

        return getattr(sites, name)
    if name == "ToolError":
        from .exceptions import ToolError

        return ToolError
    raise AttributeError(f"module 'mcp_bridge' has no attribute {name!r}")
