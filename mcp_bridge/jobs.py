"""Jobs: a report's run on a Celery worker, from the call that queues it to the sweep that deletes it.

A job's life, and who moves it:

    queued --(worker claims it)--> running --> completed | failed
       |                              |  \\--(asks the client)--> input_required --(all answered)--> queued
       \\-------------(cancel: owner, staff, tasks/cancel, the admin)---------------------> cancelled

Every move is one conditional UPDATE that names the state it leaves, so two processes can never
both win: finished, failed and cancelled are absorbing, and a late or duplicate worker's writes
match no row. A worker owns a running job by the Celery task id it was queued under (`celery_id`):
a redelivery of the same message (a worker lost mid-run, under acks_late) claims it again, a
stray second message never does. A worker that vanished without a trace leaves a running job
whose heartbeat stops; the sweep queues it again, at most JOB_MAX_ATTEMPTS runs in all.
"""

import json
import logging
import re
import time
import uuid
from datetime import timedelta

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from mcp.shared.exceptions import MCPError
from rest_framework.exceptions import ValidationError as DRFValidationError

from . import audit
from .call_records import CallRecord, redacted_fields, send_record
from .conf import mcp_settings
from .context import InputRequired
from .exceptions import ServiceUnavailable, ToolError
from .models import AbstractJob, JobStatus
from .tools import format_validation_error, json_text

logger = logging.getLogger(__name__)

#: The Celery task that runs a job, and the one that sweeps (mcp_bridge/tasks.py).
RUN_JOB_TASK = "mcp_bridge.run_job"
SWEEP_TASK = "mcp_bridge.sweep_jobs"
#: A worker writes progress (and its heartbeat) at most this often, in seconds (a finished job shows all done).
PROGRESS_WRITE_INTERVAL = 0.5
#: What a file a report attaches may be called: it appears in URIs, URLs and a download's file name.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: Seconds a client is asked to wait before retrying when the broker is unreachable.
BROKER_RETRY_AFTER = 30
#: Fields a status answer reads: never the result or the files, which may be megabytes.
STATUS_FIELDS = (
    "id",
    "owner_id",
    "tool",
    "status",
    "progress_done",
    "progress_total",
    "message",
    "error",
    "input_requests",
    "is_task",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "expires_at",
    "celery_id",
    "file_index",
)


class JobCancelled(Exception):
    """The job was cancelled (or taken over) while running: its worker stops and writes nothing more."""


def job_model():
    """Return the model MCP_BRIDGE['JOB_MODEL'] names; ImproperlyConfigured if it names none."""
    label = mcp_settings.JOB_MODEL
    if not label:
        raise ImproperlyConfigured("Reports need MCP_BRIDGE['JOB_MODEL'] ('app_label.ModelName'); it is not set.")
    try:
        model = apps.get_model(label, require_ready=False)
    except (ValueError, LookupError) as exc:
        raise ImproperlyConfigured(f"MCP_BRIDGE['JOB_MODEL'] is {label!r}, which is not an installed model.") from exc
    if not issubclass(model, AbstractJob):
        raise ImproperlyConfigured(
            f"MCP_BRIDGE['JOB_MODEL'] is {label!r}, which is not a subclass of mcp_bridge.models.AbstractJob."
        )
    return model


