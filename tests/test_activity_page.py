"""The "MCP activity" admin page: numbers computed from audit rows, who may see it, and a real browser.

Rows are written directly (bulk_create) across tools, outcomes and durations; every expected number is
computed here from the rows written, with the nearest-rank percentile the page documents.
"""

import math
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from mcp_bridge import activity, audit
from mcp_bridge.models import AuditEntry

from .browser import chromium_page
from .servers import ROOT, server_password

ARTIFACTS_DIR = Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "var" / "artifacts")
URL = "/admin/mcp-activity/"


def nearest_rank(values, percent):
    ordered = sorted(values)
    return ordered[math.ceil(percent / 100 * len(ordered)) - 1]


#: name -> [(outcome, duration_ms, username)], all within the last 24 hours.
def planned_calls():
    alpha = [("ok", float(ms), "support_agent") for ms in range(1, 101)]
    for index in range(10):
        alpha[index * 7] = ("error", alpha[index * 7][1], "support_agent")
    for index in range(5):
        alpha[index * 7 + 3] = ("failed", alpha[index * 7 + 3][1], "analyst")
    beta = [("ok", 500.0 + 10 * index, "analyst") for index in range(20)]
    gamma = [("ok", 3.0, "admin")] * 3 + [("refused", 0.5, "admin")] * 7 + [("rate_limited", 0.2, "support_agent")] * 2
    return {"alpha": alpha, "beta": beta, "gamma": gamma}


def write_rows(now=None):
    now = now or timezone.now()
    rows = []
    for name, calls in planned_calls().items():
        for index, (outcome, duration, username) in enumerate(calls):
            rows.append(
                AuditEntry(
                    created=now - timedelta(minutes=(index * 11) % (23 * 60)),
                    request_id=f"{name}-{index}",
                    kind="tool",
                    name=name,
                    username=username,
                    outcome=outcome,
                    duration_ms=duration,
                )
            )
    # Outside the window, and another kind of call: neither may count in the 24 hours of tool calls.
    rows += [
        AuditEntry(created=now - timedelta(days=2), request_id="old", kind="tool", name="alpha", outcome="failed"),
        AuditEntry(created=now - timedelta(hours=1), request_id="r", kind="resource", name="x://1", outcome="ok"),
    ]
    AuditEntry.objects.bulk_create(rows)


@pytest.fixture
def no_audit_rows(db):
    """Start from an empty audit trail: calls of earlier tests may still be queued for it."""
    audit.flush()
    AuditEntry.objects.all().delete()


@pytest.fixture
def rows(no_audit_rows):
    write_rows()
    return planned_calls()


def test_numbers_per_tool(admin_client, rows):
    response = admin_client.get(URL)
    assert response.status_code == 200
    data = response.context["activity"]
    by_name = {stats.name: stats for stats in data.tools}
    assert set(by_name) == set(rows)
    for name, calls in rows.items():
        stats = by_name[name]
        durations = [duration for _, duration, _ in calls]
        errors = sum(outcome in ("error", "failed") for outcome, _, _ in calls)
        assert stats.calls == len(calls)
        assert stats.errors == errors
        assert stats.error_rate == pytest.approx(errors / len(calls))
        assert stats.refused == sum(outcome == "refused" for outcome, _, _ in calls)
        assert stats.rate_limited == sum(outcome == "rate_limited" for outcome, _, _ in calls)
        assert stats.p50 == nearest_rank(durations, 50)
        assert stats.p95 == nearest_rank(durations, 95)
    assert (by_name["alpha"].p50, by_name["alpha"].p95, by_name["alpha"].error_percent) == (50.0, 95.0, 15.0)
    everything = [duration for calls in rows.values() for _, duration, _ in calls]
    assert data.total.calls == len(everything)
    assert data.total.p95 == nearest_rank(everything, 95)
    html = response.content.decode()
    assert "15.0 %" in html and "95.0 ms" in html


def test_ordering_of_the_tables(admin_client, rows):
    data = admin_client.get(URL).context["activity"]
    assert [stats.name for stats in data.tools] == ["alpha", "beta", "gamma"]  # most calls first
    assert [stats.name for stats in data.slowest] == ["beta", "alpha", "gamma"]  # highest p95 first
    assert [(stats.name, stats.refusals) for stats in data.most_refused] == [("gamma", 9)]
    callers = {}
    for calls in rows.values():
        for *_, username in calls:
            callers[username] = callers.get(username, 0) + 1
    assert [(username, calls) for username, calls, _ in data.callers] == sorted(
        callers.items(), key=lambda item: (-item[1], item[0])
    )


