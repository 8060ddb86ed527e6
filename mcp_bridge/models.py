"""API keys for remote callers, the tool registry that per-tool grants hang on, the audit trail of
what callers did, and the per-tool rate limits admins change without a deploy."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

API_KEY_PREFIX = "mcpb"


def hash_api_key(raw_key):
    """Return the stored digest of *raw_key*.

    Keys are 256-bit random secrets, so one SHA-256 pass is enough: there is nothing to brute-force
    that a slow password hash would protect.
    """
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, now=None):
        """Keys that are neither revoked nor expired, of active users."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A bearer credential that lets an MCP client act as one Django user.

    Only a digest is stored: the key itself is shown once, when it is issued.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mcp_api_keys",
        verbose_name=_("user"),
        help_text=_("The MCP client acts as this user, with exactly this user's permissions."),
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("What the key is for, e.g. 'Claude Desktop on Ana's laptop'.")
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key digest"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, help_text=_("Leave empty for no expiry."))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({API_KEY_PREFIX}_{self.prefix}_…)"

    @classmethod
    def generate(cls):
        """Return a new (prefix, raw_key) pair; the prefix is the key's public, indexed id."""
        prefix = secrets.token_hex(6)
        raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        return prefix, raw_key

    @classmethod
    def issue(cls, user, name, expires_at=None):
        """Create a key for *user*; return (api_key, raw_key). The raw key cannot be recovered later."""
        prefix, raw_key = cls.generate()
        api_key = cls.objects.create(
            user=user, name=name, prefix=prefix, key_hash=hash_api_key(raw_key), expires_at=expires_at
        )
        return api_key, raw_key

    @staticmethod
    def parse_prefix(raw_key):
        """Return the prefix of a well-formed key, or None."""
        parts = raw_key.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
            return None
        return parts[1]

    def is_usable(self, now=None):
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now) and self.user.is_active

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class Tool(models.Model):
    """One registered MCP tool; its `call_<name>` permission is the per-tool grant.

    Rows and permissions are kept in step with the registry after every migrate, so admins grant
    tools to users and groups with Django's own permission widgets.
    """

    name = models.CharField(_("name"), max_length=128, unique=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("MCP tool")
        verbose_name_plural = _("MCP tools")
        ordering = ["name"]
        default_permissions = ()

    def __str__(self):
        return self.name

    @staticmethod
    def permission_codename(tool_name):
        return f"call_{tool_name}"

    @classmethod
    def permission_name(cls, tool_name):
        """The full 'app_label.codename' string checked with user.has_perm()."""
        return f"{cls._meta.app_label}.{cls.permission_codename(tool_name)}"


class AccessGeneration(models.Model):
    """The access generation in the database: one row, a new value on every change to who may do what.

    Processes whose MCP cache is their own (LocMemCache, DummyCache) read it here on every call, so
    a grant or a revocation saved in any other process reaches them on the next call.
    """

    value = models.CharField(_("value"), max_length=32)

    class Meta:
        verbose_name = _("access generation")
        default_permissions = ()

    def __str__(self):
        return self.value


class AuditOutcome(models.TextChoices):
    OK = "ok", _("OK")
    ERROR = "error", _("Error result")  # the tool answered with isError
    REFUSED = "refused", _("Refused")  # unknown or not permitted, bad credential, missing scope
    RATE_LIMITED = "rate_limited", _("Rate-limited")
    FAILED = "failed", _("Internal failure")  # an unexpected exception, or a backing service down


class AuditEntry(models.Model):
    """One thing an MCP caller did: a tool call, resource read, prompt get or report job.

    Written after the response, in batches (mcp_bridge.audit); read-only in the admin.
    """

    class Kind(models.TextChoices):
        TOOL = "tool", _("Tool call")
        RESOURCE = "resource", _("Resource read")
        PROMPT = "prompt", _("Prompt")
        JOB = "job", _("Report job")

    Outcome = AuditOutcome

    created = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    request_id = models.CharField(_("request id"), max_length=64, db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=300, help_text=_("The tool, resource URI or prompt."))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
        db_constraint=False,  # kept when the user is deleted, and written without locking the user row
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    auth_kind = models.CharField(
        _("authenticated by"), max_length=32, blank=True, help_text=_("api_key, oauth, stdio, ...")
    )
    credential = models.CharField(
        _("credential"), max_length=200, blank=True, help_text=_("The API key prefix or the OAuth application.")
    )
    client_name = models.CharField(_("client"), max_length=200, blank=True)
    client_version = models.CharField(_("client version"), max_length=100, blank=True)
    protocol_version = models.CharField(_("protocol version"), max_length=32, blank=True)
    session_id = models.CharField(_("session"), max_length=128, blank=True)
    arguments = models.JSONField(
        _("arguments"), default=dict, blank=True, help_text=_("Secrets and redacted fields masked.")
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=AuditOutcome.choices, db_index=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.FloatField(_("duration (ms)"), null=True, blank=True)
    rows = models.IntegerField(_("rows"), null=True, blank=True, help_text=_("Rows returned or changed."))
    log_entries = models.ManyToManyField(
        "admin.LogEntry", blank=True, related_name="+", verbose_name=_("admin log entries")
    )

    class Meta:
        verbose_name = _("MCP audit entry")
        verbose_name_plural = _("MCP audit trail")
        ordering = ["-created", "-id"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["name", "created"], name="mcp_audit_name_created"),
            models.Index(fields=["user", "created"], name="mcp_audit_user_created"),
            models.Index(fields=["client_name", "created"], name="mcp_audit_client_created"),
        ]

    def __str__(self):
        return f"{self.name} by {self.username or '?'} ({self.get_outcome_display()})"


class ToolRateLimit(models.Model):
    """A rate limit for one tool that admins set in the Django admin, over MCP_BRIDGE['THROTTLE_RATES'].

    Saving or deleting one applies on the next call in every process.
    """

    tool = models.OneToOneField(Tool, on_delete=models.CASCADE, related_name="rate_limit", verbose_name=_("tool"))
    rate = models.CharField(
        _("rate"),
        max_length=32,
        blank=True,
        help_text=_("Calls per caller, e.g. '10/minute' or '100/day'. Empty: no limit for this tool."),
    )
    session_rate = models.CharField(
        _("rate per session"),
        max_length=32,
        blank=True,
        help_text=_("Calls per handshake-era (2025) session, e.g. '30/minute'. Empty: no per-session limit."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("tool rate limit")
        verbose_name_plural = _("tool rate limits")
        ordering = ["tool__name"]

    def __str__(self):
        return f"{self.tool.name}: {self.rate or 'unlimited'}"


def new_job_id():
    """A job's id: also the bearer handle of its MCP task, so unguessable (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    INPUT_REQUIRED = "input_required", _("Waiting for input")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class AbstractJob(models.Model):
    """One run of a report tool on a Celery worker: who asked, with what, how far it got, and its outcome.

    Concrete in the project (the demo's `tasks.Job`), named by MCP_BRIDGE['JOB_MODEL'], as
    AUTH_USER_MODEL names the user model. Every change of status is a conditional update (see
    mcp_bridge.jobs): a finished, failed or cancelled job never changes again, whatever a late worker does.
    """

    Status = JobStatus
    #: Declared here, so mcp_bridge reaches any project's job model by the same public name.
    objects = models.Manager()
    ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.INPUT_REQUIRED)
    FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)

    id = models.CharField(_("id"), primary_key=True, max_length=64, default=new_job_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("owner")
    )
    credential = models.CharField(
        _("credential"), max_length=200, blank=True, help_text=_("The credential the report was called with.")
    )
    tool = models.CharField(_("tool"), max_length=128, db_index=True)
    arguments = models.JSONField(_("arguments"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress_done = models.FloatField(_("progress"), null=True, blank=True)
    progress_total = models.FloatField(_("progress total"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    #: The report's return value (JSON) once completed.
    result = models.JSONField(_("result"), null=True, blank=True)
    #: Files the report attached: {name: {"mime_type": ..., "text": ...}}.
    files = models.JSONField(_("files"), default=dict, blank=True)
    #: What a status lists of the files without loading them: [{"name", "mime_type", "size"}].
    file_index = models.JSONField(_("file index"), default=list, blank=True)
    #: Why it failed: {"message": ...} for an error the agent can act on; with a JSON-RPC "code" for a
    #: protocol error (an MCP task's `failed` status).
    error = models.JSONField(_("error"), null=True, blank=True)
    #: Questions for the client still unanswered, and the answers given ({key: request}, {key: answer}).
    input_requests = models.JSONField(_("input requests"), default=dict, blank=True)
    input_responses = models.JSONField(_("input responses"), default=dict, blank=True)
    #: Created for a client of the MCP tasks extension (polled with tasks/get) rather than by status URL.
    is_task = models.BooleanField(_("MCP task"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    #: Last sign of life from the worker running it (start, progress); a job silent for longer than its
    #: time limit has lost its worker and is queued again by the sweep.
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)
    celery_id = models.CharField(_("Celery task id"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    class Meta:
        abstract = True
        verbose_name = _("MCP job")
        verbose_name_plural = _("MCP jobs")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.tool} ({self.get_status_display()})"

    @property
    def is_finished(self):
        return self.status in self.FINISHED
