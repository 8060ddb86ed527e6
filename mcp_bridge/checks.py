"""System checks for mcp_bridge, reported by `manage.py check` (and runserver, migrate) with ids and hints.

Each id has exactly one cause, and each message names the object at fault (`obj`: a ModelAdmin class,
a decorated function, or None for settings). Mistakes found while the registry is built are raised
where they are made as `AnnotationError`, which carries its id, hint and object; a server that builds
the registry at start-up refuses to start with the same message.

Settings and ModelAdmin options
  E001  'mcp_operations' is not a list or tuple.
  E002  'mcp_operations' contains something that is not an operation.
  E003  'mcp_fields', 'mcp_write_fields' or 'mcp_redacted_fields' names something that is not a field.
  E004  'mcp_actions' names something that is not one of the admin's actions.
  E005  MCP_BRIDGE['CACHE_ALIAS'] is not a key of CACHES.
  E006  MCP_BRIDGE has a key that is not a setting (a misspelt key would be ignored).
  E007  A writable relation points at a model that the ModelAdmin's admin site does not register.
  E008  'mcp_related_resources' names something that is not a reverse relation.
  E009  'mcp_related_resources' is set on a ModelAdmin without the 'get' operation.
  E010  'mcp_related_resources' names a relation whose model is not exposed with 'search'.
  E011  A get_mcp_* hook that shapes tool schemas (read once at start-up) takes a request or other parameter.
  E014  'mcp_tool_descriptions' is not a dict of strings keyed by the ModelAdmin's operations.
Tools, prompts and resources
  E101  Two tools have the same name.
  E102  Two prompts have the same name.
  E103  A tool or prompt name is not snake_case.
  E104  A tool, prompt or resource has no description.
  E105  A tool has both an input_serializer and an input_schema.
  E106  A prompt's requires_tools names a tool that does not exist.
  E107  A tool's admin-style permission has no has_<name>_permission() method on its ModelAdmin.
  E108  A tool that belongs to no ModelAdmin has an admin-style permission.
  E109  A tool's 'app_label.codename' permission names an app label that is not installed.
Reports (the block before the throttles)
  E120  Reports are declared but MCP_BRIDGE['JOB_MODEL'] names no installed AbstractJob subclass.
  E121  A report's options cannot work (time limits, result_ttl, queue, task_support, prepare).
  E122  Reports are declared but Celery cannot be imported.
  W014  Reports are declared but mcp_bridge.urls is not included: jobs get no status URL.
Warnings
  W001  A list_filter entry is not a model field path, so search tools cannot offer it.
  W002  'search' is exposed without search_fields or list_filter.
  W003  A tool's description is short.
  W004  A write tool requires no model permission, only its per-tool grant.
  W005  The MCP cache is a DummyCache.
  W006  The MCP cache is local to each process.
  W007  A function marked @mcp_bridge.tool or @mcp_bridge.prompt is served by no registered ModelAdmin.
  W010  The MCP cache's Redis pool is smaller than MAX_CONCURRENT_REQUESTS (registered in capacity.py).
  W011  A database connection pool is smaller than MAX_CONCURRENT_REQUESTS (registered in capacity.py).
  W012  AUTHENTICATION_BACKENDS has ModelBackend but no McpModelBackend: each call loads permissions again.
Throttles (the block at the end)
  E012  A MCP_BRIDGE['THROTTLE_RATES'] rate (or REPORT_THROTTLE_RATE) is not '<calls>/<period>'.
  E013  A THROTTLE_CLASSES entry or a tool's throttle_classes entry is not a BaseThrottle subclass.
  W013  A THROTTLE_RATES scope that no throttle reads, for any tool (a misspelt scope limits nothing).
Response budgets (budgets.py)
  E321  MCP_BRIDGE['RESULT_MAX_CHARS'] is not a whole number of at least 1,000 characters.
  E322  A tool's output has a field named 'truncated' or 'truncation', which a cut result uses.
  E323  MCP_BRIDGE['JOB_INLINE_RESULT_CHARS'] is not smaller than RESULT_MAX_CHARS.
Per-tool rate limits set in the admin (throttling.py; database checks: migrate, check --database)
  E341  A stored ToolRateLimit rate or session rate does not parse (calls ignore it).
Audit trail (audit.py)
  E301  MCP_BRIDGE['AUDIT'] is not True or False.
  E302  MCP_BRIDGE['AUDIT_RETENTION_DAYS'] is not a whole number of at least 1, or None.
  E303  MCP_BRIDGE['AUDIT_BATCH_SIZE'] is not a whole number of at least 1.
  E304  MCP_BRIDGE['AUDIT_FLUSH_INTERVAL'] is not a number of seconds above 0 (at most 3600).
  E305  MCP_BRIDGE['AUDIT_QUEUE_SIZE'] is not a whole number of at least 1, or is smaller than AUDIT_BATCH_SIZE.
Metrics (metrics.py)
  E311  MCP_BRIDGE['METRICS'] is not True, False or None.
  E312  MCP_BRIDGE['METRICS'] is True but prometheus-client is not installed.
  E313  MCP_BRIDGE['METRICS_TOKEN'] is not None or a non-empty string.
  E314  PROMETHEUS_MULTIPROC_DIR is not an existing, writable directory.
  W311  MCP_BRIDGE['METRICS_TOKEN'] is shorter than 32 characters.
Business rules and time budgets (rules.py, time_budget.py)
  E130  'mcp_rules' is not a dict.
  E131  'mcp_rules' has a key that is not an operation, action or tool of the ModelAdmin.
  E132  A tool's rules (rules= or an mcp_rules value) are not a list of rules, or hold something not a rule.
  E133  A rule names a field that is not a field of the model.
  E134  MaxDateRange names a field that is not a date.
  E135  A rule reads an argument the tool does not take.
  E136  MustExist cannot tell the model of its ids, or no MCP admin site registers that model.
  E137  MaxResults is below the tool's default page size.
  E138  MCP_BRIDGE['TOOL_TIME_BUDGET'], a tool's time_budget or a ModelAdmin's mcp_time_budget is not seconds above 0.
  E139  A custom validator cannot be called as validator(request, arguments).
"""

