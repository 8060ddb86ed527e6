"""What a running tool may do on its MCP connection: progress, log messages, elicitation, sampling.

Tools are synchronous Django code running in a worker thread; these methods hop back to the event
loop for the one message and return. Elicitation and sampling need a back-channel (stdio, or a
stateful 2025-era HTTP session); elsewhere they raise ToolError with the reason.
"""

import warnings

from asgiref.sync import async_to_sync
from mcp import types
from mcp.shared.exceptions import MCPError

from .exceptions import ToolError

LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class CallContext:
    def __init__(self, ctx, *, min_log_level="debug"):
        self._ctx = ctx
        self._min_log_level = min_log_level

    @property
    def protocol_version(self):
        return self._ctx.protocol_version

    def progress(self, progress, total=None, message=None):
        """Report progress; a no-op when the client did not ask for it."""
        async_to_sync(self._ctx.session.report_progress)(progress, total, message)

    def log(self, level, message, logger=None):
        """Send a log message to the client (deprecated in 2026-07-28; delivered only when requested)."""
        if LOG_LEVELS.index(level) < LOG_LEVELS.index(self._min_log_level):
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            async_to_sync(self._ctx.session.send_log_message)(level, message, logger, related_request_id=self._ctx.request_id)

    def elicit(self, message, requested_schema):
        """Ask the user for input; return the client's ElicitResult (action and content)."""
        return self._request(self._ctx.session.elicit_form, message, requested_schema, related_request_id=self._ctx.request_id)

    def sample(self, prompt, max_tokens=100):
        """Ask the client's model to complete *prompt*; return its CreateMessageResult."""
        messages = [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._request(self._ctx.session.create_message, messages, max_tokens=max_tokens,
                                 related_request_id=self._ctx.request_id)

    def _request(self, method, *args, **kwargs):
        try:
            return async_to_sync(method)(*args, **kwargs)
        except MCPError as exc:
            raise ToolError(f"The client could not answer: {exc}. This needs a client connection with a back-channel "
                            "(stdio, or a 2025-era HTTP session).") from None
        except Exception as exc:  # NoBackChannelError and transport errors
            if type(exc).__name__ == "NoBackChannelError":
                raise ToolError("This tool needs to ask the client something, which this connection cannot carry "
                                "(stateless HTTP). Use stdio or a stateful session.") from None
            raise
