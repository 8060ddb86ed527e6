"""The registry of tools, resource templates and prompts, built from annotated ModelAdmins.

It is built once, on first use, from the admin sites' registries and each app's `mcp` module,
without touching the database; after that it is read-only.
"""

import logging
import threading

from django.db import DatabaseError
from django.utils.functional import cached_property
from django.utils.module_loading import autodiscover_modules

from . import scopes
from .admin_sites import mcp_admins
from .declarations import naming
from .exceptions import AnnotationError, ServiceUnavailable
from .model_tools import GENERATED_TOOLS, ActionTool, ModelExposure
from .options import OPERATIONS
from .process_cache import ProcessCache
from .prompts import McpPrompt
from .reports import ReportTool, add_job_surface
from .resources import (
    CustomResource,
    CustomResourceTemplate,
    ModelResourceTemplate,
    RelatedResourceTemplate,
    find_reverse_relation,
)
from .tools import SerializerTool

logger = logging.getLogger(__name__)

#: How many (generation, user) tool sets a site remembers.
VISIBLE_CACHE_SIZE = 4096


def describe(owner):
    """'customers.admin.CustomerAdmin' or 'myapp.mcp.ping': where a tool or prompt was declared."""
    return f"{owner.__module__}.{owner.__qualname__}"


def unknown_operation_error(model_admin, operation):
    """The error for an `mcp_operations` entry that is not an operation (mcp_bridge.E002)."""
    return AnnotationError(
        f"The value of 'mcp_operations' contains {operation!r}, which is not an operation.",
        id="mcp_bridge.E002",
        obj=type(model_admin),
        hint=f"Use any of {', '.join(OPERATIONS)}.",
    )


class Registry:
    """The frozen result of building a site."""

    def __init__(self):
        self.tools = {}
        self.resource_templates = []
        self.resources = []
        self.prompts = {}
        self.exposures = {}
        #: The @mcp_bridge.tool / @mcp_bridge.prompt functions this registry serves.
        self.annotated_functions = set()
        #: Where each tool and prompt was declared: a ModelAdmin class or a function (what checks name).
        self.tool_owners = {}
        self.prompt_owners = {}

    @cached_property
    def required_scopes(self):
        """The OAuth scopes this registry's tools need: a token holding them all may call any tool."""
        return frozenset(tool.required_scope for tool in self.tools.values())

    def add_tool(self, tool, owner):
        if tool.name in self.tools:
            raise AnnotationError(
                f"Two MCP tools are named {tool.name!r}: one from {describe(self.tool_owners[tool.name])}, "
                f"one from {describe(owner)}.",
                id="mcp_bridge.E101",
                obj=owner,
                hint="Rename one with the name= option (or mcp_name / mcp_name_plural on the ModelAdmin).",
            )
        self.tools[tool.name] = tool
        self.tool_owners[tool.name] = owner

    def add_prompt(self, prompt, owner):
        if prompt.name in self.prompts:
            raise AnnotationError(
                f"Two MCP prompts are named {prompt.name!r}: one from {describe(self.prompt_owners[prompt.name])}, "
                f"one from {describe(owner)}.",
                id="mcp_bridge.E102",
                obj=owner,
                hint="Rename one with the name= option.",
            )
        self.prompts[prompt.name] = prompt
        self.prompt_owners[prompt.name] = owner

    def check_prompts(self):
        """Raise AnnotationError for a prompt whose workflow needs a tool this registry does not have."""
        for name, prompt in self.prompts.items():
            missing = [tool_name for tool_name in prompt.requires_tools if tool_name not in self.tools]
            if missing:
                raise AnnotationError(
                    f"Prompt {name!r} requires the tool(s) {', '.join(map(repr, missing))}, which do not exist.",
                    id="mcp_bridge.E106",
                    obj=self.prompt_owners[name],
                    hint="List only tools the registry has in requires_tools (see manage.py mcp_inspect).",
                )


