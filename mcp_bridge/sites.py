"""The registry of tools, resource templates and prompts, built from annotated ModelAdmins.

It is built once, on first use, from the admin sites' registries and each app's `mcp` module,
without touching the database; after that it is read-only.
"""

import threading

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from .conf import mcp_settings
from .model_tools import GENERATED_TOOLS, ActionTool, ModelExposure
from .options import OPERATIONS, McpAdminMixin
from .prompts import McpPrompt
from .resources import CustomResource, CustomResourceTemplate, ModelResourceTemplate, RelatedResourceTemplate
from .tools import SerializerTool

_VISIBLE_CACHE_SIZE = 4096


class Registry:
    """The frozen result of building a site."""

    def __init__(self):
        self.tools = {}
        self.resource_templates = []
        self.resources = []
        self.prompts = {}
        self.exposures = {}

    def add_tool(self, tool, origin):
        if tool.name in self.tools:
            raise ImproperlyConfigured(
                f"Two MCP tools are named {tool.name!r} ({self.tools[tool.name]!r} and {origin}). "
                "Rename one with the name= option (or mcp_name / mcp_name_plural on the ModelAdmin)."
            )
        self.tools[tool.name] = tool

    def add_prompt(self, prompt, origin):
        if prompt.name in self.prompts:
            raise ImproperlyConfigured(f"Two MCP prompts are named {prompt.name!r} (the second in {origin}).")
        self.prompts[prompt.name] = prompt


