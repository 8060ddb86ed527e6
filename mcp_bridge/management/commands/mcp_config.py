"""Print ready-to-paste MCP client configuration (stdio and HTTP) for this project."""

import json
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mcp_bridge.conf import mcp_settings


def server_port():
    """The port `make demo` serves on: the PORT environment variable (the Makefile exports it), else 8000."""
    port = os.environ.get("PORT", "8000")
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise CommandError(
            f"The PORT environment variable is {port!r}: set it to a port number (1-65535), or pass --url."
        )
    return int(port)


class Command(BaseCommand):
    help = "Print MCP client configuration blocks (Claude Desktop, Cursor, ...) for stdio and HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username the stdio server acts as.")
        parser.add_argument(
            "--url",
            default=None,
            help="Base URL of the ASGI server (default: http://127.0.0.1:$PORT, port 8000 if PORT is unset).",
        )
        parser.add_argument(
            "--api-key",
            default="<API key from `manage.py mcp_apikey create`>",
            help="Bearer key to put in the HTTP configuration.",
        )

    def handle(self, *args, user, url, api_key, **options):
        url = url or f"http://127.0.0.1:{server_port()}"
        name = mcp_settings.SERVER_NAME
        manage_py = str(Path(settings.BASE_DIR) / "manage.py")
        endpoint = url.rstrip("/") + mcp_settings.PATH
        stdio = {"mcpServers": {name: {"command": sys.executable, "args": [manage_py, "runmcp", "--user", user]}}}
        http = {
            "mcpServers": {name: {"type": "http", "url": endpoint, "headers": {"Authorization": f"Bearer {api_key}"}}}
        }
        self.stdout.write(f"MCP endpoint: {endpoint}\n")
        self.stdout.write("stdio client configuration:\n" + json.dumps(stdio, indent=2) + "\n")
        self.stdout.write("HTTP client configuration:\n" + json.dumps(http, indent=2) + "\n")
