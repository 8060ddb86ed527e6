"""Print ready-to-paste MCP client configuration (stdio and HTTP) for this project."""

import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from mcp_bridge.conf import mcp_settings


class Command(BaseCommand):
    help = "Print MCP client configuration blocks (Claude Desktop, Cursor, ...) for stdio and HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username the stdio server acts as.")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Base URL of the ASGI server.")
        parser.add_argument("--api-key", default="<API key from `manage.py mcp_apikey create`>",
                            help="Bearer key to put in the HTTP configuration.")

    def handle(self, *args, user, url, api_key, **options):
        name = mcp_settings.SERVER_NAME
        manage_py = str(Path(settings.BASE_DIR) / "manage.py")
        endpoint = url.rstrip("/") + mcp_settings.PATH
        stdio = {"mcpServers": {name: {"command": sys.executable, "args": [manage_py, "runmcp", "--user", user]}}}
        http = {"mcpServers": {name: {"type": "http", "url": endpoint, "headers": {"Authorization": f"Bearer {api_key}"}}}}
        self.stdout.write(f"MCP endpoint: {endpoint}\n")
        self.stdout.write("stdio client configuration:\n" + json.dumps(stdio, indent=2) + "\n")
        self.stdout.write("HTTP client configuration:\n" + json.dumps(http, indent=2) + "\n")
