"""Show what one user would see over MCP, and why everything else is hidden."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mcp_bridge.authentication import local_principal
from mcp_bridge.permissions import prime_permissions
from mcp_bridge.requests import McpRequest
from mcp_bridge.sites import site


class Command(BaseCommand):
    help = "List the tools, resource templates and prompts a user may use, and the reasons for each one hidden."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)

    def handle(self, *args, user, **options):
        try:
            account = get_user_model()._default_manager.get_by_natural_key(user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {user!r}.") from None
        if not account.is_active:
            self.stdout.write(f"{user} is inactive: every tool is hidden.")
            return
        generation = prime_permissions(account)
        request = McpRequest(account, principal=local_principal(account))
        registry = site.registry
        visible = site.visible_tool_names(request, generation)
        self.stdout.write(f"User {user}{' (superuser)' if account.is_superuser else ''}\n")
        self.stdout.write(f"Tools visible ({len(visible)}):")
        for name in sorted(visible):
            self.stdout.write(f"  + {name}")
        hidden = sorted(set(registry.tools) - visible)
        self.stdout.write(f"Tools hidden ({len(hidden)}):")
        for name in hidden:
            missing = [req for req, ok in registry.tools[name].permission_checks(request) if not ok]
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
