"""Show what one user would see over MCP, and why everything else is hidden."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mcp_bridge import scopes as oauth_scopes
from mcp_bridge.authentication import Principal
from mcp_bridge.conf import mcp_settings
from mcp_bridge.permissions import prime_permissions
from mcp_bridge.requests import McpRequest
from mcp_bridge.sites import site


class Command(BaseCommand):
    help = "List the tools, resource templates and prompts a user may use, and the reasons for each one hidden."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument(
            "--scopes",
            help="Inspect as an OAuth client granted these scopes (space-separated, e.g. 'mcp:read'); "
            "by default, as an API key or stdio caller, whom scopes do not limit.",
        )

    def handle(self, *args, user, scopes=None, **options):
        try:
            account = get_user_model()._meta.default_manager.get_by_natural_key(user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {user!r}.") from None
        if not account.is_active:
            self.stdout.write(f"{user} is inactive: every tool is hidden.")
            return
        granted = None
        if scopes is not None:
            unknown = [scope for scope in scopes.split() if scope not in mcp_settings.OAUTH_SCOPES]
            if unknown:
                raise CommandError(
                    f"Unknown scope {', '.join(unknown)}: use scopes of MCP_BRIDGE['OAUTH_SCOPES'] "
                    f"({', '.join(mcp_settings.OAUTH_SCOPES)})."
                )
            granted = oauth_scopes.expand(scopes.split())
        generation = prime_permissions(account)
        principal = Principal(kind="oauth" if granted is not None else "local", user_id=account.pk, scopes=granted)
        request = McpRequest(account, principal=principal)
        registry = site.registry
        visible = site.visible_tool_names(request, generation)
        self.stdout.write(f"User {user}{' (superuser)' if account.is_superuser else ''}")
        if granted is not None:
            self.stdout.write(f"OAuth scopes: {' '.join(sorted(granted))}")
        self.stdout.write("")
        self.stdout.write(f"Tools visible ({len(visible)}):")
        for name in sorted(visible):
            self.stdout.write(f"  + {name}")
        hidden = sorted(set(registry.tools) - visible)
        self.stdout.write(f"Tools hidden ({len(hidden)}):")
        for name in hidden:
            tool = registry.tools[name]
            missing = [req for req, ok in tool.permission_checks(request) if not ok]
            if not principal.allows_scope(tool.required_scope):
                missing.insert(0, f"OAuth scope {tool.required_scope}")
            self.stdout.write(f"  - {name}: missing {'; '.join(missing) or 'a custom has_*_permission check'}")
        self.stdout.write("Resource templates:")
        for template in registry.resource_templates:
            mark = "+" if template.has_permission(request) else "-"
            self.stdout.write(f"  {mark} {template.uri_template}")
        self.stdout.write("Prompts:")
        for prompt in registry.prompts.values():
            if prompt.is_visible(visible):
                self.stdout.write(f"  + {prompt.name}")
            else:
                needed = [t for t in prompt.requires_tools if t not in visible]
                self.stdout.write(f"  - {prompt.name}: needs tools {', '.join(needed)}")
