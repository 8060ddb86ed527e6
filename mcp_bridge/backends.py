"""An authentication backend that answers an MCP call's permission checks from the set the call holds.

Django's ModelBackend queries a user's permissions once per user instance; every MCP call loads a
fresh instance, so each call would pay those queries. `permissions.prime_permissions` puts the
user's set (cached under the access generation) on `user.mcp_permissions`, and `McpModelBackend`
answers from it. Use it in place of ModelBackend in AUTHENTICATION_BACKENDS; logins and the admin
work as before. With plain ModelBackend, MCP permissions are still right, read from the database on
each call.
"""

from django.contrib.auth.backends import ModelBackend


class McpModelBackend(ModelBackend):
    """ModelBackend that reads a user's model permissions from `user.mcp_permissions` when primed.

    The primed set is the union of user and group permissions, so `get_user_permissions()` and
    `get_group_permissions()`, which ask for one side, still come from ModelBackend.
    """

    def get_all_permissions(self, user_obj, obj=None):
        """Return the primed set for model-wide checks of an active user; otherwise as ModelBackend.

        Inactive and anonymous users have no permissions and ModelBackend grants no object-level
        permission (*obj* not None), whatever was primed.
        """
        primed = self.primed_permissions(user_obj, obj)
        return super().get_all_permissions(user_obj, obj) if primed is None else primed

    async def aget_all_permissions(self, user_obj, obj=None):
        """See get_all_permissions()."""
        primed = self.primed_permissions(user_obj, obj)
        return await super().aget_all_permissions(user_obj, obj) if primed is None else primed

    @staticmethod
    def primed_permissions(user_obj, obj=None):
        """The set primed on *user_obj* if it answers this check, else None (ask ModelBackend)."""
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return None
        return getattr(user_obj, "mcp_permissions", None)
