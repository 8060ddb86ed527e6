from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class McpBridgeConfig(AppConfig):
    name = "mcp_bridge"
    verbose_name = "MCP bridge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.apps import apps
        from django.contrib.auth import get_user_model

        from . import audit, capacity, checks, metrics  # noqa: F401  (connect their receivers of call_records.call_finished)  # noqa: F401  (register system checks)

        if apps.is_installed("oauth2_provider"):
            from .oauth import checks as oauth_checks  # noqa: F401  (the authorization server's checks)
        from .authentication import forget_credentials
        from .conf import mcp_settings
        from .grants import sync_tool_permissions
        from .permissions import connect_signals, invalidate_permissions

        credential_models = {
            model for cls in mcp_settings.AUTHENTICATION_CLASSES for model in getattr(cls, "credential_models", ())
        }
        connect_signals(credential_models)
        for model in (*credential_models, get_user_model()):
            post_save.connect(
                forget_credentials, sender=model, dispatch_uid=f"mcp_bridge.creds.save.{model._meta.label}"
            )
            post_delete.connect(
                forget_credentials, sender=model, dispatch_uid=f"mcp_bridge.creds.del.{model._meta.label}"
            )
        post_migrate.connect(sync_tool_permissions, sender=self, dispatch_uid="mcp_bridge.sync_tool_permissions")
        # A rate limit saved or deleted in the admin replaces the access generation, under which every
        # process keeps the overrides it read (throttling.ToolRateOverrides): the next call sees it.
        rate_limit_model = self.get_model("ToolRateLimit")
        post_save.connect(invalidate_permissions, sender=rate_limit_model, dispatch_uid="mcp_bridge.rate_limit.save")
        post_delete.connect(invalidate_permissions, sender=rate_limit_model, dispatch_uid="mcp_bridge.rate_limit.del")