def to_json(value):
    """*value* as plain JSON data (pydantic models, Decimals and dates included)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return json.loads(json_text(value))


# -- queueing --------------------------------------------------------------------------------------
def create_job(request, report, arguments, *, is_task=False, input_responses=None):
    """Store a job for *report* called with *arguments*, committed, then queue it; return the job.

    Raises ServiceUnavailable if the broker cannot take it: the job row is deleted again, so nothing
    is left behind that no worker will ever run.
    """
    Job = job_model()
    now = timezone.now()
    principal = getattr(request, "auth", None)
    job = Job.objects.create(
        owner=request.user,
        credential=getattr(principal, "session_identity", "")[:200],
        tool=report.name,
        arguments=to_json(arguments),
        input_responses=to_json(input_responses or {}),
        is_task=is_task,
        message="Queued: waiting for a worker.",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=report.result_ttl),
        celery_id=str(uuid.uuid4()),
    )
    try:
        enqueue(job, report)
    except Exception as exc:
        logger.warning("Could not queue job %s of %s: the broker refused it", job.pk, report.name, exc_info=True)
        Job.objects.filter(pk=job.pk).delete()
        raise ServiceUnavailable(
            f"The job queue is unreachable, so {report.name} was not started and nothing was queued. "
            f"Call it again in {BROKER_RETRY_AFTER} s.",
            retry_after=BROKER_RETRY_AFTER,
        ) from exc
    return job


def enqueue(job, report):
    """Publish the job's run to its report's queue, under the job's celery_id, with the report's time limits."""
    from celery import current_app  # Celery is needed by reports only

    current_app.send_task(
        RUN_JOB_TASK,
        args=[job.pk],
        task_id=job.celery_id,
        queue=report.queue,
        soft_time_limit=report.soft_time_limit,
        time_limit=report.time_limit,
    )


def report_for(job):
    """The registry's report tool *job* runs, or None if no such report exists any more."""
    from .reports import ReportTool
    from .sites import site

    tool = site.registry.tools.get(job.tool)
    return tool if isinstance(tool, ReportTool) else None


# -- running (in the worker) -------------------------------------------------------------------------
def execute_job(job_id, celery_id):
    """Run the job *job_id* in this worker process, if this delivery (*celery_id*) may claim it."""
    from .reports import run_report

    Job = job_model()
    now = timezone.now()
    claimed = Job.objects.filter(
        pk=job_id, celery_id=celery_id, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
    ).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        updated_at=now,
        message="Running.",
    )
    if not claimed:
        logger.info(
            "Job %s is not queued under %s any more (cancelled, finished or requeued): skipped", job_id, celery_id
        )
        return
    job = Job.objects.get(pk=job_id)
    if job.attempts > mcp_settings.JOB_MAX_ATTEMPTS:
        finish(job, failure=f"The report was started {job.attempts - 1} times and its worker was lost each time.")
        return
    run_report(job)


def transition(job, *, leaving, **changes):
    """Move *job* out of a status in *leaving* (by this worker's claim); return False if it had already moved."""
    now = timezone.now()
    changes.setdefault("updated_at", now)
    updated = type(job).objects.filter(pk=job.pk, status__in=leaving, celery_id=job.celery_id).update(**changes)
    return bool(updated)


def finish(job, *, result=None, files=None, failure=None, error=None):
    """End *job*: completed with *result* (and *files*), or failed with *failure* (a message) or *error*.

    *error* is a JSON-RPC error ({"code", "message"[, "data"]}) for a protocol failure; *failure* is a
    message the agent can act on. Returns False if the job had already ended (cancelled, say).
    """
    now = timezone.now()
    if failure is None and error is None:
        changes = {
            "status": JobStatus.COMPLETED,
            "result": result,
            "files": files or {},
            "file_index": [
                {"name": name, "mime_type": file["mime_type"], "size": len(file["text"])}
                for name, file in (files or {}).items()
            ],
            "message": "Completed.",
            # Progress is written at most every PROGRESS_WRITE_INTERVAL: a finished job shows all of it done.
            "progress_done": Coalesce(F("progress_total"), F("progress_done")),
        }
    else:
        error = error or {"message": failure}
        changes = {"status": JobStatus.FAILED, "error": error, "message": error["message"]}
    ended = transition(
        job,
        leaving=(JobStatus.RUNNING,),
        finished_at=now,
        heartbeat_at=now,
        input_requests={},
        **changes,
    )
    if not ended:
        logger.info("Job %s ended after it was cancelled or taken over: its outcome is dropped", job.pk)
    else:
        record_job(job, "ok" if failure is None and error is None else "failed", error=changes["message"])
        audit.flush()  # on the worker, off any caller's path: a pool process may end without running atexit
    return ended


