"""URLs served by Django; the MCP endpoint is mounted beside Django in config/asgi.py."""

from django.contrib import admin
from django.urls import include, path

from mcp_bridge import views as mcp_views
from mcp_bridge.activity_views import activity_view

urlpatterns = [
    # The "MCP activity" dashboard, under the admin (before its catch-all).
    path("admin/mcp-activity/", activity_view(admin.site), name="mcp_activity"),
    path("admin/", admin.site.urls),
    # Report jobs' status URLs (/mcp/jobs/<id>) beside the MCP endpoint, which config/asgi.py mounts at /mcp.
    path("mcp/", include("mcp_bridge.urls")),
    # OAuth 2.1 for remote MCP clients: metadata at /.well-known/, the endpoints under /o/, sign-in.
    path("", include("mcp_bridge.oauth.urls")),
    path("healthz", mcp_views.health, name="health"),
    path("readyz", mcp_views.readiness, name="readiness"),
]