class McpSite:
    """An MCP server's content. `site` is the default one; most projects need no other."""

    def __init__(self, name="default"):
        self.name = name
        self._tools = []
        self._prompts = []
        self._resources = []
        self._registry = None
        self._lock = threading.Lock()
        self._visible = {}
        self._visible_generation = None

    def __repr__(self):
        return f"McpSite(name={self.name!r})"

    # -- registration of standalone tools and prompts ------------------------------------------
    def tool(self, function=None, *, name=None, description=None, **options):
        """Register a function `(request, data)` as a tool (see decorators.tool for the options)."""

        def decorator(func):
            self._tools.append(
                SerializerTool(func, name=name or func.__name__, description=description or (func.__doc__ or "").strip(), **options)
            )
            self._registry = None
            return func

        return decorator if function is None else decorator(function)

    def prompt(self, function=None, *, name=None, description=None, **options):
        """Register a function `(request, **arguments)` as a prompt (see decorators.prompt)."""

        def decorator(func):
            self._prompts.append(
                McpPrompt(func, name=name or func.__name__, description=description or (func.__doc__ or "").strip(), **options)
            )
            self._registry = None
            return func

        return decorator if function is None else decorator(function)

    def resource(self, uri, *, name=None, description=None, **options):
        """Register `func(request)` as the resource *uri*; it returns str, bytes or JSON-able data.

        `permissions` lists 'app_label.codename' permissions a caller needs to list and read it.
        """

        def decorator(func):
            self._resources.append(CustomResource(
                func, uri=uri, name=name or func.__name__, description=description or (func.__doc__ or "").strip(), **options
            ))
            self._registry = None
            return func

        return decorator

    def resource_template(self, uri_template, *, name=None, description=None, **options):
        """Register `func(request, **params)` for URIs matching *uri_template* ('scheme://x/{id}')."""

        def decorator(func):
            self._resources.append(CustomResourceTemplate(
                func, uri_template=uri_template, name=name or func.__name__,
                description=description or (func.__doc__ or "").strip(), **options
            ))
            self._registry = None
            return func

        return decorator

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
        self._visible = {}

    def build(self):
        autodiscover_modules("mcp")
        registry = Registry()
        mcp_admins = []
        for admin_site in mcp_settings.ADMIN_SITES:
            for model, model_admin in admin_site._registry.items():  # AdminSite has no public iterator
                if isinstance(model_admin, McpAdminMixin):
                    exposure = ModelExposure(model_admin, admin_site)
                    registry.exposures[model] = exposure
                    mcp_admins.append((model_admin, exposure))
        for model_admin, exposure in mcp_admins:
            origin = type(model_admin).__qualname__
            operations = model_admin.get_mcp_operations()
            unknown = sorted(set(operations) - set(OPERATIONS))
            if unknown:
                raise ImproperlyConfigured(f"{origin}.mcp_operations has unknown entries {unknown}; use any of {list(OPERATIONS)}.")
            generated = {}
            for operation in operations:
                generated[operation] = GENERATED_TOOLS[operation](exposure)
                registry.add_tool(generated[operation], origin)
            for action_name in model_admin.mcp_actions:
                registry.add_tool(ActionTool(exposure, action_name), origin)
            for attribute in dir(type(model_admin)):
                member = getattr(type(model_admin), attribute, None)
                options = getattr(member, "mcp_tool", None)
                if options is not None:
                    registry.add_tool(SerializerTool(getattr(model_admin, attribute), model_admin=model_admin, **options), origin)
                prompt_options = getattr(member, "mcp_prompt", None)
                if prompt_options is not None:
                    registry.add_prompt(McpPrompt(getattr(model_admin, attribute), **prompt_options), origin)
            if "get" in generated:
                registry.resource_templates.append(ModelResourceTemplate(exposure, generated["get"]))
        for tool in self._tools:
            registry.add_tool(tool, "McpSite.tool")
        # Related resources last: they need the child models' search tools.
        for model_admin, exposure in mcp_admins:
            for relation in model_admin.mcp_related_resources:
                self._add_related_resource(registry, model_admin, exposure, relation)
        for prompt in self._prompts:
            registry.add_prompt(prompt, "McpSite.prompt")
        for resource in self._resources:
            (registry.resource_templates if resource.is_template else registry.resources).append(resource)
        for prompt in registry.prompts.values():
            missing = [name for name in prompt.requires_tools if name not in registry.tools]
            if missing:
                raise ImproperlyConfigured(f"Prompt {prompt.name!r} requires unknown tool(s) {missing}.")
        return registry

    @staticmethod
    def _add_related_resource(registry, model_admin, exposure, relation):
        origin = type(model_admin).__qualname__
        get_tool = registry.tools.get(f"get_{exposure.singular}")
        rel = next((r for r in exposure.opts.related_objects if r.get_accessor_name() == relation), None)
        child = registry.exposures.get(rel.related_model) if rel else None
        child_search = registry.tools.get(f"search_{child.plural}") if child else None
        if get_tool is None or child_search is None:
            raise ImproperlyConfigured(
                f"{origin}.mcp_related_resources names {relation!r}: the model needs a 'get' operation, and "
                f"{relation!r} must be a reverse relation whose model is exposed with a 'search' operation."
            )
        registry.resource_templates.append(RelatedResourceTemplate(exposure, get_tool, relation, child, child_search))

    # -- what a caller may see -----------------------------------------------------------------
    def visible_tool_names(self, request, generation):
        """Return the names of the tools *request.user* may call, cached per permission generation.

        The cache assumes `has_*_permission` hooks depend on the user's permissions only, as
        Django's defaults do; a hook that also reads the request should override get_mcp_* hooks.
        """
        if generation != self._visible_generation:
            self._visible = {}
            self._visible_generation = generation
        key = (request.user.pk, request.user.is_superuser, request.user.is_active)
        names = self._visible.get(key)
        if names is None:
            names = frozenset(name for name, tool in self.registry.tools.items() if tool.has_permission(request))
            if len(self._visible) >= _VISIBLE_CACHE_SIZE:
                self._visible.clear()
            self._visible[key] = names
        return names

    def get_tool(self, request, name, generation):
        """Return the tool *name* if the caller may call it, else None (hidden looks like missing)."""
        tool = self.registry.tools.get(name)
        if tool is None or name not in self.visible_tool_names(request, generation):
            return None
        # Re-ask the tool itself: the cached set is an optimisation, never the only check.
        return tool if tool.has_permission(request) else None


site = McpSite()