def record_job(job, outcome, *, error="", now=None):
    """Send the call record of *job*, which ended with *outcome* (its duration: from its start, or its creation).

    Fields a status lookup did not load (the arguments) are not fetched: the record goes without them.
    """
    now = now or timezone.now()
    began = job.started_at or job.created_at
    deferred = job.get_deferred_fields()
    kind, _, _ = (job.credential or "").partition(":")
    send_record(
        CallRecord(
            kind="job",
            name=job.tool,
            outcome=outcome,
            duration_ms=round((now - began).total_seconds() * 1000, 3),
            request_id=str(job.pk),
            created=job.created_at,
            user_id=job.owner_id,
            auth_kind=kind[:32],
            credential=(job.credential or "")[:200],
            raw_arguments=None if "arguments" in deferred else job.arguments,
            redacted=() if "arguments" in deferred else redacted_fields(report_for(job)),
            error="" if outcome == "ok" else str(error or "")[:2000],
        )
    )


def fail_after_time_limit(job_id, celery_id, seconds):
    """The worker killed the job's process at its hard time limit: the job fails (if it was still running)."""
    Job = job_model()
    now = timezone.now()
    message = (
        f"The report ran longer than its {seconds:g} s limit and was stopped. Ask for less (a narrower range or "
        "fewer rows) and call it again."
    )
    failed = Job.objects.filter(pk=job_id, celery_id=celery_id, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED, error={"message": message}, message=message, finished_at=now, updated_at=now
    )
    job = Job.objects.filter(pk=job_id).first() if failed else None
    if job is not None:
        record_job(job, "failed", error=message, now=now)
        audit.flush()


class JobContext:
    """What a running report may do with its job: report progress, check for cancellation, attach files, ask.

    Passed to the report function as `job`. Writes go to the job's row, conditionally (see the module
    docstring): once the job was cancelled, the next progress() or check_cancelled() raises JobCancelled.
    """

    def __init__(self, job):
        self.job = job
        self.id = job.pk
        self.files = {}
        #: The client's answers, by the keys the report asked with (see ask()).
        self.input_responses = dict(job.input_responses or {})
        self._written = 0.0

    def progress(self, done, total=None, message=None, *, force=False):
        """Record progress (*done* of *total*) and an optional message; raise JobCancelled if cancelled.

        Written at most every PROGRESS_WRITE_INTERVAL seconds (a report may call it per row).
        """
        moment = time.monotonic()
        if not force and moment - self._written < PROGRESS_WRITE_INTERVAL:
            return
        self._written = moment
        now = timezone.now()
        changes = {"progress_done": done, "progress_total": total, "heartbeat_at": now}
        if message is not None:
            changes["message"] = str(message)[:2000]
        if not transition(self.job, leaving=(JobStatus.RUNNING,), **changes):
            raise JobCancelled(self.id)

    def check_cancelled(self):
        """Raise JobCancelled if the job was cancelled (checked at most every PROGRESS_WRITE_INTERVAL seconds)."""
        moment = time.monotonic()
        if moment - self._written < PROGRESS_WRITE_INTERVAL:
            return
        self._written = moment
        if not transition(self.job, leaving=(JobStatus.RUNNING,), heartbeat_at=timezone.now()):
            raise JobCancelled(self.id)

    def attach(self, name, text, mime_type="text/csv"):
        """Attach a text file (a CSV export, say) to the result: readable by URL and as a resource."""
        if not isinstance(name, str) or not FILE_NAME.match(name):
            raise ValueError(f"A job file's name is letters, digits, '.', '_' and '-' (at most 100), got {name!r}.")
        self.files[name] = {"mime_type": mime_type, "text": text}

    def ask(self, requests):
        """Return the client's answers to *requests* ({key: ElicitRequest | ...}).

        Unanswered ones pause the job as input_required: the client answers with tasks/update and the
        report runs again from the start, this time finding the answers. Only clients of the MCP tasks
        extension can answer; for others the job fails with a message saying so.
        """
        missing = {key: request for key, request in requests.items() if key not in self.input_responses}
        if missing:
            raise InputRequired(missing)
        return {key: self.input_responses[key] for key in requests}

    def elicit(self, message, requested_schema, *, key):
        """Ask the user for input (an elicitation under *key*); return the answer as a dict (action, content)."""
        from .context import elicit_request

        return self.ask({key: elicit_request(message, requested_schema)})[key]


