"""A URLconf without mcp_bridge.urls, for the check that reports it (mcp_bridge.W014)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
