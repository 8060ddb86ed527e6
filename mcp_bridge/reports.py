"""Reports: tools whose work runs on a Celery worker, answered at once with a job to poll.

A report is declared like a custom tool (`@mcp_bridge.report` on a ModelAdmin method, or
`site.report` for a function) and runs as `func(request, data, job)` in the worker, as the calling
user: `request.user` is the job's owner, so the admin's `get_queryset(request)` scopes its rows
exactly as the search tools do. Calling it validates the arguments, stores a job, queues it and
returns (see jobs.py). Clients of the MCP tasks extension get an MCP task (task_extension.py);
others a job id, a status URL and the two tools declared here, `get_job_status` and `cancel_job`,
plus the `jobs://` resources.
"""

import time

from django.core.exceptions import ImproperlyConfigured

from . import jobs
from .authentication import load_active_user
from .context import InputRequired, MissingClientCapability
from .exceptions import AnnotationError, AuthenticationFailed, ToolError
from .models import JobStatus
from .requests import McpRequest
from .resources import CustomResourceTemplate
from .tools import McpTool, SerializerTool, json_text

#: The MCP tasks extension's identifier (SEP-2663).
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
#: How a report answers clients: "optional" gives clients without the tasks extension a job to poll;
#: "required" refuses them (-32021), for work that only makes sense as an MCP task.
TASK_SUPPORT = ("optional", "required")
#: How often a call that relays a job's progress reads the job, in seconds.
PROGRESS_POLL_SECONDS = 0.5