def pause_for_input(job, requests):
    """The report asked the client something: the job waits as input_required (or fails, without the extension)."""
    if not job.is_task:
        return finish(
            job,
            failure=f"{job.tool} needs answers from the client, which only clients of the MCP tasks extension "
            "can give. Call it from such a client.",
        )
    return transition(
        job,
        leaving=(JobStatus.RUNNING,),
        status=JobStatus.INPUT_REQUIRED,
        input_requests={key: to_json(request) for key, request in requests.items()},
        message="Waiting for the client's answers.",
        heartbeat_at=timezone.now(),
    )


def outcome_of(exc, report_name):
    """Return (failure message, JSON-RPC error or None) for an exception a report raised."""
    if isinstance(exc, MCPError):
        error = {"code": exc.error.code, "message": exc.error.message}
        if exc.error.data is not None:
            error["data"] = exc.error.data
        return exc.error.message, error
    if isinstance(exc, ToolError):
        return exc.message, None
    if isinstance(exc, (DRFValidationError, DjangoValidationError)):
        return f"{report_name} rejected the input: {format_validation_error(exc)}", None
    if isinstance(exc, DjangoPermissionDenied):
        return str(exc) or f"You do not have permission to run {report_name}.", None
    reference = uuid.uuid4().hex[:12]
    logger.error("Report %s failed unexpectedly (reference %s)", report_name, reference, exc_info=exc)
    return (
        f"{report_name} failed unexpectedly. The error was logged with reference {reference}; try again later "
        "or report the reference to an administrator.",
        None,
    )


# -- answering and cancelling (in the server) ----------------------------------------------------------
def answer(job, responses):
    """Record the client's *responses* to the job's outstanding questions; resume it once all are answered.

    Answers under keys not outstanding are ignored (MCP tasks: already answered, never asked, or
    superseded). Returns True if the job was queued again. Runs in one transaction with the row locked.
    """
    from django.db import transaction

    Job = type(job)
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job.pk).first()
        if job is None or job.status != JobStatus.INPUT_REQUIRED:
            return False
        outstanding = dict(job.input_requests)
        answered = {key: to_json(value) for key, value in responses.items() if key in outstanding}
        if not answered:
            return False
        for key in answered:
            del outstanding[key]
        job.input_requests = outstanding
        job.input_responses = {**job.input_responses, **answered}
        job.updated_at = timezone.now()
        resume = not outstanding
        if resume:
            job.status = JobStatus.QUEUED
            job.celery_id = str(uuid.uuid4())
            job.message = "Answers received: queued to continue."
        job.save(update_fields=["input_requests", "input_responses", "updated_at", "status", "celery_id", "message"])
    if resume:
        report = report_for(job)
        try:
            if report is None:
                raise ToolError(f"The report {job.tool} no longer exists.")
            enqueue(job, report)
        except Exception as exc:
            message = (
                exc.message
                if isinstance(exc, ToolError)
                else "The job queue is unreachable, so the job could not continue."
            )
            logger.warning("Could not queue job %s to continue", job.pk, exc_info=True)
            now = timezone.now()
            Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
                status=JobStatus.FAILED, error={"message": message}, message=message, finished_at=now, updated_at=now
            )
    return resume


