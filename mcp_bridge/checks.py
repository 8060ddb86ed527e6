"""System checks for MCP annotations, reported at startup with ids and hints.

Ids: E0xx ModelAdmin options, E1xx tools and prompts, W0xx risky or lossy configurations.
"""

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from .conf import mcp_settings
from .options import OPERATIONS, McpAdminMixin


def _mcp_admins():
    for admin_site in mcp_settings.ADMIN_SITES:
        for model_admin in admin_site._registry.values():
            if isinstance(model_admin, McpAdminMixin):
                yield model_admin


def _error(msg, obj, id, hint=None):
    return checks.Error(msg, hint=hint, obj=obj, id=id)


def check_model_admin(model_admin):
    errors = []
    cls = type(model_admin)
    opts = model_admin.model._meta
    operations = model_admin.mcp_operations
    if not isinstance(operations, (list, tuple)):
        return [_error("The value of 'mcp_operations' must be a list or tuple.", cls, "mcp_bridge.E001")]
    for operation in operations:
        if operation not in OPERATIONS:
            errors.append(_error(
                f"The value of 'mcp_operations' contains {operation!r}, which is not an operation.", cls, "mcp_bridge.E002",
                hint=f"Use any of {', '.join(OPERATIONS)}.",
            ))
    for option in ("mcp_fields", "mcp_write_fields", "mcp_redacted_fields"):
        value = getattr(model_admin, option)
        for index, name in enumerate(value or ()):
            try:
                opts.get_field(name)
            except FieldDoesNotExist:
                errors.append(_error(
                    f"The value of '{option}[{index}]' refers to {name!r}, which is not a field of '{opts.label}'.",
                    cls, "mcp_bridge.E003",
                    hint=f"Fields of {opts.label}: {', '.join(f.name for f in opts.get_fields() if f.concrete)}.",
                ))
    for index, name in enumerate(model_admin.mcp_actions):
        if model_admin.get_action(name) is None:
            errors.append(_error(
                f"The value of 'mcp_actions[{index}]' refers to {name!r}, which is not an action of {cls.__qualname__}.",
                cls, "mcp_bridge.E004", hint="List the action in the ModelAdmin's `actions` first.",
            ))
    if "search" in operations and not model_admin.search_fields and not model_admin.list_filter:
        errors.append(checks.Warning(
            f"{cls.__qualname__} exposes 'search' without search_fields or list_filter, so callers can only page.",
            hint="Add search_fields and/or list_filter to the ModelAdmin.", obj=cls, id="mcp_bridge.W002",
        ))
    return errors


@checks.register("mcp_bridge")
def check_annotations(app_configs=None, **kwargs):
    messages = []
    for model_admin in _mcp_admins():
        messages += check_model_admin(model_admin)
    if any(m.level >= checks.ERROR for m in messages):
        return messages  # the registry cannot be built meaningfully
    from .sites import site

    site.reset()
    try:
        registry = site.registry
    except ImproperlyConfigured as exc:
        code = "mcp_bridge.E101" if "Two MCP tools are named" in str(exc) else "mcp_bridge.E102"
        return messages + [_error(str(exc), None, code, hint="Fix the MCP annotation named in the message.")]
    except (ValueError, LookupError) as exc:
        return messages + [_error(str(exc), None, "mcp_bridge.E103", hint="Give every tool and prompt a snake_case name and a description.")]
    for exposure in registry.exposures.values():
        for entry in exposure.skipped_filters:
            messages.append(checks.Warning(
                f"list_filter entry {entry!r} of {type(exposure.model_admin).__qualname__} is not a model field path, "
                "so search tools cannot offer it as a filter.",
                hint="Use field paths in list_filter, or accept that MCP callers cannot filter on it.",
                obj=type(exposure.model_admin), id="mcp_bridge.W001",
            ))
    for tool in registry.tools.values():
        if len(tool.description) < 40:
            messages.append(checks.Warning(
                f"Tool {tool.name!r} has a short description ({len(tool.description)} characters).",
                hint="Say what it does, when to use it, what it returns and its limits.", id="mcp_bridge.W003",
            ))
        if not tool.read_only and tool.kind == "custom" and not getattr(tool, "permissions", ()):
            messages.append(checks.Warning(
                f"Write tool {tool.name!r} requires no model permission, only its per-tool grant.",
                hint="Pass permissions=('change',) or an 'app_label.codename' so the admin's permissions apply too.",
                id="mcp_bridge.W004",
            ))
    return messages


# Backends whose entries other processes cannot see (or that keep nothing at all).
_PROCESS_LOCAL_CACHES = {"django.core.cache.backends.locmem.LocMemCache"}
_DUMMY_CACHES = {"django.core.cache.backends.dummy.DummyCache"}


@checks.register("mcp_bridge", deploy=False)
def check_cache(app_configs=None, **kwargs):
    """The cache holds the access generation every call reads: revocation reaches other processes only through it."""
    from django.conf import settings

    alias = mcp_settings.CACHE_ALIAS
    config = settings.CACHES.get(alias)
    if config is None:
        return [_error(
            f"MCP_BRIDGE['CACHE_ALIAS'] is {alias!r}, which is not a key of CACHES.", None, "mcp_bridge.E005",
            hint=f"Use one of {', '.join(map(repr, settings.CACHES))}, or add {alias!r} to CACHES.",
        )]
    backend = config.get("BACKEND", "")
    if backend in _DUMMY_CACHES:
        return [checks.Warning(
            f"The cache {alias!r} is a DummyCache: rate limits never trigger and permission sets are loaded on every call.",
            hint="Point MCP_BRIDGE['CACHE_ALIAS'] at a real cache (Redis in production).", id="mcp_bridge.W005",
        )]
    if backend in _PROCESS_LOCAL_CACHES:
        return [checks.Warning(
            f"The cache {alias!r} is local to each process: a key revoked, a user deactivated or a grant removed in "
            "one process reaches the others only after CREDENTIAL_CACHE_TIMEOUT / PERMISSION_CACHE_TIMEOUT, and "
            "each process counts rate limits on its own.",
            hint="With more than one process (gunicorn workers, runmcp beside the server), use Redis, Memcached, the "
            "database or a file cache for MCP_BRIDGE['CACHE_ALIAS'].", id="mcp_bridge.W006",
        )]
    return []