import difflib
import inspect
from urllib.parse import urlsplit

from django.contrib.auth.backends import ModelBackend
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.utils.module_loading import import_string
from rest_framework.relations import ManyRelatedField

from .admin_sites import mcp_admins, model_admin_for
from .backends import McpModelBackend
from .conf import DEFAULTS, mcp_settings
from .exceptions import AnnotationError
from .metrics import check_metrics_settings
from .model_tools import unknown_action_error
from .options import OPERATIONS, SCHEMA_HOOKS
from .serializers import ScopedPrimaryKeyRelatedField
from .sites import describe, site, unknown_operation_error


def as_check_message(error):
    """The checks.Error for an AnnotationError raised while building the registry."""
    return checks.Error(error.message, hint=error.hint, obj=error.obj, id=error.id)


def check_model_admin(model_admin):
    """Check one ModelAdmin's MCP options (E001-E004, E011, W002) without building anything."""
    errors = check_schema_hooks(model_admin)
    cls = type(model_admin)
    opts = model_admin.model._meta
    operations = model_admin.mcp_operations
    if not isinstance(operations, (list, tuple)):
        return errors + [
            checks.Error("The value of 'mcp_operations' must be a list or tuple.", obj=cls, id="mcp_bridge.E001")
        ]
    for operation in operations:
        if operation not in OPERATIONS:
            errors.append(as_check_message(unknown_operation_error(model_admin, operation)))
    errors += check_tool_descriptions(model_admin, operations)
    for option in ("mcp_fields", "mcp_write_fields", "mcp_redacted_fields"):
        value = getattr(model_admin, option)
        for index, name in enumerate(value or ()):
            try:
                opts.get_field(name)
            except FieldDoesNotExist:
                errors.append(
                    checks.Error(
                        f"The value of '{option}[{index}]' refers to {name!r}, which is not a field of '{opts.label}'.",
                        hint=f"Fields of {opts.label}: {', '.join(f.name for f in opts.get_fields() if f.concrete)}.",
                        obj=cls,
                        id="mcp_bridge.E003",
                    )
                )
    for name in model_admin.mcp_actions:
        if model_admin.get_action(name) is None:
            errors.append(as_check_message(unknown_action_error(model_admin, name)))
    if "search" in operations and not model_admin.search_fields and not model_admin.list_filter:
        errors.append(
            checks.Warning(
                f"{cls.__qualname__} exposes 'search' without search_fields or list_filter, so callers can only page.",
                hint="Add search_fields and/or list_filter to the ModelAdmin.",
                obj=cls,
                id="mcp_bridge.W002",
            )
        )
    return errors


