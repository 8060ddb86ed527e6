"""The HttpRequest that admin hooks see when a tool runs.

ModelAdmin hooks (`get_queryset`, `has_*_permission`, `save_model`, `message_user`, ...) take a
request; MCP calls have none, so each call gets a real HttpRequest carrying the caller.
"""

from django.contrib.messages.storage.base import BaseStorage
from django.http import HttpRequest


class CollectedMessages(BaseStorage):
    """Message storage that keeps `message_user()` output for the tool result instead of a cookie."""

    def _get(self, *args, **kwargs):
        return [], True

    def _store(self, messages, response, *args, **kwargs):
        return []

    def texts(self):
        return [str(message) for message in self._queued_messages]


class McpRequest(HttpRequest):
    """An HttpRequest for one MCP call by *user*; `mcp_tool` names the tool being run."""

    def __init__(self, user, *, principal=None, tool_name=None, method="POST", meta=None):
        super().__init__()
        self.method = method
        self.path = self.path_info = "/mcp"
        self.user = user
        self.auth = principal
        self.mcp_principal = principal
        self.mcp_tool = tool_name
        self.mcp_call = None  # a context.CallContext while a tool runs over a live connection
        self.mcp_rate_counts = ((), ())  # (throttling limits, their counts including this call)
        self.META.update({"SERVER_NAME": "mcp", "SERVER_PORT": "443", "REMOTE_ADDR": "", **(meta or {})})
        self._messages = CollectedMessages(self)

    def _get_scheme(self):
        return "https"

    def messages_text(self):
        return self._messages.texts()
