"""ASGI entry point: Django for everything, with the MCP endpoint mounted at /mcp.

Serve with: uvicorn config.asgi:application
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()  # sets Django up before mcp_bridge is imported

from mcp_bridge.asgi import McpAsgiApp  # noqa: E402

application = McpAsgiApp(django_application)