def check_tool_descriptions(model_admin, operations):
    """E014: `mcp_tool_descriptions` maps operations the ModelAdmin exposes to text (a misspelt key says nothing)."""
    descriptions = model_admin.mcp_tool_descriptions
    cls = type(model_admin)
    hint = "E.g. mcp_tool_descriptions = {'update': 'Mark a customer churned when they stop buying.'}."
    if not isinstance(descriptions, dict):
        return [
            checks.Error(
                "The value of 'mcp_tool_descriptions' must be a dict.", hint=hint, obj=cls, id="mcp_bridge.E014"
            )
        ]
    return [
        checks.Error(
            f"The value of 'mcp_tool_descriptions' has the key {key!r} with {type(text).__name__} {text!r}; keys must be "
            f"operations of {cls.__name__} ({', '.join(map(repr, operations))}) and values text.",
            hint=hint,
            obj=cls,
            id="mcp_bridge.E014",
        )
        for key, text in descriptions.items()
        if key not in operations or not isinstance(text, str)
    ]


def check_schema_hooks(model_admin):
    """E011: the hooks that shape tool schemas are called once at start-up, so no request ever reaches them."""
    errors = []
    cls = type(model_admin)
    for name in SCHEMA_HOOKS:
        parameters = [
            parameter.name
            for parameter in inspect.signature(getattr(model_admin, name)).parameters.values()
            if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]
        if parameters:
            errors.append(
                checks.Error(
                    f"{cls.__qualname__}.{name}() takes {', '.join(map(repr, parameters))}, but it is called once at "
                    "start-up, without a request: the tool schemas it shapes are the same for every caller.",
                    hint=f"Remove the parameter from {name}(); narrow what a caller sees or may do per request in "
                    "get_mcp_queryset(request) or the has_*_permission(request) methods.",
                    obj=cls,
                    id="mcp_bridge.E011",
                )
            )
    return errors


def check_writable_relations(exposure):
    """E007: every relation create/update accept must be scoped by the related model's admin, so it must have one."""
    model_admin = exposure.model_admin
    if not {"create", "update"} & set(model_admin.get_mcp_operations()):
        return []
    errors = []
    for name, field in exposure.write_serializer_class().fields.items():
        relation = field.child_relation if isinstance(field, ManyRelatedField) else field
        if field.read_only or not isinstance(relation, ScopedPrimaryKeyRelatedField):
            continue
        related = relation.queryset.model._meta.label
        if model_admin_for(exposure.admin_site, relation.queryset.model) is None:
            errors.append(
                checks.Error(
                    f"{type(model_admin).__qualname__} lets MCP callers set {name!r}, a relation to '{related}', which the "
                    f"admin site {exposure.admin_site.name!r} does not register, so no {related} can be chosen.",
                    hint=f"Register {related} in that admin site (its get_queryset() decides which rows callers may "
                    f"choose), or remove {name!r} from mcp_write_fields.",
                    obj=type(model_admin),
                    id="mcp_bridge.E007",
                )
            )
    return errors


