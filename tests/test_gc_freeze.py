"""gc.freeze() of start-up objects: a process-wide decision the project takes, never the library by default."""

import gc
import os
import subprocess
import sys

from mcp_bridge.conf import DEFAULTS
from mcp_bridge.gc_freeze import freeze_startup_objects

from .servers import ROOT

FREEZE_TWICE = """
import gc, django
django.setup()
from mcp_bridge.gc_freeze import freeze_startup_objects
first = freeze_startup_objects(collect=False)
frozen = gc.get_freeze_count()
print(first, frozen > 0, freeze_startup_objects(), gc.get_freeze_count() == frozen)
"""


def test_the_library_leaves_the_collector_alone(settings):
    assert DEFAULTS["FREEZE_GC_AT_STARTUP"] is False
    settings.MCP_BRIDGE = {key: value for key, value in settings.MCP_BRIDGE.items() if key != "FREEZE_GC_AT_STARTUP"}
    before = gc.get_freeze_count()
    assert freeze_startup_objects() is False
    assert gc.get_freeze_count() == before


def test_a_project_that_turns_it_on_freezes_once_per_process():
    """The demo turns it on; the serving entry points (ASGI lifespan, runmcp) then freeze once. In a child
    process: a frozen test process would keep every object its later tests leave behind."""
    completed = subprocess.run(
        [sys.executable, "-c", FREEZE_TWICE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["True", "True", "False", "True"]
