"""The HttpRequest that admin hooks see when a tool runs.

ModelAdmin hooks (`get_queryset`, `has_*_permission`, `save_model`, `message_user`, ...) take a
request; MCP calls have no Django request, so each call gets one built as Django's ASGI handler
builds it, from the HTTP request's ASGI scope: real scheme, host, port, headers and client address,
with SECURE_PROXY_SSL_HEADER and ALLOWED_HOSTS applied by Django as for any view.
"""

import io

from django.contrib.messages.storage.base import BaseStorage
from django.core.handlers.asgi import ASGIRequest

from .conf import mcp_settings


class CollectedMessages(BaseStorage):
    """Message storage that keeps `message_user()` output for the tool result instead of a cookie.

    `_get` and `_store` are the two methods Django documents for custom message storages.
    """

    def _get(self, *args, **kwargs):
        return [], True

    def _store(self, messages, response, *args, **kwargs):
        return []

    def texts(self):
        return [str(message) for message in self]


def local_scope():
    """The ASGI scope of a call without HTTP (stdio, in-process): no client, server or headers."""
    path = "/" + mcp_settings.PATH.strip("/")
    return {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": []}


class McpRequest(ASGIRequest):
    """An HttpRequest for one MCP call by *user*, authenticated as *principal* (`request.auth`).

    *scope* is the HTTP request's ASGI scope; without one (stdio, in-process) the request has no
    host or client, as Django's ASGIRequest reports them for a scope without `server`/`client`.
    `mcp_tool` names the tool being called, if any. The unit of work builds the request before it
    loads the user (throttles key on `auth` alone), so `user` is None until then.
    """

    def __init__(self, user, *, principal=None, tool_name=None, scope=None):
        # The SDK has read the body already; the admin hooks never read it.
        super().__init__(scope if scope is not None else local_scope(), io.BytesIO())
        self.user = user
        self.auth = principal
        self.mcp_tool = tool_name
        self.mcp_call = None  # a context.CallContext while a tool runs over a live connection
        self.throttle_counts = ()  # this call's counts in its throttles' windows (see unit_of_work.run_unit)
        # Django has no public way to give a request its message storage: this is the attribute
        # MessageMiddleware.process_request sets and django.contrib.messages.add_message() reads.
        self._messages = self.mcp_messages = CollectedMessages(self)

    def messages_text(self):
        return self.mcp_messages.texts()
