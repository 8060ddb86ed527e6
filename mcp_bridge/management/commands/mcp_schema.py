"""Snapshot the MCP surface and fail when it changes, saying which semver bump the change needs."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mcp_bridge.sites import site
from mcp_bridge.surface import MAJOR, diff, dumps, release_level, snapshot, surface_version


class Command(BaseCommand):
    help = "Compare the tool surface with the committed snapshot (--check) or rewrite it (--write)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--file",
            default=str(Path(settings.BASE_DIR) / "mcp_schema.json"),
            help="Snapshot file (default: mcp_schema.json in the project root).",
        )
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--check", action="store_true", help="Exit 1 if the surface differs from the snapshot.")
        action.add_argument("--write", action="store_true", help="Write the current surface to the snapshot.")

    def handle(self, *args, file, check, write, **options):
        current = snapshot(site.registry)
        path = Path(file)
        if write:
            path.write_text(dumps(current))
            self.stdout.write(
                f"Wrote {len(current['tools'])} tools to {path} (surface {surface_version(site.registry)})."
            )
            return
        if not path.exists():
            raise CommandError(f"No snapshot at {path}; create it with `manage.py mcp_schema --write` and commit it.")
        changes = diff(json.loads(path.read_text()), current)
        if not changes:
            self.stdout.write(f"The MCP surface matches {path.name} (surface {surface_version(site.registry)}).")
            return
        level = release_level(changes)
        for kind, message in changes:
            self.stdout.write(f"[{kind}] {message}")
        advice = {
            MAJOR: "breaking change: release a new MAJOR version",
            "minor": "additive change: release a new MINOR version",
            "patch": "descriptions only: release a new PATCH version",
        }[level]
        raise CommandError(
            f"The MCP surface changed ({advice}). Record it in CHANGELOG.md, then run `manage.py mcp_schema --write`."
        )
