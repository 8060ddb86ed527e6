"""What a running tool may do on its MCP connection: progress, log messages, elicitation, sampling.

Tools are synchronous Django code running in a worker thread; these methods hop back to the event
loop for the one message and return.

Asking the client something works in both protocol eras:
- 2025-era connections with a back-channel (stdio, stateful HTTP) get a server-to-client request;
- 2026-07-28 connections have no back-channel: the call ends with an InputRequiredResult, the
  client answers and retries, and the tool runs again from the start (its transaction was rolled
  back), this time finding the answer in `input_responses`. Tools must therefore ask before they
  write, which the transaction guarantees anyway.
"""

import warnings

from asgiref.sync import async_to_sync
from mcp import types
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from .exceptions import ToolError

# The SDK deprecates logging, sampling and roots as of 2026-07-28 and warns each time they are used.
# Here they are used on purpose, only for the 2025-era clients that still ask for them: the calls made
# in this module (the SDK names the caller's module) warn nobody; any other use of them still warns.
warnings.filterwarnings(
    "ignore",
    r"The (logging|sampling|roots) capability is deprecated",
    MCPDeprecationWarning,
    __name__,
)

LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class InputRequired(Exception):
    """Ends a 2026-07-28 call with an InputRequiredResult asking the client for *requests*."""

    def __init__(self, requests, state=None):
        super().__init__("input required")
        self.requests = requests
        self.state = state


class MissingClientCapability(Exception):
    """The client did not declare a capability the tool needs (JSON-RPC -32021 on 2026-07-28).

    *capability* is a client capability's name ('elicitation') or the requiredCapabilities object
    itself ({"extensions": {"io.modelcontextprotocol/tasks": {}}}).
    """

    def __init__(self, capability):
        self.required = capability if isinstance(capability, dict) else {capability: {}}
        names = ", ".join(
            repr(name) for key, value in self.required.items() for name in (value if key == "extensions" else [key])
        )
        super().__init__(f"This tool needs the client capability {names}, which the client did not declare.")
        self.capability = capability


def declares_extension(ctx, identifier):
    """True if the request in *ctx* declares the extension *identifier* in its client capabilities."""
    capabilities = ctx.session.client_capabilities
    return capabilities is not None and identifier in (capabilities.extensions or {})


def elicit_request(message, requested_schema):
    """An elicitation to put in CallContext.ask()."""
    return types.ElicitRequest(params=types.ElicitRequestFormParams(message=message, requested_schema=requested_schema))


def sampling_request(prompt, max_tokens=100):
    """A sampling request to put in CallContext.ask()."""
    messages = [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))]
    return types.CreateMessageRequest(params=types.CreateMessageRequestParams(messages=messages, max_tokens=max_tokens))


def roots_request():
    """A roots/list request to put in CallContext.ask()."""
    return types.ListRootsRequest()


class CallContext:
    def __init__(self, ctx, *, min_log_level="debug", input_responses=None, request_state=None, meta=None):
        self._ctx = ctx
        #: True if the client asked for progress notifications on this request (a progress token).
        self.wants_progress = (meta or {}).get("progress_token") is not None
        self._min_log_level = min_log_level
        self.modern = (ctx.protocol_version or "") >= "2026-07-28"
        #: Answers the client sent with this retry, by the keys the tool asked with.
        self.input_responses = dict(input_responses or {})
        #: Plaintext state the tool returned with its last InputRequired (sealed on the wire).
        self.request_state = request_state
        self._asked = 0

    def client_supports(self, capability):
        """True if the client declared *capability* ('elicitation', 'sampling', 'roots')."""
        capabilities = self._ctx.session.client_capabilities
        return capabilities is not None and getattr(capabilities, capability, None) is not None

    def accepts_extension(self, identifier):
        """True if this request's client declared the extension *identifier* (2026-07-28 only).

        Declared per request, in its `_meta`; handshake-era clients have no extensions to declare.
        """
        return self.modern and declares_extension(self._ctx, identifier)

    def ask(self, requests, state=None):
        """Return the client's answers to *requests* ({key: ElicitRequest | CreateMessageRequest | ...}).

        On a 2026-07-28 connection, answers not yet given end the call with an InputRequiredResult
        carrying the missing requests (and *state*); the client retries with the answers.
        """
        missing = {key: request for key, request in requests.items() if key not in self.input_responses}
        if missing:
            raise InputRequired(missing, state)
        return {key: self.input_responses[key] for key in requests}

    def _key(self, kind):
        self._asked += 1
        return f"{kind}-{self._asked}"

    def _require(self, capability):
        if not self.client_supports(capability):
            raise MissingClientCapability(capability)

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

        async def send():
            await self._ctx.session.send_log_message(level, message, logger, related_request_id=self._ctx.request_id)

        async_to_sync(send)()

    def elicit(self, message, requested_schema, *, key=None, state=None):
        """Ask the user for input; return the client's ElicitResult (action and content).

        On 2026-07-28, *key* names the request in inputRequests and *state* is handed back as
        `request_state` on the retry (sealed against tampering on the wire).
        """
        if self.modern:
            self._require("elicitation")
            key = key or self._key("elicit")
            return self.ask({key: elicit_request(message, requested_schema)}, state)[key]
        return self._request(
            lambda: self._ctx.session.elicit_form(message, requested_schema, related_request_id=self._ctx.request_id)
        )

    def sample(self, prompt, max_tokens=100, *, key=None, state=None):
        """Ask the client's model to complete *prompt*; return its CreateMessageResult."""
        messages = [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))]
        if self.modern:
            self._require("sampling")
            key = key or self._key("sample")
            return self.ask({key: sampling_request(prompt, max_tokens)}, state)[key]
        return self._request(
            lambda: self._ctx.session.create_message(
                messages, max_tokens=max_tokens, related_request_id=self._ctx.request_id
            )
        )

    def list_roots(self, *, key=None, state=None):
        """Return the client's roots (ListRootsResult)."""
        if self.modern:
            self._require("roots")
            key = key or self._key("roots")
            return self.ask({key: types.ListRootsRequest()}, state)[key]
        return self._request(lambda: self._ctx.session.list_roots())

    def _request(self, ask):
        """Return the client's answer to the request `ask()` makes, on a connection with a back-channel."""

        async def send():  # async_to_sync warns about a plain callable such as a lambda
            return await ask()

        try:
            return async_to_sync(send)()
        except MCPError as exc:  # including NoBackChannelError (stateless HTTP)
            raise ToolError(
                f"The client could not answer: {exc}. This needs a client connection with a back-channel "
                "(stdio, or a 2025-era HTTP session)."
            ) from None
