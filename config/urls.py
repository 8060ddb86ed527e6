"""URLs served by Django; the MCP endpoint is mounted beside Django in config/asgi.py."""

from django.contrib import admin
from django.urls import include, path

from mcp_bridge import views as mcp_views

urlpatterns = [
    path("admin/", admin.site.urls),
    # Report jobs' status URLs (/mcp/jobs/<id>) beside the MCP endpoint, which config/asgi.py mounts at /mcp.
    path("mcp/", include("mcp_bridge.urls")),
    path("healthz", mcp_views.health, name="health"),
    path("readyz", mcp_views.readiness, name="readiness"),
]
