"""Exceptions a tool raises to tell the calling model what went wrong."""

from django.core.exceptions import ImproperlyConfigured


class ToolError(Exception):
    """An error the calling model should see and can act on; returned as an `isError` result.

    Write the message for the model: say what was wrong and what to try instead.
    """

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class AuthenticationFailed(Exception):
    """The credential presented was missing, malformed, unknown, expired or revoked.

    Answered over HTTP with *status* and a Bearer challenge carrying *error* (RFC 6750 section 3.1):
    `invalid_token` (401) by default, `invalid_request` (400) for a malformed request.
    """

    def __init__(self, message, *, error="invalid_token", status=401):
        super().__init__(message)
        self.message = message
        self.error = error
        self.status = status


class ServiceUnavailable(Exception):
    """A backing service (database, cache, broker) failed or is saturated; the caller should retry.

    Never shown to a client as an internal error: tool calls get an `isError` result, other requests
    a retryable JSON-RPC error, HTTP requests before the SDK a 503 with Retry-After. The cause is
    logged, not sent.
    """

    def __init__(self, message="The server is busy; retry in a few seconds.", *, retry_after=2):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class AnnotationError(ImproperlyConfigured):
    """A mistake in an MCP annotation or registration, found when the registry is built.

    It carries what a system check reports: the check *id* (`mcp_bridge.E1xx`, see checks.py), a
    *hint* that says how to fix it, and the object at fault (*obj*: a ModelAdmin class or the
    decorated function), so `manage.py check` and a server that refuses to start say the same.
    """

    def __init__(self, message, *, id, obj=None, hint=None):
        super().__init__(message)
        self.message = message
        self.id = id
        self.obj = obj
        self.hint = hint
