"""Exceptions a tool raises to tell the calling model what went wrong."""


class ToolError(Exception):
    """An error the calling model should see and can act on; returned as an `isError` result.

    Write the message for the model: say what was wrong and what to try instead.
    """

    def __init__(self, message, *, details=None):
        super().__init__(message)
        self.message = message
        self.details = details


class AuthenticationFailed(Exception):
    """The credential presented was missing, malformed, unknown, expired or revoked."""
