"""The stdio transport of `manage.py runmcp`: one JSON-RPC message per line, every line answered.

The SDK's `mcp.server.stdio.stdio_server` parses each line with pydantic's JSON parser, which
refuses strings holding a lone UTF-16 surrogate ("\\ud800", valid JSON escape syntax), and hands
parse failures to the server as exceptions that are only logged: the client waits forever for an
answer, and garbage lines get no `-32700` either. This transport parses with Python's `json` (so a
request with a lone surrogate reaches the handlers, which refuse it with a proper error, as over
HTTP) and answers what JSON-RPC 2.0 requires itself:

- a line that is not UTF-8 JSON: `-32700 Parse error`, id null;
- JSON that is not a JSON-RPC message: `-32600 Invalid Request`, with the request's id if it has a
  usable one, else null.

As the SDK's transport does, it keeps the protocol channel to itself while serving: file
descriptor 0 reads from the null device and 1 writes to stderr, so stray output of handlers and
child processes cannot corrupt the wire.
"""

import contextlib
import json
import logging
import os
import sys

import anyio
from mcp.shared.message import SessionMessage
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    JSONRPCError,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

logger = logging.getLogger(__name__)


def parse_line(line):
    """Return (SessionMessage, None), or (None, the error response to send), or (None, None) for a blank line."""
    if not line.strip():
        return None, None
    try:
        decoded = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, error_response(
            None, PARSE_ERROR, "Parse error: send one JSON-RPC message per line, as UTF-8 JSON."
        )
    try:
        return SessionMessage(jsonrpc_message_adapter.validate_python(decoded, by_name=False)), None
    except ValidationError:
        return None, error_response(
            _request_id(decoded),
            INVALID_REQUEST,
            "Invalid Request: a line must hold one JSON-RPC 2.0 request, notification or response object "
            '({"jsonrpc": "2.0", "id": ..., "method": ..., "params": {...}}); batches are not supported.',
        )


def _request_id(decoded):
    """The id of a malformed request, when it is one a client could match (a string or an integer)."""
    request_id = decoded.get("id") if isinstance(decoded, dict) else None
    return request_id if isinstance(request_id, (str, int)) and not isinstance(request_id, bool) else None


def error_response(request_id, code, message):
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def encode(session_message):
    """The wire line of *session_message*; a response that cannot be encoded becomes an error for its id."""
    message = session_message.message
    try:
        return message.model_dump_json(by_alias=True, exclude_unset=True)
    except PydanticSerializationError:
        # E.g. a handler's answer holding a lone surrogate, which UTF-8 cannot encode.
        logger.exception("An MCP message could not be encoded as JSON")
        if not isinstance(message, (JSONRPCResponse, JSONRPCError)):
            return None
        return json.dumps(
            error_response(message.id, INTERNAL_ERROR, "Internal error: the response could not be encoded.")
        )


@contextlib.contextmanager
def claimed_standard_streams():
    """Yield (wire in, wire out) binary files; meanwhile fd 0 reads /dev/null and fd 1 writes to stderr."""
    sys.stdout.flush()
    wire_in = os.fdopen(os.dup(0), "rb")
    wire_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
        yield wire_in, wire_out
    finally:
        sys.stdout.flush()
        os.dup2(wire_in.fileno(), 0)
        os.dup2(wire_out.fileno(), 1)
        os.close(null)
        wire_in.close()
        wire_out.close()


@contextlib.asynccontextmanager
async def stdio_server():
    """Yield (read_stream, write_stream) for `Server.run`, over this process's stdin and stdout.

    While it serves, calls are recorded in the audit trail as authenticated by "stdio"; what the
    recorder still holds is written when it ends.
    """
    from .call_records import stdio_transport  # the audit trail's record of who called

    token = stdio_transport.set(True)
    try:
        async with _serving() as streams:
            yield streams
    finally:
        stdio_transport.reset(token)
        await anyio.to_thread.run_sync(_flush_audit)


def _flush_audit():
    from django.db import connections

    from . import audit

    try:
        audit.flush()
    finally:
        connections.close_all()  # this thread's connection


@contextlib.asynccontextmanager
async def _serving():
    with claimed_standard_streams() as (wire_in, wire_out):
        read_writer, read_stream = anyio.create_memory_object_stream(0)
        write_stream, write_reader = anyio.create_memory_object_stream(0)
        write_lock = anyio.Lock()

        async def write_line(text):
            async with write_lock:
                await anyio.to_thread.run_sync(_write_and_flush, wire_out, text.encode("utf-8") + b"\n")

        async def stdin_reader():
            async with read_writer:
                while line := await anyio.to_thread.run_sync(wire_in.readline):
                    message, error = parse_line(line)
                    if message is not None:
                        await read_writer.send(message)
                    elif error is not None:
                        await write_line(json.dumps(error))

        async def stdout_writer():
            async with write_reader:
                async for session_message in write_reader:
                    text = encode(session_message)
                    if text is not None:
                        await write_line(text)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(stdin_reader)
            tasks.start_soon(stdout_writer)
            yield read_stream, write_stream


def _write_and_flush(wire, data):
    wire.write(data)
    wire.flush()
