"""The audit trail in the Django admin: read only, filtered and searched along its indexes.

Registered by mcp_bridge/admin.py. The table grows with every call, so nothing on the changelist
reads it more than once per page: the filters list choices from the model, the tool registry and
indexed columns (never a DISTINCT over whole rows), search is by exact request id or name (indexed
columns), the full result count is not computed, and rows are shown with the username stored on
them (no user query per row).
"""

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry


class ToolNameFilter(admin.SimpleListFilter):
    """Filter by tool: the choices are the registry's tools, not a scan of the table."""

    title = _("tool")
    parameter_name = "name"

    def lookups(self, request, model_admin):
        from .sites import site

        try:
            names = sorted(site.registry.tools)
        except Exception:  # a registry that cannot be built is reported by the system checks, not here
            names = []
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(name=value) if value else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Who did what through MCP: read only (the retention cleanup deletes old rows, nobody else)."""

    list_display = (
        "created",
        "username",
        "auth_kind",
        "kind",
        "name",
        "outcome",
        "duration_ms",
        "rows",
        "client",
    )
    list_filter = (
        "outcome",
        "kind",
        ToolNameFilter,
        ("user", admin.RelatedOnlyFieldListFilter),  # the users in the table, through its (user, created) index
        "auth_kind",
        ("client_name", admin.AllValuesFieldListFilter),  # through its (client_name, created) index
        ("created", admin.DateFieldListFilter),  # Today, past 7 days, ...: no query to build its choices
    )
    search_fields = ("request_id",)
    search_help_text = _("An exact request id (a report job's id), or an exact tool name or resource URI.")
    show_full_result_count = False
    list_select_related = False  # the list shows stored usernames: no join, no query per row
    readonly_fields = (
        "created",
        "request_id",
        "kind",
        "name",
        "outcome",
        "error",
        "duration_ms",
        "rows",
        "user",
        "username",
        "auth_kind",
        "credential",
        "client_name",
        "client_version",
        "protocol_version",
        "session_id",
        "arguments",
        "admin_log_entries",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        """Exact matches on indexed columns: a case-insensitive LIKE would scan the whole trail."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(request_id=term) | Q(name=term)), False

    @admin.display(description=_("client"), ordering="client_name")
    def client(self, obj):
        return f"{obj.client_name} {obj.client_version}".strip() or "—"

    @admin.display(description=_("admin log entries"))
    def admin_log_entries(self, obj):
        entries = obj.log_entries.select_related("content_type").order_by("pk")
        rows = []
        for entry in entries:
            url = entry.get_admin_url()
            rows.append((url or "", str(entry)))
        if not rows:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}</li>",
                ((format_html('<a href="{}">{}</a>', url, text) if url else text,) for url, text in rows),
            ),
        )
