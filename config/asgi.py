"""ASGI entry point: Django for everything, with the MCP endpoint mounted at /mcp.

Serve with: uvicorn config.asgi:application
"""

import os

from mcp_bridge.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()