@checks.register("mcp_bridge")
def check_annotations(app_configs=None, **kwargs):
    messages = []
    for _, _, model_admin in mcp_admins():
        messages += check_model_admin(model_admin)
    if any(m.level >= checks.ERROR for m in messages):
        return messages  # the registry cannot be built meaningfully
    site.reset()
    try:
        registry = site.registry
    except AnnotationError as error:
        return messages + [as_check_message(error)]
    for exposure in registry.exposures.values():
        messages += check_writable_relations(exposure)
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
    for tool in registry.tools.values():
        owner = registry.tool_owners[tool.name]
        if len(tool.description) < 40:
            messages.append(
                checks.Warning(
                    f"Tool {tool.name!r} has a short description ({len(tool.description)} characters).",
                    hint="Say what it does, when to use it, what it returns and its limits.",
                    obj=owner,
                    id="mcp_bridge.W003",
                )
            )
        if not tool.read_only and tool.kind == "custom" and not getattr(tool, "permissions", ()):
            messages.append(
                checks.Warning(
                    f"Write tool {tool.name!r} requires no model permission, only its per-tool grant.",
                    hint="Pass permissions=('change',) or an 'app_label.codename' so the admin's permissions apply too.",
                    obj=owner,
                    id="mcp_bridge.W004",
                )
            )
    return messages + check_annotated_functions(registry)


def check_annotated_functions(registry):
    """W007: a decorator only annotates; a function no registered ModelAdmin carries would be silently ignored."""
    from .decorators import annotated_functions

    return [
        checks.Warning(
            f"{describe(func)} is marked with @mcp_bridge.{'tool' if hasattr(func, 'mcp_tool') else 'prompt'} but is "
            "not a method of an McpAdminMixin ModelAdmin registered in MCP_BRIDGE['ADMIN_SITES'], so it is not served.",
            hint="For a function that belongs to no model, use @mcp_bridge.site.tool or @mcp_bridge.site.prompt in an "
            "app's mcp.py; for a method, register its ModelAdmin (with McpAdminMixin) in one of the ADMIN_SITES.",
            obj=func,
            id="mcp_bridge.W007",
        )
        for func in sorted(annotated_functions, key=describe)
        if func not in registry.annotated_functions
    ]


@checks.register("mcp_bridge")
def check_settings(app_configs=None, **kwargs):
    """E006: a misspelt MCP_BRIDGE key would be silently ignored, its default used instead."""
    from django.conf import settings

    errors = []
    for key in getattr(settings, "MCP_BRIDGE", {}):
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, DEFAULTS, n=1)
            errors.append(
                checks.Error(
                    f"MCP_BRIDGE has the key {key!r}, which is not a setting of mcp_bridge.",
                    hint=f"Did you mean {close[0]!r}?" if close else f"The settings are: {', '.join(DEFAULTS)}.",
                    id="mcp_bridge.E006",
                )
            )
    return errors


@checks.register("mcp_bridge")
def check_oauth_settings(app_configs=None, **kwargs):
    """E020-E022: the OAuth scopes and resource must make sense before a client asks for a token."""
    from .conf import mcp_settings

    errors = []
    defined = mcp_settings.OAUTH_SCOPES
    named = {"OAUTH_CHALLENGE_SCOPES": list(mcp_settings.OAUTH_CHALLENGE_SCOPES)}
    for broader, narrower in mcp_settings.OAUTH_SCOPE_HIERARCHY.items():
        named.setdefault("OAUTH_SCOPE_HIERARCHY", []).extend([broader, *narrower])
    for setting, scopes in named.items():
        unknown = sorted({scope for scope in scopes if scope not in defined})
        if unknown:
            errors.append(
                checks.Error(
                    f"MCP_BRIDGE['{setting}'] names {', '.join(unknown)}, not in MCP_BRIDGE['OAUTH_SCOPES'].",
                    hint=f"Use the scopes of OAUTH_SCOPES ({', '.join(defined)}) or add these to it.",
                    id="mcp_bridge.E020",
                )
            )
    resource = mcp_settings.OAUTH_RESOURCE
    if resource is not None:
        parts = urlsplit(str(resource))
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            errors.append(
                checks.Error(
                    f"MCP_BRIDGE['OAUTH_RESOURCE'] is {resource!r}; it must be the endpoint's absolute URL.",
                    hint="Give the URL clients connect to, without query or fragment: 'https://mcp.example.com/mcp'.",
                    id="mcp_bridge.E021",
                )
            )
    if any(getattr(cls, "kind", None) == "oauth" for cls in mcp_settings.AUTHENTICATION_CLASSES):
        from oauth2_provider.scopes import get_scopes_backend

        offered = set(get_scopes_backend().get_all_scopes())
        missing = [scope for scope in defined if scope not in offered]
        if missing:
            errors.append(
                checks.Error(
                    f"The authorization server does not offer {', '.join(missing)}: clients cannot get a token "
                    "that carries them.",
                    hint="Add them, with the descriptions of MCP_BRIDGE['OAUTH_SCOPES'], to OAUTH2_PROVIDER['SCOPES'].",
                    id="mcp_bridge.E022",
                )
            )
    return errors


