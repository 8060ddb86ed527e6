"""2026-07-28 `tools/list` requests answered with the bytes of an earlier, identical answer.

A tool list depends only on which tools the caller may see and on the protocol version, yet the SDK
encodes every answer anew: a pydantic dump and a `json.dumps` of about 3 KB per tool, most of the
request's cost once a caller sees a few dozen tools. A request that passes the SDK's own inbound
checks (the same functions, in the same order, as its stateless entry) still runs its Django unit
of work (credential re-checked, permissions loaded, visibility decided), and is then answered with
the bytes the SDK produced for the same visible set. Everything else, including every request that
would be rejected and a first request for a visible set, goes to the SDK unchanged.
"""

import json

from mcp.server.streamable_http import check_accept_headers
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import (
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types import JSONRPCRequest, JSONRPCResponse
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

#: A tools/list request is a few hundred bytes; anything larger is left to the SDK's own limits.
MAX_BODY_BYTES = 64 * 1024
_CONTENT_TYPE_CHECK = TransportSecurityMiddleware(TransportSecuritySettings(enable_dns_rebinding_protection=False))


async def answer_tools_list(bridge, principal, scope, receive, send, *, json_response):
    """Answer a repeated 2026-07-28 tools/list; return None if answered, else the `receive` for the SDK.

    The returned callable replays any body already read, so the SDK sees the request untouched.
    """
    headers = scope["headers"]
    if scope["method"] != "POST" or _header(headers, b"mcp-method") != "tools/list":
        return receive
    if _header(headers, b"mcp-protocol-version") not in MODERN_PROTOCOL_VERSIONS:
        return receive
    length = _header(headers, b"content-length")
    if length is None or not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return receive
    body, replay = await _read_body(receive)
    if body is None:
        return replay
    request = Request(scope)
    if await _CONTENT_TYPE_CHECK.validate_request(request, is_post=True) is not None:
        return replay
    has_json, has_sse = check_accept_headers(request)
    if not has_json or (not json_response and not has_sse):
        return replay
    try:
        decoded = json.loads(body)
        rpc = JSONRPCRequest.model_validate(decoded)
    except (ValueError, RecursionError, ValidationError):
        return replay
    params = decoded.get("params")
    if rpc.method != "tools/list" or not isinstance(params, dict) or set(params) != {"_meta"}:
        return replay  # a cursor, or anything else unusual, is the SDK's to judge
    if find_duplicated_routing_header(request.headers.items()) is not None:
        return replay
    route = classify_inbound_request(decoded, headers=dict(request.headers))
    if isinstance(route, InboundLadderRejection):
        return replay
    try:
        encoded = await bridge.encoded_tools_list(principal, route.protocol_version, scope)
    except MCPError:
        return replay  # e.g. a credential revoked since: the SDK path reports it
    if encoded is None:
        return replay  # first request for this visible set: the SDK answers and the bytes are kept
    payload = b'{"jsonrpc":"2.0","id":' + json.dumps(rpc.id).encode() + b',"result":' + encoded + b"}"
    await Response(payload, media_type="application/json")(scope, replay, send)
    return None


def encode_result(result):
    """The wire bytes of a tools/list result, exactly as the SDK's `_write` produces them."""
    dumped = JSONRPCResponse(jsonrpc="2.0", id=0, result=result).model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(dumped["result"], separators=(",", ":")).encode()


def _header(headers, name):
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive):
    """Read the whole body; return (body or None, a receive that replays what was read)."""
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, _replaying(messages, receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), _replaying(messages, receive)


def _replaying(messages, receive):
    pending = list(messages)

    async def replay():
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
