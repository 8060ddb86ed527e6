"""Write a server.json for the official MCP registry."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mcp_bridge import __version__
from mcp_bridge.conf import mcp_settings

SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"


class Command(BaseCommand):
    help = "Write server.json (MCP registry manifest): name, version, remote transport, package, settings."

    def add_arguments(self, parser):
        parser.add_argument(
            "--name", required=True, help="Registry name in reverse-DNS form, e.g. io.github.acme/support."
        )
        parser.add_argument(
            "--url", required=True, help="Public base URL of the deployment, e.g. https://support.acme.com."
        )
        parser.add_argument("--package", default="django-mcp-bridge", help="PyPI package that runs the stdio server.")
        parser.add_argument("--server-version", default=None, help="Server version (default: mcp_bridge's version).")
        parser.add_argument(
            "--output",
            default=str(Path(settings.BASE_DIR) / "server.json"),
            help="File to write ('-' for standard output).",
        )

    def handle(self, *args, name, url, package, server_version, output, **options):
        if name.count("/") != 1 or "." not in name.split("/")[0]:
            raise CommandError(
                f"--name {name!r} must look like 'io.github.owner/server' (reverse-DNS namespace, one slash)."
            )
        if not url.startswith(("https://", "http://localhost", "http://127.0.0.1")):
            raise CommandError("--url must be https:// (registries list only publicly reachable servers).")
        version = server_version or mcp_settings.SERVER_VERSION or __version__
        manifest = {
            "$schema": SCHEMA,
            "name": name,
            "title": mcp_settings.SERVER_TITLE or mcp_settings.SERVER_NAME,
            "description": (mcp_settings.INSTRUCTIONS or f"{mcp_settings.SERVER_NAME}, served by mcp_bridge.")[:100],
            "version": version,
            "remotes": [
                {
                    "type": "streamable-http",
                    "url": url.rstrip("/") + mcp_settings.PATH,
                    "headers": [
                        {
                            "name": "Authorization",
                            "description": "Bearer API key issued in the Django admin or with `manage.py mcp_apikey create`.",
                            "isRequired": True,
                            "isSecret": True,
                        }
                    ],
                }
            ],
            "packages": [
                {
                    "registryType": "pypi",
                    "identifier": package,
                    "version": version,
                    "runtimeHint": "python",
                    "transport": {"type": "stdio"},
                    "packageArguments": [
                        {"type": "positional", "value": "runmcp"},
                        {
                            "type": "named",
                            "name": "--user",
                            "description": "Django user the client acts as.",
                            "isRequired": True,
                        },
                    ],
                    "environmentVariables": [
                        {
                            "name": "DJANGO_SETTINGS_MODULE",
                            "description": "Settings module of the Django project.",
                            "isRequired": True,
                        },
                        {
                            "name": "DATABASE_URL",
                            "description": "Database of the Django project.",
                            "isRequired": False,
                            "isSecret": True,
                        },
                    ],
                }
            ],
        }
        text = json.dumps(manifest, indent=2) + "\n"
        if output == "-":
            self.stdout.write(text, ending="")
            return
        Path(output).write_text(text)
        self.stdout.write(f"Wrote {output}.")
