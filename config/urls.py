"""URLs served by Django; the MCP endpoint is mounted beside Django in config/asgi.py."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