def test_charts_are_svg_with_a_tooltip_per_bar(admin_client, rows):
    html = admin_client.get(URL).content.decode()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="mcp-chart"') == 2
    assert "<script" not in html.split('id="content-main"')[1]  # the page needs no JavaScript
    counted = {}
    for name, calls in re.findall(r"<title>(\w+): (\d+) calls? \(hour from", html):
        counted[name] = counted.get(name, 0) + int(calls)
    assert counted == {name: len(calls) for name, calls in rows.items()}  # every call in exactly one bar


def test_window_of_seven_days_has_daily_bars_and_the_old_row(admin_client, rows):
    data = admin_client.get(URL, {"window": "7d"}).context["activity"]
    assert data.window.bucket == "day"
    assert len(data.buckets) in (7, 8)  # partial days at both ends
    assert {stats.name: stats.calls for stats in data.tools}["alpha"] == len(rows["alpha"]) + 1


def test_other_kinds(admin_client, rows):
    data = admin_client.get(URL, {"kind": "resource"}).context["activity"]
    assert [(stats.name, stats.calls) for stats in data.tools] == [("x://1", 1)]


def test_bad_choices_say_what_to_choose(admin_client, rows):
    response = admin_client.get(URL, {"window": "1y", "kind": "teapot"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is no window &#x27;1y&#x27;: choose one of 24h, 7d, 30d." in html
    assert "There is no kind of call &#x27;teapot&#x27;: choose one of tool, resource, prompt, job." in html
    assert response.context["activity"].window.key == "24h"


def test_empty_window(admin_client, no_audit_rows):
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert "No calls in this window." in response.content.decode()


def test_refused_without_staff_or_permission(client, db, rows):
    User = get_user_model()
    assert client.get(URL).status_code == 302  # anonymous: the admin's sign-in page
    member = User.objects.create_user("member", password="x")
    client.force_login(member)
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 403
    assert "MCP activity" not in client.get("/admin/").content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_auditentry", content_type__app_label="mcp_bridge"))
    staff = User.objects.get(pk=staff.pk)  # a fresh permission cache
    client.force_login(staff)
    assert client.get(URL).status_code == 200
    assert f'href="{URL}"' in client.get("/admin/").content.decode()  # linked from the admin index


def test_queries_are_bounded(admin_client, rows, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):  # session, user, permissions and four grouped reads
        assert admin_client.get(URL).status_code == 200


def test_nice_ceiling():
    assert [activity.nice_ceiling(value) for value in (0, 1, 3, 7, 11, 95, 250.5)] == [1, 1, 5, 10, 20, 100, 500]


# -- a real browser, JavaScript off ---------------------------------------------------------------------
PASSWORD = "activity-in-a-browser"


def create_operator():
    operator = get_user_model().objects.create_superuser("operator", "op@example.com")
    operator.password = server_password(PASSWORD)
    operator.save(update_fields=["password"])


@pytest.mark.anyio
@pytest.mark.subprocess
async def test_page_in_a_browser_without_javascript(transactional_db, django_db_serialized_rollback, live_server_url):
    await sync_to_async(audit.flush)()
    await sync_to_async(AuditEntry.objects.all().delete)()
    await sync_to_async(write_rows)()
    await sync_to_async(create_operator)()
    screenshot = ARTIFACTS_DIR / "mcp-activity.png"
    screenshot.unlink(missing_ok=True)
    async with chromium_page() as first_page:
        context = await first_page.context.browser.new_context(
            java_script_enabled=False, viewport={"width": 1280, "height": 900}
        )
        page = await context.new_page()
        await page.goto(f"{live_server_url}/admin/login/?next=/admin/")
        await page.locator('input[name="username"]').fill("operator")
        await page.locator('input[name="password"]').fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.get_by_role("link", name="MCP activity").first.click()  # the admin index links the page
        await page.wait_for_url(f"{live_server_url}{URL}")
        charts = page.locator("svg.mcp-chart")
        assert await charts.count() == 2
        for index in range(2):
            chart = charts.nth(index)
            assert await chart.is_visible()
            box = await chart.bounding_box()
            assert box["width"] > 400 and box["height"] > 50
        assert await page.locator("#calls-chart rect.bar").count() >= 3
        assert await page.locator("#latency-chart rect.bar").count() == 3
        assert await page.locator("#total-calls").inner_text() == str(sum(map(len, planned_calls().values())))
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=screenshot, full_page=True)
        await context.close()
    assert screenshot.stat().st_size > 10_000