class ReportTool(SerializerTool):
    """A report: validated at once, run on a Celery worker (see the module docstring and decorators.report)."""

    kind = "report"
    read_only = True
    sends_notifications = False

    def __init__(
        self,
        func,
        *,
        soft_time_limit=None,
        time_limit=None,
        result_ttl=None,
        queue=None,
        task_support="optional",
        prepare=None,
        **options,
    ):
        options.setdefault("read_only", True)
        super().__init__(func, **options)
        from .conf import mcp_settings

        owner = type(options["model_admin"]) if options.get("model_admin") is not None else func
        self.soft_time_limit = soft_time_limit if soft_time_limit is not None else mcp_settings.JOB_SOFT_TIME_LIMIT
        self.time_limit = time_limit if time_limit is not None else mcp_settings.JOB_TIME_LIMIT
        self.result_ttl = result_ttl if result_ttl is not None else mcp_settings.JOB_RESULT_TTL
        self.queue = queue or mcp_settings.JOB_QUEUE
        self.task_support = task_support
        self.prepare = prepare
        self.default_throttle_rate = mcp_settings.REPORT_THROTTLE_RATE
        self.sends_notifications = False  # it answers with a job at once
        self.idempotent = False  # every call starts a job
        _check_report_options(self, owner)

    def run(self, request, arguments):
        """Validate, store and queue a job; return its status (an MCP task for clients of the extension)."""
        call = request.mcp_call
        data = self.validated_data(request, arguments)
        as_task = call is not None and call.accepts_extension(TASKS_EXTENSION)
        if self.task_support == "required" and not as_task:
            raise MissingClientCapability({"extensions": {TASKS_EXTENSION: {}}})
        if self.prepare is not None:
            self.prepare(request, data, call)  # may ask the client first (an InputRequiredResult on 2026-07-28)
        job = jobs.create_job(
            request,
            self,
            arguments,
            is_task=as_task,
            input_responses=call.input_responses if call is not None else None,
        )
        request.mcp_job = job
        if call is not None and call.wants_progress and not call.modern and not as_task:
            waited = self.relay_progress(request, job, call)
            if waited is not None:
                return waited
        status = jobs.status_of(job, request)
        status["message"] = (
            f"{self.name} started as job {job.pk}: it runs in the background, typically for seconds to minutes."
        )
        return status

    def relay_progress(self, request, job, call):
        """Keep a 2025-era call open while the job runs, relaying its progress; its final status if it ended.

        Up to MCP_BRIDGE['JOB_PROGRESS_WAIT'] seconds (None returned after that: the caller polls).
        The connection stays open meanwhile, so the notifications have somewhere to go.
        """
        from .conf import mcp_settings

        deadline = time.monotonic() + mcp_settings.JOB_PROGRESS_WAIT
        last = None
        while time.monotonic() < deadline:
            time.sleep(PROGRESS_POLL_SECONDS)
            current = jobs.find_job(request.user, job.pk)
            if current is None:
                return None
            seen = (current.progress_done, current.progress_total, current.message)
            if seen != last and current.progress_done is not None:
                call.progress(current.progress_done, current.progress_total, current.message)
                last = seen
            if current.is_finished:
                return jobs.load_status(request.user, job.pk, request)
        return None

    def validated_data(self, request, arguments):
        if self.input_serializer is None:
            return arguments
        serializer = self.input_serializer(data=arguments, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def call(self, request, arguments):
        result = super().call(request, arguments)
        job = getattr(request, "mcp_job", None)
        result.task = job if job is not None and job.is_task and not result.is_error else None
        return result

    def narrowing_hint(self):
        return f"Ask {self.name} for less (a narrower range or fewer rows), or try again later."


def _check_report_options(report, owner):
    """Raise AnnotationError (mcp_bridge.E121) for report options that cannot work."""
    problems = []
    for option in ("soft_time_limit", "time_limit", "result_ttl"):
        value = getattr(report, option)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            problems.append(f"{option} must be a positive number of seconds (got {value!r})")
    if not problems and report.soft_time_limit >= report.time_limit:
        problems.append(
            f"soft_time_limit ({report.soft_time_limit}) must be below time_limit ({report.time_limit}), so the "
            "report can stop cleanly before its process is killed"
        )
    if not isinstance(report.queue, str) or not report.queue:
        problems.append(f"queue must be a Celery queue name (got {report.queue!r})")
    if report.task_support not in TASK_SUPPORT:
        problems.append(f"task_support must be one of {', '.join(TASK_SUPPORT)} (got {report.task_support!r})")
    if report.prepare is not None and not callable(report.prepare):
        problems.append("prepare must be a function (request, data, context)")
    if problems:
        raise AnnotationError(
            f"Report {report.name!r}: " + "; ".join(problems) + ".",
            id="mcp_bridge.E121",
            obj=owner,
            hint="Fix the options of @mcp_bridge.report / site.report (see docs/reports.md).",
        )


# -- in the worker ---------------------------------------------------------------------------------
def run_report(job):
    """Run the claimed *job*'s report as its owner and record the outcome (see jobs.execute_job)."""
    from celery.exceptions import SoftTimeLimitExceeded  # reports need Celery; the rest of mcp_bridge does not

    report = jobs.report_for(job)
    if report is None:
        jobs.finish(job, failure=f"The report {job.tool} no longer exists on this server.")
        return
    try:
        user = load_active_user(job.owner_id)
    except AuthenticationFailed:
        jobs.finish(job, failure="The user who started this report is no longer active; it did not run.")
        return
    request = McpRequest(user, tool_name=report.name)
    if not report.has_permission(request):
        jobs.finish(job, failure=f"Permission to run {report.name} was withdrawn after the job was queued.")
        return
    context = jobs.JobContext(job)
    try:
        data = report.validated_data(request, job.arguments)
        output = report.func(request, data, context)
    except jobs.JobCancelled:
        return
    except InputRequired as asked:
        jobs.pause_for_input(job, asked.requests)
        return
    except SoftTimeLimitExceeded:
        jobs.finish(
            job,
            failure=f"{report.name} ran longer than its {report.soft_time_limit:g} s limit and was stopped. "
            f"{report.narrowing_hint()}",
        )
        return
    except Exception as exc:
        failure, error = jobs.outcome_of(exc, report.name)
        jobs.finish(job, failure=failure, error=error)
        return
    jobs.finish(job, result=output if isinstance(output, str) else jobs.to_json(output), files=context.files)


# -- results as the tools/call would have returned them ------------------------------------------------
def tool_result_of(job, result):
    """The CallToolResult (wire form) of a finished job: what the report's tools/call would have returned.

    A failure the agent can act on is an `isError` result; a large result is a link, not inline text;
    attached files are resource links.
    """
    from .conf import mcp_settings

    if job.status == JobStatus.FAILED:
        return {"content": [{"type": "text", "text": (job.error or {}).get("message", job.message)}], "isError": True}
    answer = {"isError": False}
    text = result if isinstance(result, str) else json_text(result)
    if len(text) <= mcp_settings.JOB_INLINE_RESULT_CHARS:
        answer["content"] = [{"type": "text", "text": text}]
        if isinstance(result, dict):
            answer["structuredContent"] = result
    else:
        answer["content"] = [
            {
                "type": "text",
                "text": f"The result of {job.tool} is {len(text)} characters long: read it from jobs://{job.pk}/result.",
            },
            {
                "type": "resource_link",
                "uri": f"jobs://{job.pk}/result",
                "name": "result",
                "mimeType": "application/json",
            },
        ]
    for file in job.file_index:
        answer["content"].append(
            {
                "type": "resource_link",
                "uri": f"jobs://{job.pk}/files/{file['name']}",
                "name": file["name"],
                "mimeType": file["mime_type"],
            }
        )
    return answer


# -- polling and cancelling for clients without the tasks extension ---------------------------------
JOB_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "description": "The job_id a report returned.",
}


