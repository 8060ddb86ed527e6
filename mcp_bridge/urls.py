"""URLs mcp_bridge serves through Django: `path("mcp/", include("mcp_bridge.urls"))` beside the endpoint."""

from django.urls import path

from . import job_views, metrics_views

app_name = "mcp_bridge"

urlpatterns = [
    path("jobs/<str:job_id>", job_views.job_status, name="job"),
    path("jobs/<str:job_id>/result", job_views.job_result, name="job-result"),
    path("jobs/<str:job_id>/files/<str:name>", job_views.job_file, name="job-file"),
    # Prometheus scrapes /mcp/metrics: staff sessions or MCP_BRIDGE['METRICS_TOKEN'] only.
    path("metrics", metrics_views.metrics_view, name="metrics"),
]