@checks.register("mcp_bridge")
def check_authentication_backends(app_configs=None, **kwargs):
    """W012: ModelBackend answers has_perm() from the database; McpModelBackend from the set each MCP call holds."""
    from django.conf import settings

    backends = {}
    for path in settings.AUTHENTICATION_BACKENDS:
        try:
            backends[path] = import_string(path)
        except ImportError:
            continue  # Django reports it, naming the setting, on the first login
    if any(issubclass(backend, McpModelBackend) for backend in backends.values()):
        return []
    model_backends = [path for path, backend in backends.items() if issubclass(backend, ModelBackend)]
    if not model_backends:
        return []
    path = model_backends[0]
    if backends[path] is ModelBackend:
        hint = (
            f"Use 'mcp_bridge.backends.McpModelBackend' in place of {path!r}: it is a ModelBackend, so logins "
            "and the admin work as before."
        )
    else:
        hint = (
            f"Make mcp_bridge.backends.McpModelBackend the first base class of {path!r} (or, for a class you "
            "cannot edit, list a subclass of both in its place)."
        )
    return [
        checks.Warning(
            f"AUTHENTICATION_BACKENDS has {path!r} but no mcp_bridge.backends.McpModelBackend, so every MCP call loads "
            "the caller's permissions from the database again instead of using the set mcp_bridge has already loaded.",
            hint=hint,
            id="mcp_bridge.W012",
        )
    ]


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
        return [
            checks.Error(
                f"MCP_BRIDGE['CACHE_ALIAS'] is {alias!r}, which is not a key of CACHES.",
                hint=f"Use one of {', '.join(map(repr, settings.CACHES))}, or add {alias!r} to CACHES.",
                id="mcp_bridge.E005",
            )
        ]
    backend = config.get("BACKEND", "")
    if backend in _DUMMY_CACHES:
        return [
            checks.Warning(
                f"The cache {alias!r} is a DummyCache: rate limits never trigger and permission sets are loaded on every call.",
                hint="Point MCP_BRIDGE['CACHE_ALIAS'] at a real cache (Redis in production).",
                id="mcp_bridge.W005",
            )
        ]
    if backend in _PROCESS_LOCAL_CACHES:
        return [
            checks.Warning(
                f"The cache {alias!r} is local to each process: each process counts rate limits on its own, so several "
                "processes together allow more calls than CALL_RATE and TOOL_RATES, and every call reads the access "
                "generation from the database (one query) instead of the cache.",
                hint="With more than one process (gunicorn workers, runmcp beside the server), use Redis, Memcached, the "
                "database or a file cache for MCP_BRIDGE['CACHE_ALIAS'].",
                id="mcp_bridge.W006",
            )
        ]
    return []


# -- Reports (E122, W014; E120 and E121 are raised while the registry is built) ---------------------


