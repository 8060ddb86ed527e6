"""Serve the MCP server over stdio, acting as one user: `manage.py runmcp --user NAME`."""

import logging
import sys

import anyio
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve MCP over stdio (for Claude Desktop, Cursor, ...), acting as the given user."
    requires_system_checks: list[str] = []  # checks may print; the registry is validated when it is built

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username whose permissions the client gets.")

    def handle(self, *args, user, **options):
        # stdout carries protocol bytes only: everything else, including logging, goes to stderr.
        for handler in logging.getLogger().handlers:
            if getattr(handler, "stream", None) is sys.stdout:
                handler.setStream(sys.stderr)
        from mcp_bridge.authentication import local_principal
        from mcp_bridge.gc_freeze import freeze_startup_objects
        from mcp_bridge.server import current_principal, get_server
        from mcp_bridge.stdio import stdio_server  # answers every line, unlike mcp.server.stdio

        try:
            account = get_user_model()._meta.default_manager.get_by_natural_key(user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {user!r}.") from None
        if not account.is_active:
            raise CommandError(f"User {user!r} is inactive.")
        bridge = get_server()
        bridge.site.registry  # noqa: B018 - built now: annotation errors stop the command before it serves
        current_principal.set(local_principal(account))
        freeze_startup_objects(collect=False)  # if turned on; no full collection before the first answer
        sys.stderr.write(f"mcp_bridge: serving MCP over stdio as {user!r}\n")

        async def serve():
            async with stdio_server() as (read_stream, write_stream):
                await bridge.server.run(read_stream, write_stream, bridge.server.create_initialization_options())

        anyio.run(serve)
