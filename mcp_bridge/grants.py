"""Keep one `mcp_bridge.Tool` row and one `call_<tool>` permission per registered tool."""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, router


def sync_tool_permissions(using=DEFAULT_DB_ALIAS, site=None, verbosity=0, apps=None, **kwargs):
    """Create the Tool rows and grant permissions for every tool of *site*.

    Tools that disappear keep their rows and permissions, so grants survive a temporary rename
    or a deploy that removes and restores a ModelAdmin. Run after `migrate`, it does nothing until
    the tables it writes exist (`migrate auth` on a new database has not created mcp_bridge's yet).
    """
    from .models import Tool
    from .sites import site as default_site

    if apps is not None:
        try:
            for label in ("mcp_bridge.Tool", "auth.Permission", "contenttypes.ContentType"):
                apps.get_model(label)
        except LookupError:
            return
    if not router.allow_migrate_model(using, Tool):
        return
    site = site or default_site
    content_type = ContentType.objects.db_manager(using).get_for_model(Tool)
    existing = set(Tool.objects.using(using).values_list("name", flat=True))
    existing_perms = set(
        Permission.objects.using(using).filter(content_type=content_type).values_list("codename", flat=True)
    )
    new_tools, new_perms = [], []
    for name, tool in site.registry.tools.items():
        if name not in existing:
            new_tools.append(Tool(name=name, title=(tool.title or "")[:200], description=tool.description))
        codename = Tool.permission_codename(name)
        if codename not in existing_perms:
            new_perms.append(
                Permission(content_type=content_type, codename=codename, name=f"Can call MCP tool {name}"[:255])
            )
    Tool.objects.using(using).bulk_create(new_tools)
    Permission.objects.using(using).bulk_create(new_perms)
    if verbosity >= 2 and (new_tools or new_perms):
        print(f"Added {len(new_perms)} MCP tool permission(s).")
