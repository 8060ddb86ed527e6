"""The ModelAdmins of the admin sites that MCP_BRIDGE['ADMIN_SITES'] lists: the one place that reads them."""

from django.apps import apps
from django.contrib.admin.exceptions import NotRegistered

from .conf import mcp_settings
from .options import McpAdminMixin


def model_admin_for(admin_site, model):
    """Return the ModelAdmin registered for *model* in *admin_site*, or None."""
    try:
        return admin_site.get_model_admin(model)
    except NotRegistered:
        return None


def registered_admins(admin_site):
    """Return the (model, model_admin) pairs registered in *admin_site*, in the app registry's order.

    AdminSite has no public iterator over its registry, so every installed model is asked through the
    public is_registered()/get_model_admin() (start-up only).
    """
    return [
        (model, admin_site.get_model_admin(model)) for model in apps.get_models() if admin_site.is_registered(model)
    ]


def mcp_admins():
    """Yield (admin_site, model, model_admin) for every McpAdminMixin ModelAdmin of ADMIN_SITES."""
    for admin_site in mcp_settings.ADMIN_SITES:
        for model, model_admin in registered_admins(admin_site):
            if isinstance(model_admin, McpAdminMixin):
                yield admin_site, model, model_admin
