"""The jobs reports run as: MCP_BRIDGE['JOB_MODEL'] points here."""

from mcp_bridge.models import AbstractJob


class Job(AbstractJob):
    """A report run on a Celery worker (see mcp_bridge.models.AbstractJob)."""

    class Meta(AbstractJob.Meta):
        pass
