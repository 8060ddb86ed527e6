"""GET /mcp/jobs/<id>: a report job's status, result and files, for clients that can fetch a URL.

Authenticated with the same bearer credential as the MCP endpoint, and visible to the job's owner
and to staff only: anyone else, and any job that does not exist or expired, gets the same 404.
Mounted by the project with `path("mcp/", include("mcp_bridge.urls"))`.
"""

import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import jobs, scopes
from .authentication import authenticate, challenge
from .exceptions import AuthenticationFailed
from .models import JobStatus


def refusal(request, failure):
    """The response to an AuthenticationFailed: its status, with the endpoint's Bearer challenge."""
    body = {"error": failure.error or "unauthorized", "error_description": failure.message}
    response = JsonResponse(body, status=failure.status)
    header = challenge(request, failure)
    if header:
        response["WWW-Authenticate"] = header
    return response


def not_found(job_id):
    return JsonResponse(
        {"error": "not_found", "error_description": f"No job {job_id!r} exists for this credential, or it expired."},
        status=404,
    )


def authenticated_user(request):
    """The user the request's bearer credential acts for, or an HttpResponse refusing it."""
    try:
        principal = authenticate(request)
        if not principal.allows_scope(scopes.REPORTS):
            return None, insufficient_scope(request, principal)
        return principal.load_user(), None
    except AuthenticationFailed as failure:
        return None, refusal(request, failure)


def insufficient_scope(request, principal):
    needed = scopes.step_up_scopes(principal.scopes, scopes.REPORTS)
    description = f"Report jobs need the OAuth scope {scopes.REPORTS}: authorize again with scope '{needed}'."
    response = JsonResponse(
        {"error": "insufficient_scope", "error_description": description, "scope": needed}, status=403
    )
    response["WWW-Authenticate"] = principal.authenticator.insufficient_scope_header(request, needed, description)
    return response


def job_endpoint(view):
    """Authenticate, then call `view(request, user, job_id, ...)`; never cached, GET only."""

    @never_cache
    @require_GET
    def wrapper(request, job_id, *args, **kwargs):
        user, refusal = authenticated_user(request)
        if refusal is not None:
            return refusal
        return view(request, user, job_id, *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@job_endpoint
def job_status(request, user, job_id):
    """The job's status: what get_job_status and jobs://{id} answer."""
    status = jobs.load_status(user, job_id, request)
    if status is None:
        return not_found(job_id)
    response = JsonResponse(status)
    if status["status"] in ("queued", "running"):
        response["Retry-After"] = str(status["poll_interval_seconds"])
    return response


def finished_job(user, job_id):
    """The completed job *job_id* if *user* may see it, else None."""
    job = jobs.find_job(user, job_id)
    return job if job is not None and job.status == JobStatus.COMPLETED else None


@job_endpoint
def job_result(request, user, job_id):
    """The whole result of a completed job, as JSON."""
    job = finished_job(user, job_id)
    if job is None:
        return not_found(job_id)
    return HttpResponse(json.dumps(jobs.stored(job, "result")), content_type="application/json")


@job_endpoint
def job_file(request, user, job_id, name):
    """A file the job attached (a CSV export, say), as a download."""
    job = finished_job(user, job_id)
    files = jobs.stored(job, "files") if job is not None else None
    if not files or name not in files:
        return not_found(job_id)
    file = files[name]
    response = HttpResponse(file["text"], content_type=f"{file['mime_type']}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