def cancel(job, reason="Cancelled."):
    """Cancel *job* if it is still active; stop its worker if one runs it. Returns True if it was cancelled."""
    now = timezone.now()
    cancelled = (
        type(job)
        .objects.filter(pk=job.pk, status__in=AbstractJob.ACTIVE)
        .update(status=JobStatus.CANCELLED, message=reason, finished_at=now, updated_at=now, input_requests={})
    )
    if cancelled:
        record_job(job, "error", error=f"Cancelled: {reason}", now=now)
    if cancelled and job.celery_id:
        try:
            from celery import current_app

            # The row says cancelled already: a running report stops at its next progress() or
            # check_cancelled(). The revoke only keeps a delivery still in the queue from starting. Not
            # terminate=True: Celery documents that its signal may reach a pool process that has meanwhile
            # started another task, which would kill someone else's job.
            current_app.control.revoke(job.celery_id)
        except Exception:
            logger.warning("Could not ask the workers to stop job %s; it stops at its next progress report", job.pk)
    return bool(cancelled)


def staff_may(user, action, job):
    """True if *user* is staff with the admin's *action* ('view', 'change') permission on jobs."""
    opts = type(job)._meta
    return user.is_staff and user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")


def may_see(user, job):
    """Its owner, and staff who may view jobs in the admin, see a job; nobody else learns that it exists."""
    return job.owner_id == user.pk or staff_may(user, "view", job)


def may_cancel(user, job):
    """Its owner, or staff who may change jobs in the admin."""
    return job.owner_id == user.pk or staff_may(user, "change", job)


def find_job(user, job_id, *, fields=STATUS_FIELDS):
    """The job *job_id* if *user* may see it, else None (a hidden job looks exactly like a missing one)."""
    if not isinstance(job_id, str) or not job_id or len(job_id) > 64:
        return None
    job = job_model().objects.filter(pk=job_id, expires_at__gt=timezone.now()).only(*fields).first()
    return job if job is not None and may_see(user, job) else None


# -- what callers see ------------------------------------------------------------------------------------
def job_path(job_id, kind=None, name=None):
    """The path of a job's status (*kind* None), result ("result") or file ("files", *name*), or None."""
    try:
        if kind is None:
            return reverse("mcp_bridge:job", args=[job_id])
        if kind == "result":
            return reverse("mcp_bridge:job-result", args=[job_id])
        return reverse("mcp_bridge:job-file", args=[job_id, name])
    except NoReverseMatch:  # the project did not include mcp_bridge.urls: no URLs, the job tools still work
        return None


def absolute_url(request, path):
    """*path* on this server's origin (MCP_BRIDGE['JOB_STATUS_ORIGIN'], else the HTTP request's), or None."""
    if path is None:
        return None
    origin = mcp_settings.JOB_STATUS_ORIGIN
    if origin:
        return origin.rstrip("/") + path
    if request is None or "HTTP_HOST" not in request.META:
        return None  # stdio and in-process callers have no origin
    try:
        return request.build_absolute_uri(path)
    except Exception:  # DisallowedHost: a URL nobody could fetch is no URL
        return None


def progress_of(job):
    if job.progress_done is None:
        return None
    progress = {"done": job.progress_done, "total": job.progress_total}
    if job.progress_total:
        progress["percent"] = round(100 * job.progress_done / job.progress_total, 1)
    return progress


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def next_step(job):
    """What the agent should do next, in a sentence."""
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        return (
            f"Wait about {mcp_settings.JOB_POLL_INTERVAL} s, then call get_job_status with job_id {job.pk!r} "
            "(or GET status_url). cancel_job stops it."
        )
    if job.status == JobStatus.INPUT_REQUIRED:
        return "The report waits for answers to its questions (inputRequests), given with tasks/update."
    if job.status == JobStatus.COMPLETED:
        return "Done: the result is below, or at result_uri / result_url when it is too large to show inline."
    if job.status == JobStatus.FAILED:
        return "It failed: read error.message, change what it says, and call the report again."
    return "It was cancelled; call the report again to start over."


