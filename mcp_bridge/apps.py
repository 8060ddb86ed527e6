from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class McpBridgeConfig(AppConfig):
    name = "mcp_bridge"
    verbose_name = "MCP bridge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth import get_user_model

        from . import capacity, checks  # noqa: F401  (register system checks)
        from .authentication import forget_credentials
        from .conf import mcp_settings
        from .grants import sync_tool_permissions
        from .permissions import connect_signals

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
