"""Admin for API keys (issued and revoked here) and the tool registry (grants are permissions)."""

from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.utils import timezone

from .activity_views import link_from_index
from .audit_admin import AuditEntryAdmin  # noqa: F401 - registers the audit trail's (read-only) admin
from .authentication import forget_credentials
from .models import ApiKey, Tool, hash_api_key
from .permissions import invalidate_permissions
from .rate_limit_admin import ToolRateLimitAdmin  # noqa: F401 - registers the per-tool rate limits' admin

# The "MCP activity" page (config/urls.py mounts it at admin/mcp-activity/) is linked from the index.
link_from_index(admin.site)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    fields = ("user", "name", "expires_at", "prefix", "created_at", "last_used_at", "revoked_at")
    autocomplete_fields = ("user",)
    actions = ("revoke_keys",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.prefix, raw_key = ApiKey.generate()
            obj.key_hash = hash_api_key(raw_key)
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                f"The new API key is {raw_key} — copy it now: it is stored hashed and will not be shown again.",
                messages.WARNING,
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        # A bulk update sends no post_save: tell every process, as a save would.
        invalidate_permissions()
        forget_credentials()
        self.message_user(request, f"Revoked {count} API key(s).")


@admin.register(Tool)
class ToolAdmin(admin.ModelAdmin):
    """The registered tools, and which groups may call each (grant with the group or user form)."""

    list_display = ("name", "title", "granted_to_groups")
    search_fields = ("name", "title", "description")
    readonly_fields = ("name", "title", "description", "granted_to_groups")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Granted to groups")
    def granted_to_groups(self, obj):
        groups = Group.objects.filter(permissions__codename=Tool.permission_codename(obj.name)).values_list(
            "name", flat=True
        )
        return ", ".join(groups) or "—"