class McpSite:
    """An MCP server's content. `site` is the default one; most projects need no other."""

    def __init__(self, name="default"):
        self.name = name
        self._tools = []
        self._prompts = []
        self._resources = []
        self._registry = None
        self._lock = threading.Lock()
        self._visible = ProcessCache(VISIBLE_CACHE_SIZE)

    def __repr__(self):
        return f"McpSite(name={self.name!r})"

    # -- registration of standalone tools, prompts and resources -------------------------------
    def _register(self, entries, make, function=None, *, name=None, description=None, **options):
        """Decorate `func` to append `make(func, name=..., description=..., **options)` to *entries*.

        The name defaults to the function's, the description to its docstring; the registry is
        rebuilt on next use.
        """

        def decorator(func):
            entries.append(make(func, **naming(func, name, description), **options))
            self._registry = None
            return func

        return decorator if function is None else decorator(function)

    def tool(self, function=None, **options):
        """Register a function `(request, data)` as a tool (see decorators.tool for the options,
        throttle_scope and throttle_classes included)."""
        return self._register(self._tools, SerializerTool, function, **options)

    def report(self, function=None, **options):
        """Register a function `(request, data, job)` as a report run on a Celery worker (see decorators.report)."""
        return self._register(self._tools, ReportTool, function, **options)

    def prompt(self, function=None, **options):
        """Register a function `(request, **arguments)` as a prompt (see decorators.prompt)."""
        return self._register(self._prompts, McpPrompt, function, **options)

    def resource(self, uri, **options):
        """Register `func(request)` as the resource *uri*; it returns str, bytes or JSON-able data.

        `permissions` lists 'app_label.codename' permissions a caller needs to list and read it.
        """
        return self._register(self._resources, CustomResource, uri=uri, **options)

    def resource_template(self, uri_template, **options):
        """Register `func(request, **params)` for URIs matching *uri_template* ('scheme://x/{id}')."""
        return self._register(self._resources, CustomResourceTemplate, uri_template=uri_template, **options)

    # -- the built registry --------------------------------------------------------------------
    @property
    def registry(self):
        registry = self._registry
        if registry is None:
            with self._lock:
                if self._registry is None:
                    self._registry = self.build()
                registry = self._registry
        return registry

    def reset(self):
        """Forget the built registry (tests that change admin classes call this)."""
        self._registry = None
        self._visible.clear()

    def build(self):
        """Build the registry; raise AnnotationError (an ImproperlyConfigured) for the first mistake found."""
        autodiscover_modules("mcp")
        registry = Registry()
        exposed = []
        for admin_site, model, model_admin in mcp_admins():
            exposure = ModelExposure(model_admin, admin_site)
            registry.exposures[model] = exposure
            exposed.append((model_admin, exposure))
        for model_admin, exposure in exposed:
            admin_class = type(model_admin)
            generated = {}
            for operation in model_admin.get_mcp_operations():
                if operation not in GENERATED_TOOLS:
                    raise unknown_operation_error(model_admin, operation)
                generated[operation] = GENERATED_TOOLS[operation](exposure)
                registry.add_tool(generated[operation], admin_class)
            for action_name in model_admin.mcp_actions:
                registry.add_tool(ActionTool(exposure, action_name), admin_class)
            for attribute in dir(admin_class):
                member = getattr(admin_class, attribute, None)
                options = getattr(member, "mcp_tool", None)
                if options is not None:
                    registry.add_tool(
                        SerializerTool(getattr(model_admin, attribute), model_admin=model_admin, **options), admin_class
                    )
                    registry.annotated_functions.add(member)
                report_options = getattr(member, "mcp_report", None)
                if report_options is not None:
                    registry.add_tool(
                        ReportTool(getattr(model_admin, attribute), model_admin=model_admin, **report_options),
                        admin_class,
                    )
                    registry.annotated_functions.add(member)
                prompt_options = getattr(member, "mcp_prompt", None)
                if prompt_options is not None:
                    registry.add_prompt(McpPrompt(getattr(model_admin, attribute), **prompt_options), admin_class)
                    registry.annotated_functions.add(member)
            if "get" in generated:
                registry.resource_templates.append(ModelResourceTemplate(exposure, generated["get"]))
        for tool in self._tools:
            registry.add_tool(tool, tool.func)
        add_job_surface(registry)  # get_job_status, cancel_job and jobs://, if there are reports
        # Related resources last: they need the child models' search tools.
        for model_admin, exposure in exposed:
            for relation in model_admin.mcp_related_resources:
                self._add_related_resource(registry, model_admin, exposure, relation)
        for prompt in self._prompts:
            registry.add_prompt(prompt, prompt.func)
        for resource in self._resources:
            (registry.resource_templates if resource.is_template else registry.resources).append(resource)
        registry.check_prompts()
        return registry

    @staticmethod
    def _add_related_resource(registry, model_admin, exposure, relation):
        rel = find_reverse_relation(model_admin, relation)
        if "get" not in model_admin.get_mcp_operations():
            raise AnnotationError(
                f"The value of 'mcp_related_resources' contains {relation!r}, but {type(model_admin).__qualname__} "
                "has no 'get' operation: a related resource's URI starts from one object.",
                id="mcp_bridge.E009",
                obj=type(model_admin),
                hint="Add 'get' to mcp_operations, or remove mcp_related_resources.",
            )
        child = registry.exposures.get(rel.related_model)
        if child is None or "search" not in child.model_admin.get_mcp_operations():
            label = rel.related_model._meta.label
            raise AnnotationError(
                f"The value of 'mcp_related_resources' contains {relation!r}, but {label} is not exposed with a "
                "'search' operation.",
                id="mcp_bridge.E010",
                obj=type(model_admin),
                hint=f"Register {label} with an McpAdminMixin ModelAdmin whose mcp_operations include 'search', "
                f"or remove {relation!r}.",
            )
        get_tool = registry.tools[f"get_{exposure.singular}"]
        child_search = registry.tools[f"search_{child.plural}"]
        registry.resource_templates.append(RelatedResourceTemplate(exposure, get_tool, relation, child, child_search))

    # -- what a caller may see -----------------------------------------------------------------
    def visible_tool_names(self, request, generation):
        """Return the names of the tools *request.user* may call, cached per permission generation
        and OAuth scope set (an OAuth caller sees only the tools its scopes allow).

        The cache assumes `has_*_permission` hooks depend on the user's permissions only, as
        Django's defaults do; a hook that reads more of the request than the user is still asked
        again by `get_tool()` on every call: only the listing is cached per user.
        """
        # A new generation makes every older key unreachable; the least recently used are dropped first.
        key = (generation, request.user.pk, request.user.is_superuser, request.user.is_active, granted_scopes(request))
        names = self._visible.get(key)
        if names is None:
            names = frozenset(name for name, tool in self.registry.tools.items() if may_call(tool, request))
            self._visible.set(key, names)
        return names

    def get_tool(self, request, name, generation):
        """Return the tool *name* if the caller may call it, else None (hidden looks like missing)."""
        tool = self.registry.tools.get(name)
        if tool is None or name not in self.visible_tool_names(request, generation):
            return None
        # Re-ask the tool itself: the cached set is an optimisation, never the only check.
        return tool if may_call(tool, request) else None


def granted_scopes(request):
    """The OAuth scopes of *request*'s credential (None: not limited by scopes)."""
    return getattr(request.auth, "scopes", None)


def may_call(tool, request):
    """Return True if the caller's OAuth scopes allow *tool* and tool.has_permission(request) is true;
    a tool whose check fails is hidden and logged, not every tool."""
    if not scopes.allows(granted_scopes(request), tool.required_scope):
        return False
    try:
        return tool.has_permission(request)
    except (DatabaseError, ServiceUnavailable):
        raise  # the database or cache failed, not this tool: the caller is told to retry
    except Exception:
        logger.exception("The permission check of MCP tool %r failed; the tool is hidden from this caller.", tool.name)
        return False


site = McpSite()
