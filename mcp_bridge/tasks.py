"""The Celery tasks of mcp_bridge (found by Celery's autodiscover_tasks): running a job, the sweep, audit retention."""

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded

from . import audit, jobs


class JobTask(Task):
    """Runs one job. Late acknowledgement: a worker lost mid-run leaves the message to be delivered again."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True  # the job row holds the outcome

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Celery calls this in the worker's main process when the hard time limit killed the pool
        # process running the job; nothing in the report could record it.
        if isinstance(exc, TimeLimitExceeded) and args:
            jobs.fail_after_time_limit(args[0], task_id, exc.args[0] if exc.args else 0)


@shared_task(name=jobs.RUN_JOB_TASK, base=JobTask, bind=True)
def run_job(self, job_id):
    jobs.execute_job(job_id, self.request.id)


@shared_task(name=jobs.SWEEP_TASK, ignore_result=True)
def sweep_jobs():
    """Delete expired jobs and queue again those whose worker was lost (run by Celery beat)."""
    deleted, requeued = jobs.sweep()
    return {"deleted": deleted, "requeued": requeued}


@shared_task(name="mcp_bridge.audit_cleanup", ignore_result=True)
def audit_cleanup():
    """Delete audit rows older than MCP_BRIDGE['AUDIT_RETENTION_DAYS'] (run by Celery beat)."""
    return {"deleted": audit.cleanup()}
