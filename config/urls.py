"""URLs served by Django; the MCP endpoint is mounted beside Django in config/asgi.py."""

from django.contrib import admin
from django.urls import path

from mcp_bridge import views as mcp_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", mcp_views.health, name="health"),
    path("readyz", mcp_views.readiness, name="readiness"),
]
