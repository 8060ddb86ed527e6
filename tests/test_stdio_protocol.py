"""`manage.py runmcp` answers every request and every unparsable line, as JSON-RPC 2.0 requires.

Raw bytes on a real runmcp subprocess: garbage gets -32700 with id null, JSON that is not a
request gets -32600, a request holding a lone UTF-16 surrogate gets an answer (not silence), and
the session goes on serving afterwards.
"""

import json

import pytest

from .test_stdio import HANDSHAKE, RawStdioServer, parse_jsonrpc_line

pytestmark = pytest.mark.subprocess

PARSE_ERROR, INVALID_REQUEST = -32700, -32600


def next_message(server, timeout=20):
    line = server.messages.get(timeout=timeout)
    return parse_jsonrpc_line(line)


def initialize(server):
    server.send(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        }
    )
    assert server.answer(1)["result"]["protocolVersion"] == HANDSHAKE
    server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


def send_raw(server, data):
    server.process.stdin.write(data + b"\n")
    server.process.stdin.flush()


def test_unparsable_lines_and_non_requests_are_answered(demo):
    server = RawStdioServer("support_agent")
    try:
        initialize(server)
        cases = [
            (b"this is not json", PARSE_ERROR, None),
            (b'{"jsonrpc": "2.0", "id": 5, "method": ', PARSE_ERROR, None),  # cut short
            (b'\xff\xfe{"jsonrpc": "2.0"}', PARSE_ERROR, None),  # not UTF-8
            (b'{"a": 1}', INVALID_REQUEST, None),
            (b"[1, 2]", INVALID_REQUEST, None),  # a batch
            (b"42", INVALID_REQUEST, None),
            (b'{"jsonrpc": "2.0", "id": 7, "method": 5}', INVALID_REQUEST, 7),
            (b'{"jsonrpc": "1.0", "id": "x", "method": "ping"}', INVALID_REQUEST, "x"),
        ]
        for raw, code, request_id in cases:
            send_raw(server, raw)
            answer = next_message(server)
            assert answer["id"] == request_id and answer["error"]["code"] == code, (raw, answer)
            assert answer["error"]["message"].startswith("Parse error" if code == PARSE_ERROR else "Invalid Request")
        # Blank lines are no messages; the session still serves.
        send_raw(server, b"")
        server.send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
        assert server.answer(2)["result"] == {}
    finally:
        exit_code = server.close()
    assert exit_code == 0, "".join(server.stderr)


def test_requests_with_lone_surrogates_are_answered(demo):
    server = RawStdioServer("support_agent")
    try:
        initialize(server)
        # json.dumps writes "\ud800" as the escape sequence, exactly as a client would send it.
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "search_customers", "arguments": {"query": "ana\ud800"}},
            }
        )
        called = server.answer(3)["result"]
        assert called["isError"] and "'query' contains a lone UTF-16 surrogate (U+D800)" in called["content"][0]["text"]

        server.send(
            {
                "jsonrpc": "2.0",
                "id": 4,
                "method": "tools/call",
                "params": {"name": "search_customers", "arguments": {"\udc00": 1}},
            }
        )
        called = server.answer(4)["result"]
        assert (
            called["isError"]
            and "an argument name contains a lone UTF-16 surrogate (U+DC00)" in called["content"][0]["text"]
        )

        server.send(
            {
                "jsonrpc": "2.0",
                "id": 5,
                "method": "completion/complete",
                "params": {
                    "ref": {"type": "ref/resource", "uri": "customers://customer/{id}"},
                    "argument": {"name": "id", "value": "\ud800"},
                },
            }
        )
        completed = server.answer(5)
        assert completed["error"]["code"] == -32602 and "lone UTF-16 surrogate" in completed["error"]["message"]

        server.send(
            {"jsonrpc": "2.0", "id": 6, "method": "resources/read", "params": {"uri": "customers://customer/\ud800"}}
        )
        assert server.answer(6)["error"]["code"] == -32602

        server.send(
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "tools/call",
                "params": {"name": "search_customers", "arguments": {"page_size": 1}},
            }
        )
        assert len(server.answer(7)["result"]["structuredContent"]["items"]) == 1
    finally:
        exit_code = server.close()
    assert exit_code == 0, "".join(server.stderr)
    for line in server.stdout_lines:
        json.loads(line.decode("utf-8"))  # every line on the wire is UTF-8 JSON
