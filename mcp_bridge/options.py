"""McpAdminMixin: the options a ModelAdmin declares to expose its model over MCP."""

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .exceptions import AnnotationError

READ_OPERATIONS = ("search", "get")
WRITE_OPERATIONS = ("create", "update", "delete")
OPERATIONS = READ_OPERATIONS + WRITE_OPERATIONS

#: Hooks read once, without a request, when the registry is built (system check mcp_bridge.E011).
SCHEMA_HOOKS = ("get_mcp_operations", "get_mcp_fields", "get_mcp_write_fields")


class McpAdminMixin:
    """Mix into a ModelAdmin to generate MCP tools and resources from it.

    Nothing is exposed unless declared: reads by default, writes only when listed.

        @admin.register(Customer)
        class CustomerAdmin(McpAdminMixin, admin.ModelAdmin):
            mcp_operations = ("search", "get", "update")
            mcp_fields = ("id", "name", "email", "status")

    Unlike the admin's get_list_display(request), the get_mcp_* hooks that shape tools (SCHEMA_HOOKS)
    take no request: they are read once, when the registry is built at start-up, because a tool's name
    and schemas must be the same for every caller (clients cache the tool list). What one caller may
    see or do is decided per request by get_mcp_queryset(request) and the has_*_permission(request)
    methods.
    """

    #: Generated tools: any of "search", "get", "create", "update", "delete".
    mcp_operations = READ_OPERATIONS
    #: Fields shown in results. None: the primary key plus the model fields of `list_display`.
    mcp_fields = None
    #: Fields that create/update accept. None: `mcp_fields` the admin lets you edit.
    mcp_write_fields = None
    #: Fields shown masked ('j***@example.com'); they cannot be ordered by or written.
    mcp_redacted_fields = ()
    #: A ModelSerializer to use instead of the generated one (for input and output).
    mcp_serializer_class = None
    #: Admin actions (by name) to expose as tools.
    mcp_actions = ()
    #: Extra text appended to every generated tool's description.
    mcp_description = ""
    #: Extra text for one generated tool, by operation ("search", "get", "create", "update", "delete"),
    #: after `mcp_description`: the words of this domain an agent's request will use ("mark churned").
    mcp_tool_descriptions: dict = {}
    #: Reverse relations (accessor names) exposed as `<app>://<model>/{id}/<relation>` resources.
    mcp_related_resources = ()
    #: Override the names used in tool names (`get_<name>`, `search_<name_plural>`).
    mcp_name = None
    mcp_name_plural = None
    #: Business rules per operation, checked before a call runs (see mcp_bridge.rules):
    #: {"search": [MaxDateRange("created", days=90)], "create": [MustExist("customer")]}. Keys are
    #: operations, `mcp_actions` names and the names of this ModelAdmin's own tools and reports.
    mcp_rules: dict = {}
    #: Seconds a call of this ModelAdmin's tools may take (None: MCP_BRIDGE['TOOL_TIME_BUDGET']); a
    #: tool's or action's own `time_budget=` wins. Past it the call ends with isError, its writes rolled back.
    mcp_time_budget = None

    def get_mcp_queryset(self, request):
        """Return the rows MCP callers may reach; defaults to the admin's own get_queryset()."""
        return self.get_queryset(request)

    def get_mcp_rules(self, operation):
        """Return the business rules of *operation* (default: `mcp_rules.get(operation, [])`).

        *operation* is 'search', 'get', 'create', 'update', 'delete', an action's name or a tool's
        name. Read once at start-up, without a request: the rules are part of the tool's description.
        A rule that depends on the caller receives the request when it checks a call.
        """
        if not isinstance(self.mcp_rules, dict):  # never skip a rule silently: refuse the calls it was meant for
            raise AnnotationError(
                f"The value of 'mcp_rules' must be a dict, not {type(self.mcp_rules).__name__}.",
                id="mcp_bridge.E130",
                obj=type(self),
                hint="Map operations to lists of rules: mcp_rules = {'search': [MaxDateRange('created', days=90)]}.",
            )
        return self.mcp_rules.get(operation, [])

    def get_mcp_description(self, operation):
        """Return the text appended to the description of *operation*'s generated tool.

        Default: `mcp_description`, then `mcp_tool_descriptions[operation]`. Read once at start-up,
        without a request: a tool's description is the same for every caller.
        """
        extra = self.mcp_tool_descriptions.get(operation, "") if isinstance(self.mcp_tool_descriptions, dict) else ""
        return " ".join(text.strip() for text in (self.mcp_description, extra) if text and text.strip())

    def get_mcp_time_budget(self, operation):
        """Return the seconds a call of *operation* may take, or None for the default (`mcp_time_budget`)."""
        return self.mcp_time_budget

    def get_mcp_operations(self):
        """Return the operations to generate tools for (default: `mcp_operations`).

        Read once at start-up, without a request: the set of tools is the same for every caller.
        Hide a tool from some callers with has_*_permission(request) instead.
        """
        return tuple(self.mcp_operations)

    def get_mcp_fields(self):
        """Return the fields shown in results (default: `mcp_fields`, else the pk and `list_display` fields).

        Read once at start-up, without a request: the output schema is the same for every caller.
        Narrow which rows a caller sees with get_mcp_queryset(request) instead.
        """
        if self.mcp_fields is not None:
            return tuple(self.mcp_fields)
        opts = self.model._meta
        names = [opts.pk.name]
        for entry in self.list_display:
            if isinstance(entry, str) and entry not in names:
                try:
                    field = opts.get_field(entry)
                except FieldDoesNotExist:  # a method or admin attribute: no model field to show
                    continue
                if field.concrete:
                    names.append(entry)
        return tuple(names)

    def get_mcp_write_fields(self):
        """Return the fields create/update accept (default: `mcp_write_fields`, else the editable `mcp_fields`).

        Read once at start-up, without a request: the input schema is the same for every caller.
        Refuse writes to some callers with has_add_permission(request) / has_change_permission(request) instead.
        """
        if self.mcp_write_fields is not None:
            return tuple(self.mcp_write_fields)
        opts = self.model._meta
        declared = set(self.fields) if self.fields else None
        readonly = set(self.readonly_fields)
        names = []
        for name in self.get_mcp_fields():
            field = opts.get_field(name)
            if (
                not field.concrete
                or not field.editable
                or field.primary_key
                or isinstance(field, models.AutoField)
                or name in readonly
                or name in self.mcp_redacted_fields
                or (declared is not None and name not in declared)
            ):
                continue
            names.append(name)
        return tuple(names)
