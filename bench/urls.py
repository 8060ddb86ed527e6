"""The demo URLconf plus the JSON views the benchmark compares MCP against (bench settings only)."""

from django.urls import path

from config.urls import urlpatterns as demo_urlpatterns

from . import views

urlpatterns = [
    *demo_urlpatterns,
    path("bench/bare/get_customer", views.bare_get_customer),
    path("bench/bare/search_customers", views.bare_search_customers),
    path("bench/plain/get_customer", views.get_customer),
    path("bench/plain/search_customers", views.search_customers),
    path("bench/plain/tools", views.tools_list),
    path("bench/queries", views.query_counts),
]