@checks.register("mcp_bridge")
def check_reports(app_configs=None, **kwargs):
    """E122, W014: reports that could never run, or whose jobs nobody could poll by URL."""
    from .reports import ReportTool

    registry = _built_registry()
    reports = [tool for tool in registry.tools.values() if isinstance(tool, ReportTool)] if registry else []
    if not reports:
        return []
    messages = []
    try:
        import celery  # noqa: F401
    except ImportError:
        messages.append(
            checks.Error(
                f"Report {reports[0].name!r} runs on Celery workers, but Celery cannot be imported.",
                hint="pip install 'django-mcp-bridge[celery]' and configure a Celery app (see docs/reports.md).",
                obj=registry.tool_owners[reports[0].name],
                id="mcp_bridge.E122",
            )
        )
    from .jobs import job_path

    if job_path("x") is None and not mcp_settings.JOB_STATUS_ORIGIN:
        messages.append(
            checks.Warning(
                "Reports are declared, but mcp_bridge.urls is not included in ROOT_URLCONF: jobs get no status URL.",
                hint="Add path('mcp/', include('mcp_bridge.urls')) to the project's urlpatterns (GET /mcp/jobs/<id>).",
                id="mcp_bridge.W014",
            )
        )
    return messages


# -- Throttles (E012, E013, W013) -----------------------------------------------------------------
#   E012  A MCP_BRIDGE['THROTTLE_RATES'] rate is not '<calls>/<period>'.
#   E013  A THROTTLE_CLASSES entry or a tool's throttle_classes entry is not a BaseThrottle subclass.
#   W013  A THROTTLE_RATES scope that no throttle reads, for any tool (a misspelt scope limits nothing).


@checks.register("mcp_bridge")
def check_throttles(app_configs=None, **kwargs):
    """E012, E013, W013: a throttle setting that is wrong would fail on the first call, or limit nothing."""
    from django.conf import settings

    configured = getattr(settings, "MCP_BRIDGE", {})
    messages = check_throttle_rates(configured.get("THROTTLE_RATES", DEFAULTS["THROTTLE_RATES"]))
    messages += check_throttle_rates(
        {"REPORT_THROTTLE_RATE": configured.get("REPORT_THROTTLE_RATE", DEFAULTS["REPORT_THROTTLE_RATE"])}
    )
    setting = configured.get("THROTTLE_CLASSES", DEFAULTS["THROTTLE_CLASSES"])
    default_classes, errors = throttle_classes_of(setting, "MCP_BRIDGE['THROTTLE_CLASSES']{index}", obj=None)
    messages += errors
    registry = _built_registry()
    if registry is None:
        return messages  # check_annotations reports why the tools cannot be built
    read_scopes = {scope for throttle_class in default_classes for scope in throttle_class.rate_scopes(None)}
    for tool in registry.tools.values():
        classes = default_classes
        if tool.throttle_classes is not None:
            classes, errors = throttle_classes_of(
                tool.throttle_classes,
                f"The value of 'throttle_classes{{index}}' of the tool {tool.name!r}",
                obj=registry.tool_owners[tool.name],
            )
            messages += errors
        read_scopes.update(scope for throttle_class in classes for scope in throttle_class.rate_scopes(tool))
    if messages:
        return messages  # which scopes are read is unknown while a class or a rate is wrong
    for scope in configured.get("THROTTLE_RATES", {}):
        if scope not in read_scopes:
            close = difflib.get_close_matches(scope, read_scopes, n=1)
            messages.append(
                checks.Warning(
                    f"MCP_BRIDGE['THROTTLE_RATES'] has a rate for the scope {scope!r}, which no throttle reads, so it "
                    "limits nothing.",
                    hint=f"Did you mean {close[0]!r}?"
                    if close
                    else (
                        "A tool's scope is its throttle_scope, by default its name, and is read by ToolRateThrottle; "
                        f"the scopes read now are: {', '.join(sorted(read_scopes)) or 'none'}."
                    ),
                    id="mcp_bridge.W013",
                )
            )
    return messages


