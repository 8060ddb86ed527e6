"""McpAdminMixin: the options a ModelAdmin declares to expose its model over MCP."""

from django.db import models

READ_OPERATIONS = ("search", "get")
WRITE_OPERATIONS = ("create", "update", "delete")
OPERATIONS = READ_OPERATIONS + WRITE_OPERATIONS


class McpAdminMixin:
    """Mix into a ModelAdmin to generate MCP tools and resources from it.

    Nothing is exposed unless declared: reads by default, writes only when listed.

        @admin.register(Customer)
        class CustomerAdmin(McpAdminMixin, admin.ModelAdmin):
            mcp_operations = ("search", "get", "update")
            mcp_fields = ("id", "name", "email", "status")
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
    #: Reverse relations (accessor names) exposed as `<app>://<model>/{id}/<relation>` resources.
    mcp_related_resources = ()
    #: Override the names used in tool names (`get_<name>`, `search_<name_plural>`).
    mcp_name = None
    mcp_name_plural = None

    def get_mcp_queryset(self, request):
        """Return the rows MCP callers may reach; defaults to the admin's own get_queryset()."""
        return self.get_queryset(request)

    def get_mcp_operations(self):
        return tuple(self.mcp_operations)

    def get_mcp_fields(self):
        if self.mcp_fields is not None:
            return tuple(self.mcp_fields)
        opts = self.model._meta
        names = [opts.pk.name]
        for entry in self.list_display:
            if isinstance(entry, str) and entry not in names:
                try:
                    field = opts.get_field(entry)
                except Exception:
                    continue
                if field.concrete:
                    names.append(entry)
        return tuple(names)

    def get_mcp_write_fields(self):
        if self.mcp_write_fields is not None:
            return tuple(self.mcp_write_fields)
        opts = self.model._meta
        declared = set(self.fields) if self.fields else None
        readonly = set(self.readonly_fields)
        names = []
        for name in self.get_mcp_fields():
            field = opts.get_field(name)
            if (
                not field.concrete or not field.editable or field.primary_key
                or isinstance(field, models.AutoField) or name in readonly or name in self.mcp_redacted_fields
                or (declared is not None and name not in declared)
            ):
                continue
            names.append(name)
        return tuple(names)
