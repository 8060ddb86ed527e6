"""Report declarations are checked when the registry is built, with ids, hints and the object at fault."""

import pytest
from django.contrib import admin
from django.core import checks

import mcp_bridge
from customers.models import Order
from mcp_bridge import McpAdminMixin
from mcp_bridge.checks import as_check_message, check_annotations, check_reports, check_throttles
from mcp_bridge.exceptions import AnnotationError
from mcp_bridge.sites import McpSite, site

from .test_checks import forget_earlier_admin_classes

LONG = "Sum every order. Use it for a monthly review. Returns a job to poll; the result has one row per month."


def report_function(request, data, job):
    return {}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"time_limit": 0}, "time_limit must be a positive number of seconds (got 0)"),
        ({"result_ttl": "1 day"}, "result_ttl must be a positive number of seconds (got '1 day')"),
        (
            {"soft_time_limit": 60, "time_limit": 60},
            "soft_time_limit (60) must be below time_limit (60), so the report can stop cleanly before its "
            "process is killed",
        ),
        ({"queue": 5}, "queue must be a Celery queue name (got 5)"),
        ({"task_support": "always"}, "task_support must be one of optional, required (got 'always')"),
        ({"prepare": "ask first"}, "prepare must be a function (request, data, context)"),
    ],
)
def test_report_options_that_cannot_work_fail_where_they_are_declared(options, problem):
    with pytest.raises(AnnotationError) as raised:
        McpSite(name="fresh").report(description=LONG, **options)(report_function)
    assert as_check_message(raised.value) == checks.Error(
        f"Report 'report_function': {problem}.",
        hint="Fix the options of @mcp_bridge.report / site.report (see docs/reports.md).",
        obj=report_function,
        id="mcp_bridge.E121",
    )


@pytest.fixture
def other_site(settings):
    forget_earlier_admin_classes()
    other = admin.AdminSite(name="other")
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "ADMIN_SITES": ["django.contrib.admin.site", other]}
    yield other
    site.reset()


def test_reports_without_a_job_model(other_site, settings):
    class OtherOrderAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_name, mcp_name_plural = "other_order", "other_orders"
        search_fields = ("status",)

        @mcp_bridge.report(description=LONG)
        def order_totals(self, request, data, job):
            return {}

    other_site.register(Order, OtherOrderAdmin)
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "JOB_MODEL": "customers.Order"}
    [error] = check_annotations()
    assert error.id == "mcp_bridge.E120"
    assert error.msg.startswith("MCP_BRIDGE['JOB_MODEL'] is 'customers.Order', which is not a subclass of ")
    assert "'churn_risk_report' stores its runs there" in error.msg
    assert "name it in MCP_BRIDGE['JOB_MODEL'], e.g. 'tasks.Job'" in error.hint
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "JOB_MODEL": None}
    [error] = check_annotations()
    assert error.id == "mcp_bridge.E120"
    assert error.msg.startswith("Reports need MCP_BRIDGE['JOB_MODEL']")


def test_a_report_rate_that_does_not_parse(settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "REPORT_THROTTLE_RATE": "5 per hour"}
    errors = [message for message in check_throttles() if message.id == "mcp_bridge.E012"]
    assert len(errors) == 1 and "'5 per hour'" in errors[0].msg


def test_reports_without_status_urls_are_reported(settings):
    settings.ROOT_URLCONF = "tests.urls_without_jobs"
    assert check_reports() == [
        checks.Warning(
            "Reports are declared, but mcp_bridge.urls is not included in ROOT_URLCONF: jobs get no status URL.",
            hint="Add path('mcp/', include('mcp_bridge.urls')) to the project's urlpatterns (GET /mcp/jobs/<id>).",
            id="mcp_bridge.W014",
        )
    ]
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "JOB_STATUS_ORIGIN": "https://mcp.example.com"}
    assert check_reports() == []


def test_the_demo_reports_pass_every_check():
    assert check_reports() == []
