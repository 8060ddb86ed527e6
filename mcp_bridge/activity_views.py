"""The "MCP activity" admin page: calls, errors, latency and callers of the audit trail, with SVG charts.

Mounted under the admin site (`activity_view(admin.site)`, see config/urls.py) and linked from its
index. Staff users with the view permission of the audit trail (`mcp_bridge.view_auditentry`) may
see it; other signed-in staff get 403, everyone else the admin's sign-in page.
"""

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from . import activity
from .models import AuditEntry

#: The permission the page needs besides is_staff: the audit trail it summarises.
PERMISSION = "mcp_bridge.view_auditentry"
TEMPLATE = "mcp_bridge/activity/activity.html"


def activity_view(admin_site):
    """Return the page's view for *admin_site*: its sign-in, its look (each_context), its index link."""

    def view(request):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied("The MCP activity page needs the permission to view the MCP audit trail.")
        problems = []
        window = request.GET.get("window", activity.DEFAULT_WINDOW)
        if window not in activity.WINDOWS:
            problems.append(
                f"There is no window {window!r}: choose one of {', '.join(activity.WINDOWS)}. "
                f"Showing {activity.WINDOWS[activity.DEFAULT_WINDOW].label.lower()}."
            )
            window = activity.DEFAULT_WINDOW
        kind = request.GET.get("kind", AuditEntry.Kind.TOOL)
        if kind not in AuditEntry.Kind.values:
            problems.append(
                f"There is no kind of call {kind!r}: choose one of {', '.join(AuditEntry.Kind.values)}. Showing tool calls."
            )
            kind = AuditEntry.Kind.TOOL
        data = activity.collect(window, kind)
        context = {
            **admin_site.each_context(request),
            "title": "MCP activity",
            "activity": data,
            "problems": problems,
            "windows": activity.WINDOWS.values(),
            "kinds": AuditEntry.Kind.choices,
            "calls_chart": activity.calls_chart(data),
            "latency_chart": activity.latency_chart(data),
            "sample_size": activity.LATENCY_SAMPLE,
        }
        return TemplateResponse(request, TEMPLATE, context, status=400 if problems else 200)

    return admin_site.admin_view(view)


#: The admin index with a link to the page, for users who may see it (extends admin/index.html).
INDEX_TEMPLATE = "mcp_bridge/activity/admin_index.html"


def link_from_index(admin_site):
    """Show the page's link on *admin_site*'s index, unless the project chose its own index template."""
    if admin_site.index_template is None:
        admin_site.index_template = INDEX_TEMPLATE