def status_of(job, request=None, *, result=None):
    """The status answer of *job*: the same for get_job_status, jobs://{id} and GET /mcp/jobs/<id>.

    A completed job's *result* is put inline if its JSON is at most JOB_INLINE_RESULT_CHARS long;
    its files are listed as links (from its file index: their text is never loaded here).
    """
    answer = {
        "job_id": job.pk,
        "tool": job.tool,
        "status": job.status,
        "message": job.message,
        "progress": progress_of(job),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "expires_at": iso(job.expires_at),
        "poll_interval_seconds": mcp_settings.JOB_POLL_INTERVAL,
        "status_uri": f"jobs://{job.pk}",
        "status_url": absolute_url(request, job_path(job.pk)),
    }
    if job.status == JobStatus.FAILED:
        answer["error"] = {"message": (job.error or {}).get("message", job.message)}
    if job.status == JobStatus.COMPLETED:
        answer["result_uri"] = f"jobs://{job.pk}/result"
        answer["result_url"] = absolute_url(request, job_path(job.pk, "result"))
        if result is not None:
            text = json_text(result)
            if len(text) <= mcp_settings.JOB_INLINE_RESULT_CHARS:
                answer["result"] = result
            else:
                answer["result_size"] = len(text)
        answer["files"] = [
            {
                **file,
                "uri": f"jobs://{job.pk}/files/{file['name']}",
                "url": absolute_url(request, job_path(job.pk, "files", file["name"])),
            }
            for file in job.file_index
        ]
    answer["next"] = next_step(job)
    return answer


def load_status(user, job_id, request=None):
    """The status answer of the job *job_id* for *user*, or None if it does not exist for them."""
    job = find_job(user, job_id)
    if job is None:
        return None
    result = None
    if job.status == JobStatus.COMPLETED:
        # One more query for what only a completed job has; a poll of a running job never loads it.
        result = stored(job, "result")
    return status_of(job, request, result=result)


def stored(job, field):
    """The value of *job*'s *field* ("result" or "files"), read on its own: either may be megabytes."""
    return type(job).objects.filter(pk=job.pk).values_list(field, flat=True).first()


# -- housekeeping -----------------------------------------------------------------------------------------
def sweep(now=None):
    """Delete expired jobs; queue again (or fail) running jobs whose worker vanished. Returns (deleted, requeued)."""
    Job = job_model()
    now = now or timezone.now()
    deleted, _ = Job.objects.filter(expires_at__lte=now).delete()
    requeued = 0
    silent_since = now - timedelta(seconds=mcp_settings.JOB_LOST_AFTER)
    for job in Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=silent_since):
        report = report_for(job)
        limit = (report.time_limit if report is not None else mcp_settings.JOB_TIME_LIMIT) or 0
        if job.heartbeat_at > silent_since - timedelta(seconds=limit):
            continue  # silent, but still within its time limit: the report may just be between progress reports
        if report is None or job.attempts >= mcp_settings.JOB_MAX_ATTEMPTS:
            message = (
                f"The report was started {job.attempts} times and its worker was lost each time."
                if report is not None
                else f"The report {job.tool} no longer exists."
            )
            Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, celery_id=job.celery_id).update(
                status=JobStatus.FAILED, error={"message": message}, message=message, finished_at=now, updated_at=now
            )
            continue
        celery_id = str(uuid.uuid4())
        moved = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, celery_id=job.celery_id).update(
            status=JobStatus.QUEUED, celery_id=celery_id, message="Its worker was lost: queued again.", updated_at=now
        )
        if moved:
            job.celery_id = celery_id
            try:
                enqueue(job, report)
                requeued += 1
            except Exception:
                logger.warning("Could not queue job %s again; the next sweep tries again", job.pk, exc_info=True)
                Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED, celery_id=celery_id).update(
                    status=JobStatus.RUNNING, heartbeat_at=job.heartbeat_at
                )
    if deleted or requeued:
        logger.info("Job sweep: %d deleted, %d queued again", deleted, requeued)
    return deleted, requeued
