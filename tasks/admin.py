"""Report jobs in the Django admin: listed, filtered, searched and cancelled; never edited by hand."""

from django.contrib import admin, messages

from mcp_bridge import jobs

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("tool", "owner", "status", "progress_percent", "message", "created_at", "finished_at")
    list_filter = ("status", "tool", "is_task", "created_at")
    search_fields = ("id", "tool", "owner__username", "celery_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("cancel_jobs",)
    list_select_related = ("owner",)
    # The result and files may be megabytes: shown on the change page only.
    readonly_fields = [field.name for field in Job._meta.fields]

    @admin.display(description="progress")
    def progress_percent(self, job):
        progress = jobs.progress_of(job)
        return f"{progress['percent']:g} %" if progress and "percent" in progress else "-"

    def has_add_permission(self, request):
        return False  # jobs are started by calling a report

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel_jobs(self, request, queryset):
        cancelled = sum(
            jobs.cancel(job, reason=f"Cancelled in the admin by {request.user.get_username()}.")
            for job in queryset.filter(status__in=Job.ACTIVE)
        )
        self.message_user(request, f"{cancelled} job(s) cancelled.", messages.SUCCESS)