def check_throttle_rates(rates):
    """E012: every rate parses, so the first call of a tool cannot fail on a typo in its rate."""
    from django.core.exceptions import ImproperlyConfigured

    from .throttling import parse_rate

    hint = "Use '<calls>/<period>' with a period of s, sec, m, min, h, hour, d or day, e.g. '600/min', or None."
    if not isinstance(rates, dict):
        return [
            checks.Error(
                f"MCP_BRIDGE['THROTTLE_RATES'] must be a dict of scope: rate, not {type(rates).__name__}.",
                hint="For example {'credential': '1200/min', 'issue_refund': '30/min'}.",
                id="mcp_bridge.E012",
            )
        ]
    errors = []
    for scope, rate in rates.items():
        try:
            parse_rate(rate, scope)
        except ImproperlyConfigured as error:
            errors.append(checks.Error(str(error), hint=hint, id="mcp_bridge.E012"))
    return errors


def throttle_classes_of(entries, setting, obj):
    """Return (the BaseThrottle subclasses among *entries*, E013 errors for the others).

    *setting* names the list in messages, with '{index}' where an entry's '[n]' goes. Import strings
    are imported in the setting (*obj* None), and are an error in a tool's own list, which holds classes.
    """
    from django.utils.module_loading import import_string

    from .throttling import BaseThrottle

    hint = "List subclasses of mcp_bridge.throttling.BaseThrottle, such as CredentialRateThrottle" + (
        " (or their import paths)." if obj is None else " (the classes themselves, not import paths)."
    )
    if not isinstance(entries, (list, tuple)):
        return [], [
            checks.Error(
                f"{setting.format(index='')} must be a list or tuple, not {type(entries).__name__}.",
                hint=hint,
                obj=obj,
                id="mcp_bridge.E013",
            )
        ]
    classes, errors = [], []
    for index, entry in enumerate(entries):
        where = setting.format(index=f"[{index}]")
        value = entry
        if isinstance(entry, str) and obj is None:
            try:
                value = import_string(entry)
            except ImportError as error:
                errors.append(
                    checks.Error(
                        f"{where} is {entry!r}, which cannot be imported: {error}.",
                        hint=hint,
                        obj=obj,
                        id="mcp_bridge.E013",
                    )
                )
                continue
        if isinstance(value, type) and issubclass(value, BaseThrottle):
            classes.append(value)
        else:
            errors.append(
                checks.Error(
                    f"{where} is {entry!r}, which is not a throttle class.",
                    hint=hint,
                    obj=obj,
                    id="mcp_bridge.E013",
                )
            )
    return classes, errors


@checks.register("mcp_bridge")
def check_result_budget(app_configs=None, **kwargs):
    """E321-E323: the size limit of tool results (budgets.py)."""
    from .budgets import check_budget

    return check_budget(_built_registry())


@checks.register("mcp_bridge")
def check_audit(app_configs=None, **kwargs):
    """E301-E305: the audit trail's settings (audit.py)."""
    from .audit import check_audit_settings

    return check_audit_settings()


@checks.register("mcp_bridge")
def check_business_rules(app_configs=None, **kwargs):
    """E130-E139: business rules and time budgets (rules.py, time_budget.py)."""
    from .rules import check_rule_options, check_rules
    from .time_budget import check_time_budgets

    messages = [error for _, _, model_admin in mcp_admins() for error in check_rule_options(model_admin)]
    registry = _built_registry()
    return messages + check_rules(registry) + check_time_budgets(registry)


@checks.register("mcp_bridge")
def check_metrics(app_configs=None, **kwargs):
    """E311-E314, W311: the metrics settings (metrics.py)."""
    return check_metrics_settings()


@checks.register("mcp_bridge", checks.Tags.database)
def check_tool_rate_limits(app_configs=None, databases=None, **kwargs):
    """E341: per-tool rate limits stored in the database that calls cannot use (throttling.py)."""
    from .throttling import stored_rate_errors

    return stored_rate_errors(databases)


def _built_registry():
    """The site's registry, or None when ModelAdmin options or declarations keep it from being built."""
    for _, _, model_admin in mcp_admins():
        if any(message.level >= checks.ERROR for message in check_model_admin(model_admin)):
            return None
    try:
        return site.registry
    except AnnotationError:
        return None