class JobTool(McpTool):
    """Base of get_job_status and cancel_job: visible to callers who may run at least one report."""

    kind = "job"
    destructive = False
    input_schema = {
        "type": "object",
        "properties": {"job_id": JOB_ID_SCHEMA},
        "required": ["job_id"],
        "additionalProperties": False,
    }
    required_permissions = ("at least one report",)

    def __init__(self, reports):
        self.reports = tuple(reports)

    def has_model_permission(self, request):
        return any(report.has_permission(request) for report in self.reports)

    def not_found(self, job_id):
        return ToolError(
            f"No job {job_id!r} exists for you: it never did, it belongs to someone else, or it expired. "
            "Start the report again to get a new job_id."
        )


class JobStatusTool(JobTool):
    name = "get_job_status"
    title = "Job status"
    description = (
        "Has a report job finished yet? Check a report job started earlier by its job_id: poll the job_id a "
        "report returned, no more often than "
        "poll_interval_seconds. Returns its status (queued, running, completed, failed, cancelled), progress "
        "and message; once completed, its result (or links to it when large) and its files (CSV)."
    )
    read_only = True
    idempotent = True
    sends_notifications = False

    def run(self, request, arguments):
        status = jobs.load_status(request.user, arguments["job_id"], request)
        if status is None:
            raise self.not_found(arguments["job_id"])
        return status


class CancelJobTool(JobTool):
    name = "cancel_job"
    title = "Cancel a job"
    description = (
        "Stop a report job that is queued or running, when its result is no longer needed; its partial work "
        "is discarded. A job that already finished is left as it is. Returns the job's status afterwards."
    )
    idempotent = True
    sends_notifications = False

    def run(self, request, arguments):
        job = jobs.find_job(request.user, arguments["job_id"])
        if job is None:
            raise self.not_found(arguments["job_id"])
        if not jobs.may_cancel(request.user, job):
            raise ToolError(f"Only the user who started job {job.pk!r} may cancel it.")
        jobs.cancel(job, reason=f"Cancelled by {request.user.get_username()}.")
        return jobs.load_status(request.user, job.pk, request)


class JobResourceTemplate(CustomResourceTemplate):
    """A jobs:// template: listed to callers who may run at least one of *reports*."""

    def __init__(self, func, *, reports, **options):
        super().__init__(func, **options)
        self.reports = reports

    def has_permission(self, request):
        return any(report.has_permission(request) for report in self.reports)


def job_resource_templates(reports):
    """The jobs:// resource templates: a job's status, its result and its files."""

    def status(request, job_id):
        answer = jobs.load_status(request.user, job_id, request)
        if answer is None:
            raise ToolError("not found")
        return answer

    def finished_part(request, job_id, field):
        job = jobs.find_job(request.user, job_id)
        if job is None or job.status != JobStatus.COMPLETED:
            raise ToolError("not found")
        return jobs.stored(job, field)

    def result(request, job_id):
        return finished_part(request, job_id, "result")

    def file(request, job_id, name):
        files = finished_part(request, job_id, "files") or {}
        if name not in files:
            raise ToolError("not found")
        return files[name]["text"]

    return [
        JobResourceTemplate(
            status,
            reports=reports,
            uri_template="jobs://{job_id}",
            name="job_status",
            title="Report job status",
            description="A report job's status, progress and, once completed, its result or links to it (JSON).",
            mime_type="application/json",
        ),
        JobResourceTemplate(
            result,
            reports=reports,
            uri_template="jobs://{job_id}/result",
            name="job_result",
            title="Report job result",
            description="The full result of a completed report job (JSON), however large.",
            mime_type="application/json",
        ),
        JobResourceTemplate(
            file,
            reports=reports,
            uri_template="jobs://{job_id}/files/{name}",
            name="job_file",
            title="Report job file",
            description="A file a completed report job attached, such as its full CSV export.",
            mime_type="text/csv",
        ),
    ]


def add_job_surface(registry):
    """Add get_job_status, cancel_job and the jobs:// templates to *registry* if it has any report."""
    reports = [tool for tool in registry.tools.values() if isinstance(tool, ReportTool)]
    if not reports:
        return
    try:
        jobs.job_model()
    except ImproperlyConfigured as exc:
        raise AnnotationError(
            f"{exc} Report {reports[0].name!r} stores its runs there.",
            id="mcp_bridge.E120",
            obj=reports[0].func,
            hint="Add a model subclassing mcp_bridge.models.AbstractJob (the demo's tasks.Job) and name it in "
            "MCP_BRIDGE['JOB_MODEL'], e.g. 'tasks.Job'.",
        ) from None
    registry.add_tool(JobStatusTool(reports), add_job_surface)
    registry.add_tool(CancelJobTool(reports), add_job_surface)
    registry.resource_templates.extend(job_resource_templates(reports))
