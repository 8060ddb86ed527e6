#!/usr/bin/env python
"""What the MCP SDK spends answering `tools/list`, measured in-process: `bench/sdk_tools_list.py`.

The tools are the benchmark's own (`bench.settings` with BENCH_PROXY_MODELS=50: the search and get
tools of Customer proxy models, as in BENCHMARKS.md's 10/30/100-tool rows). They are built once into
`types.Tool` objects, exactly as mcp_bridge builds them, and a bare low-level `Server` answers
`tools/list` with that prebuilt `ListToolsResult`: everything measured is the SDK's own work.

For each tool count and each wire form (2026-07-28 with the default SSE-capable response, 2026-07-28
with `json_response=True`, and a 2025-11-25 stateless JSON request) it reports CPU microseconds per
request (process CPU time: nothing here waits, and CPU time barely moves when other processes share
the machine), the best of several batches:
- whole path: one POST through the Starlette app `Server.streamable_http_app()` builds, driven with
  raw ASGI calls (no network, no client), the handler returning the prebuilt result;
- kept dict: the same with a server middleware that returns the wire dict kept from an earlier
  answer (what a caller caching per visible tool set can hand the SDK through its public API);
- fixed: the whole path with an empty tool list;
- the pieces the SDK runs on the result, one at a time, on the same inputs: the handler result's
  `model_dump` (runner `_dump_result`), the per-version surface validation and re-dump
  (`mcp_types.methods.serialize_server_result`), the `JSONRPCResponse` wrapper and the transport's
  encoding (2026: `model_dump(mode="json")` then `json.dumps`; 2025: `model_dump_json`).

Other modes:
  --against DIR [--rounds N]   before/after: alternate child runs on the installed SDK and on the
                               copy in DIR (put first on PYTHONPATH), best of N rounds each
  --write-bodies DIR / --compare-bodies DIR
                               the exact response bytes of every form, including a committed SSE
                               stream, a tool with non-ASCII text, control characters, exponent
                               floats and null defaults, and odd raw results through a custom method
  --profile N                  cProfile of the whole path for N tools, SDK functions as file:line
  --loop SECONDS / --spy-summary FILE
                               a steady request loop to record with `py-spy record -f raw`, and
                               its summary by leaf frame and by SDK call site
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this directory comes first on sys.path, and its profile.py would shadow the
# standard library's (which cProfile imports): put the project root there instead.
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench")]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import collections  # noqa: E402
import cProfile  # noqa: E402
import datetime  # noqa: E402
import decimal  # noqa: E402
import enum  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("BENCH_PROXY_MODELS", "50")

import django  # noqa: E402

django.setup()

import anyio  # noqa: E402
import mcp  # noqa: E402
import mcp_types  # noqa: E402
from mcp import types  # noqa: E402
from mcp.server import Server  # noqa: E402
from mcp.server.transport_security import TransportSecuritySettings  # noqa: E402
from mcp_types import JSONRPCResponse  # noqa: E402
from mcp_types.methods import SERVER_RESULTS  # noqa: E402
from pydantic import BaseModel, Field, TypeAdapter  # noqa: E402

from mcp_bridge.results import tool_description  # noqa: E402
from mcp_bridge.sites import site  # noqa: E402

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
PATH = "/mcp"
#: (label, protocol version, json_response)
FORMS = [
    ("2026 sse-mode", MODERN, False),
    ("2026 json-mode", MODERN, True),
    ("2025 stateless json", LEGACY, True),
]
PATHS = ("whole path", "kept dict")
#: raw_results() cases that are not JSON data and that docs/sdk-tools-list.patch encodes differently
#: (json.dumps reads them otherwise than pydantic); every other body must stay byte for byte the same.
KNOWN_DIFFERENCES = ("none-key", "self-contradicting-containers")


# --- What is answered ----------------------------------------------------------------------------


def bench_tools(count):
    """The first *count* tools a `support_agent` sees in the benchmark's tools/list scaling rows."""
    tools = [tool for name, tool in site.registry.tools.items() if "customer_view" in name]
    if len(tools) < count:
        raise SystemExit(f"only {len(tools)} benchmark tools: set BENCH_PROXY_MODELS to at least {(count + 1) // 2}")
    return [tool_description(tool) for tool in tools[:count]]


def tricky_tool():
    """A tool whose text and schemas exercise every encoder corner a patch could get wrong."""
    return types.Tool(
        name="tricky",
        title="Ünïcödé – “quotes” ✓ 𝄞",
        description='control \x00\x01\x1f\x7f tab\t newline\n quote" backslash\\ slash/ emoji 😀 BOM \ufeff',
        input_schema={
            "type": "object",
            "properties": {
                "ratio": {"type": "number", "minimum": 1e-05, "maximum": 1e16, "default": 0.1, "multipleOf": 2.5e-7},
                "big": {"type": "integer", "maximum": 2**70, "minimum": -(2**63)},
                "maybe": {"type": ["string", "null"], "default": None, "const": None},
                "flag": {"type": "boolean", "default": False, "enum": [True, False, None]},
                "nested": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"x": {"examples": [None, 1.0, -0.0]}}},
                },
                "é": {"description": "ключ 键 مفتاح"},
            },
            "$defs": {},
            "additionalProperties": False,
        },
        output_schema={"type": "object", "properties": {}, "x-extra": {"k": [1, 2.0, "three", None]}},
        annotations=types.ToolAnnotations(read_only_hint=True),
        meta={"vendor/key": {"n": 3.14159, "s": "ü"}},
    )


class RawParams(types.RequestParams):
    case: str


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Mode(enum.StrEnum):
    FAST = "fast"


class ReversedDict(dict):
    """A dict that iterates in the reverse of its storage order (it contradicts itself)."""

    def __iter__(self):
        return reversed(list(super().__iter__()))

    def keys(self):
        return list(self)

    def items(self):
        return [(key, self[key]) for key in self]


class ReversedList(list):
    """A list that iterates in the reverse of its storage order (it contradicts itself)."""

    def __iter__(self):
        return reversed(list(super().__iter__()))


class Nested(BaseModel):
    some_field: int = Field(alias="someField")
    nothing: str | None = None


def raw_results():
    """Results a handler or middleware may hand over as they are: JSON data, and Python values the
    transport's `model_dump(mode="json")` converts. Each is its own request, so each compares alone."""
    reordered = collections.OrderedDict([("a", 1), ("b", 2)])
    reordered.move_to_end("a")
    return {
        "plain": {"s": "x", "n": [1, -2, 3.5, 1e-05, 1e16, -0.0, 2**70], "b": [True, False, None], "o": {"k": {}}},
        "text": {"s": 'é ✓ 𝄞 \x00\x1f\x7f \t\n"\\/ \ufeff \u2028 \ud800'},
        "keys": {"numbers": {1: "int", 1.5: "float", 1e-05: "small"}, "booleans": {True: "t", False: "f"}},
        "tuple": {"t": (1, (2, 3)), "l": [(), []]},
        "enums": {"str": Mode.FAST, "int": Level.HIGH, "plain": Colour.RED, "key": {Mode.FAST: 1}},
        "datetime": {
            "when": datetime.datetime(2026, 1, 31, 9, 30, tzinfo=datetime.UTC),
            "day": datetime.date(2026, 1, 31),
        },
        "decimal-uuid-bytes": {"d": decimal.Decimal("12.50"), "u": uuid.UUID(int=1), "b": b"raw"},
        "nan-inf": {"nan": float("nan"), "inf": float("inf"), "list": [float("-inf")]},
        "model": {"m": Nested(someField=1), "ms": [Nested(someField=2, nothing="x")]},
        "set": {"s": frozenset({1})},
        "deep": functools.reduce(lambda inner, _: {"d": inner}, range(200), {}),
        "reordered-ordereddict": {"k": reordered},
        # Not JSON data, and read differently by json.dumps and pydantic (see docs/sdk-tools-list.md):
        "none-key": {"k": {None: 1}},
        "self-contradicting-containers": {"d": ReversedDict(a=1, b=2), "l": ReversedList([1, 2])},
    }


def build_server(result, *, keep_wire=False, progress=False):
    """A bare low-level Server answering tools/list with *result*.

    *keep_wire*: a server middleware returns the wire dict kept from the first answer for the same
    protocol version. *progress*: the handler reports progress first, which commits a 2026-07-28
    SSE-mode answer to an event stream. The custom method `bench/raw` answers with one of
    `raw_results()`, which reaches the transport as the handler made it.
    """

    async def on_list_tools(ctx, params):
        if progress:
            await ctx.session.report_progress(1, 1)
        return result

    async def raw(ctx, params):
        if progress:
            await ctx.session.report_progress(1, 1)
        return raw_results()[params.case]

    server = Server("sdk-bench", version="1.0", on_list_tools=on_list_tools)
    server.add_request_handler("bench/raw", RawParams, raw)
    if keep_wire:
        kept = {}

        async def keep_wire_result(ctx, call_next):
            if ctx.method != "tools/list":
                return await call_next(ctx)
            wire = kept.get(ctx.protocol_version)
            if wire is None:
                wire = kept[ctx.protocol_version] = await call_next(ctx)
            return dict(wire)

        server.middleware.append(keep_wire_result)
    return server


# --- How it is asked -----------------------------------------------------------------------------


def request_parts(version, method="tools/list", params=None, progress=False):
    params = dict(params or {})
    extra = []
    if version == MODERN:
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        extra.append((b"mcp-method", method.encode()))
    if progress:
        params.setdefault("_meta", {})["progressToken"] = "p1"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json, text/event-stream"),
        (b"mcp-protocol-version", version.encode()),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    return headers, body


class AsgiDriver:
    """One POST at a time through the SDK's Starlette app, as an ASGI server would hand it over."""

    def __init__(self, server, version, json_response, **request):
        self.app = server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=json_response,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.headers, self.body = request_parts(version, **request)

    async def post(self, *, status_too=False):
        """The response body; with *status_too*, `b"<status> "` + body, whatever the status."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": self.headers,
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 40000),
        }
        sent_body, finished = False, anyio.Event()
        status, chunks = None, []

        async def receive():
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": self.body, "more_body": False}
            await finished.wait()  # the client stays connected until the answer is complete
            return {"type": "http.disconnect"}

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        await self.app(scope, receive, send)
        if status_too:
            return b"%d " % status + b"".join(chunks)
        if status != 200:
            raise RuntimeError(f"answered {status}: {b''.join(chunks)[:300]!r}")
        return b"".join(chunks)


# --- Timing --------------------------------------------------------------------------------------


def settle_heap():
    """Collect, then freeze what survives, as the demo's server does after start-up (gc.freeze).

    Without it a full collection walks Django's ~170,000 start-up objects every few dozen requests
    (every ~20 for 100 tools on 2025) and decides the figures instead of the SDK's own work.
    """
    gc.collect()
    gc.freeze()


def per_call_us(fn, *, batches, per_batch):
    """The best over *batches* of the mean CPU time of *per_batch* calls, in microseconds.

    CPU time of this process, not wall time: everything measured runs on this thread without
    waiting for anything, and CPU time barely moves when other processes share the machine.
    """
    fn()
    samples = []
    for _ in range(batches):
        started = time.process_time()
        for _ in range(per_batch):
            fn()
        samples.append((time.process_time() - started) / per_batch * 1e6)
    return min(samples)


async def per_request_us(driver, *, batches, per_batch):
    for _ in range(5):
        await driver.post()
    samples = []
    for _ in range(batches):
        started = time.process_time()
        for _ in range(per_batch):
            await driver.post()
        samples.append((time.process_time() - started) / per_batch * 1e6)
    return min(samples)


def pieces(result, version, *, batches, per_batch):
    """The SDK's work on a handler result, piece by piece, as runner and transport run it."""
    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    adapter = TypeAdapter(SERVER_RESULTS[("tools/list", version)])
    if version == MODERN:
        dumped.setdefault("resultType", "complete")
    validated = adapter.validate_python(dumped, by_name=False)
    wire = adapter.dump_python(validated, by_alias=True, mode="json", exclude_none=True)
    message = JSONRPCResponse(jsonrpc="2.0", id=1, result=wire)
    body = message.model_dump(mode="json", by_alias=True, exclude_none=True)

    settle_heap()

    def measure(fn):
        return per_call_us(fn, batches=batches, per_batch=per_batch)

    rows = {
        "handler model_dump": measure(lambda: result.model_dump(by_alias=True, mode="json", exclude_none=True)),
        "surface validate": measure(lambda: adapter.validate_python(dumped, by_name=False)),
        "surface dump": measure(lambda: adapter.dump_python(validated, by_alias=True, mode="json", exclude_none=True)),
        "JSONRPCResponse()": measure(lambda: JSONRPCResponse(jsonrpc="2.0", id=1, result=wire)),
    }
    if version == MODERN:
        rows["response model_dump"] = measure(lambda: message.model_dump(mode="json", by_alias=True, exclude_none=True))
        rows["json.dumps"] = measure(lambda: json.dumps(body, separators=(",", ":")))
        # Not what the SDK runs: pydantic's own encoder, for comparison (its text differs, see the doc).
        rows["(model_dump_json)"] = measure(
            lambda: message.model_dump_json(by_alias=True, exclude_none=True, ensure_ascii=True)
        )
    else:
        rows["response model_dump_json"] = measure(lambda: message.model_dump_json(by_alias=True, exclude_unset=True))
    return rows, len(json.dumps(body, separators=(",", ":")))


async def measure_paths(count, *, batches, per_batch, with_pieces):
    result = list_result(bench_tools(count) if count else [])
    rows = []
    for label, version, json_response in FORMS:
        row = {"tools": count, "form": label}
        for path, keep_wire in zip(PATHS, (False, True), strict=True):
            server = build_server(result, keep_wire=keep_wire)
            driver = AsgiDriver(server, version, json_response)
            settle_heap()
            async with server.session_manager.run():
                row[path] = await per_request_us(driver, batches=batches, per_batch=per_batch)
        if with_pieces:
            row["pieces"], row["bytes"] = pieces(result, version, batches=batches, per_batch=per_batch)
        rows.append(row)
    return rows


def list_result(tools):
    return types.ListToolsResult(tools=tools)


def figures(counts, batches, per_batch, with_pieces=True):
    rows = asyncio.run(measure_paths(0, batches=batches, per_batch=per_batch, with_pieces=False))
    for count in counts:
        rows += asyncio.run(measure_paths(count, batches=batches, per_batch=per_batch, with_pieces=with_pieces))
    return rows


def print_figures(rows):
    fixed = {row["form"]: row["whole path"] for row in rows if row["tools"] == 0}
    print(f"\n{'tools':>5}  {'form':<20} {'bytes':>7} {'whole path':>10} {'kept dict':>9} {'fixed':>6}   pieces (us)")
    for row in rows:
        if not row["tools"]:
            continue
        print(
            f"{row['tools']:>5}  {row['form']:<20} {row.get('bytes', 0):>7} {row['whole path']:>10.0f} "
            f"{row['kept dict']:>9.0f} {fixed[row['form']]:>6.0f}   "
            + ", ".join(f"{name} {value:.0f}" for name, value in row.get("pieces", {}).items())
        )


def against(overlay, counts, rounds, batches, per_batch):
    """Before/after: child runs alternate between the installed SDK and the copy in *overlay*."""
    best = {}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(rounds):
            for sdk in ("installed", "patched"):
                env = dict(os.environ)
                env.pop("PYTHONPATH", None)
                if sdk == "patched":
                    env["PYTHONPATH"] = str(Path(overlay).resolve())
                out = Path(scratch) / f"{sdk}-{round_}.json"
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--tools",
                        ",".join(map(str, counts)),
                        "--batches",
                        str(batches),
                        "--per-batch",
                        str(per_batch),
                        "--no-pieces",
                        "--json",
                        str(out),
                    ],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                for row in json.loads(out.read_text())["rows"]:
                    for path in PATHS:
                        key = (sdk, row["tools"], row["form"], path)
                        best[key] = min(best.get(key, float("inf")), row[path])
    print(f"\nbest of {rounds} alternating rounds, us per request: installed -> patched (change)")
    print(f"{'tools':>5}  {'form':<20} {'whole path':>26} {'kept dict':>26}")
    for count in [0, *counts]:
        for label, _, _ in FORMS:
            cells = []
            for path in PATHS:
                before, after = best[("installed", count, label, path)], best[("patched", count, label, path)]
                cells.append(f"{before:7.0f} -> {after:6.0f} ({100 * (after - before) / before:+4.0f}%)")
            print(f"{count:>5}  {label:<20} {cells[0]:>26} {cells[1]:>26}")


# --- Where the time goes -------------------------------------------------------------------------


async def profile(count, form, calls):
    label, version, json_response = next(f for f in FORMS if f[0].startswith(form))
    server = build_server(list_result(bench_tools(count)))
    driver = AsgiDriver(server, version, json_response)
    settle_heap()
    async with server.session_manager.run():
        for _ in range(20):
            await driver.post()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            await driver.post()
        profiler.disable()
    stats = pstats.Stats(profiler)
    site_root = str(Path(mcp.__file__).resolve().parent.parent) + os.sep
    print(f"\ncProfile, {count} tools, {label}, {calls} requests; us per request (self, cumulative), calls per request")
    for sort, column in (("self time", 2), ("cumulative time", 3)):
        print(f"\n  by {sort}:")
        entries = sorted(stats.stats.items(), key=lambda kv: -kv[1][column])
        for (filename, line, name), (_, calls_made, own, cumulative, _) in entries[:25]:
            where = filename.replace(site_root, "")
            print(
                f"    {own / calls * 1e6:8.1f} {cumulative / calls * 1e6:8.1f}  {calls_made / calls:5.1f}x  {where}:{line}({name})"
            )


async def loop(count, form, seconds):
    """Answer tools/list for *seconds* without pause: a steady target for `py-spy record`."""
    label, version, json_response = next(f for f in FORMS if f[0].startswith(form))
    server = build_server(list_result(bench_tools(count)))
    driver = AsgiDriver(server, version, json_response)
    settle_heap()
    requests, deadline = 0, time.perf_counter() + seconds
    async with server.session_manager.run():
        while time.perf_counter() < deadline:
            await driver.post()
            requests += 1
    print(f"{requests} requests in {seconds} s ({seconds / requests * 1e6:.0f} us each), {count} tools, {label}")


def spy_summary(path, top=30):
    """Shares of the `--loop` samples in a `py-spy record -f raw` file: by leaf frame (self) and,
    for the SDK's own frames, by call site (inclusive: everything below that line)."""
    leaves, sites, total = {}, {}, 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "asyncio/runners.py" not in stack:
            continue  # Django start-up; the request loop and all its tasks run under asyncio.run
        count = int(count)
        total += count
        frames = stack.split(";")
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + count
        for frame in set(frames):
            if frame.split("(")[-1].startswith(("mcp/", "mcp_types/")):
                sites[frame] = sites.get(frame, 0) + count
    print(f"{total} samples in the request loop")
    for title, table in (("self (leaf frame)", leaves), ("inclusive, SDK call sites", sites)):
        print(f"\n  {title}:")
        for frame, count in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {100 * count / total:5.1f}%  {frame}")


# --- Same bytes? ---------------------------------------------------------------------------------


async def answer(server, version, json_response, times=1, **request):
    driver = AsgiDriver(server, version, json_response, **request)
    async with server.session_manager.run():
        found = {await driver.post(status_too=True) for _ in range(times)}
    if len(found) != 1:
        raise RuntimeError(f"{version} {request}: the answers differ from one request to the next")
    return found.pop()


async def bodies(counts):
    """The exact status and body of every form: tools/list (the benchmark tools plus the tricky tool;
    full pipeline, kept wire dict, and an SSE stream the handler committed by reporting progress),
    and each of `raw_results()` through the custom method."""
    out = {}
    for label, version, json_response in FORMS:
        name = label.replace(" ", "_")
        streams = version == MODERN and not json_response
        for count in counts:
            result = list_result([*bench_tools(count), tricky_tool()])
            out[f"{name}-full-{count}"] = await answer(build_server(result), version, json_response, times=3)
            out[f"{name}-kept-{count}"] = await answer(
                build_server(result, keep_wire=True), version, json_response, times=3
            )
            if streams:
                out[f"{name}-stream-{count}"] = await answer(
                    build_server(result, progress=True), version, json_response, progress=True
                )
        for case in raw_results():
            request = {"method": "bench/raw", "params": {"case": case}}
            out[f"raw-{name}-{case}"] = await answer(build_server(list_result([])), version, json_response, **request)
            if streams:
                out[f"raw-{name}-stream-{case}"] = await answer(
                    build_server(list_result([]), progress=True), version, json_response, progress=True, **request
                )
    return out


def write_or_compare(counts, write_to, compare_with):
    found = asyncio.run(bodies(counts))
    if write_to:
        target = Path(write_to)
        target.mkdir(parents=True, exist_ok=True)
        for name, body in found.items():
            (target / f"{name}.body").write_bytes(body)
        print(f"wrote {len(found)} bodies to {target}")
    if compare_with:
        different, known = [], []
        for name, body in found.items():
            expected = (Path(compare_with) / f"{name}.body").read_bytes()
            verdict = "same"
            if body != expected:
                verdict = "differs (known, not JSON data)" if name.endswith(KNOWN_DIFFERENCES) else "DIFFERENT"
                (known if name.endswith(KNOWN_DIFFERENCES) else different).append(name)
            print(f"  {verdict}  {name}  {len(body)} bytes  sha256 {hashlib.sha256(body).hexdigest()[:16]}")
            if body != expected:
                print(f"      before: {expected[:400]!r}\n      after:  {body[:400]!r}")
        print(
            f"{len(found) - len(different) - len(known)} of {len(found)} bodies byte-identical, "
            f"{len(known)} known differences, {len(different)} unexpected differences"
        )
        return 1 if different else 0
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", default="10,30,100", help="tool counts, comma-separated")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--per-batch", type=int, default=20)
    parser.add_argument("--no-pieces", action="store_true", help="time the paths only")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--against", metavar="DIR", help="a patched copy of the SDK (holding mcp/ and mcp_types/)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-bodies", metavar="DIR")
    parser.add_argument("--compare-bodies", metavar="DIR")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile the whole path for N tools")
    parser.add_argument("--form", default="2026 sse", help="the form --profile and --loop use (prefix of its label)")
    parser.add_argument(
        "--loop",
        type=float,
        metavar="SECONDS",
        help="answer tools/list (first --tools count) for SECONDS, for py-spy record",
    )
    parser.add_argument("--spy-summary", metavar="FILE", help="summarize a py-spy raw recording of --loop")
    args = parser.parse_args()
    counts = [int(n) for n in args.tools.split(",")]
    if args.spy_summary:
        return spy_summary(args.spy_summary)
    installed = Path(sys.prefix) in Path(mcp.__file__).resolve().parents
    print(
        f"mcp from {Path(mcp.__file__).parent} ({'installed' if installed else 'a copy on PYTHONPATH'}), "
        f"mcp_types from {Path(mcp_types.__file__).parent}, Python {sys.version.split()[0]}"
    )
    if args.against:
        return against(args.against, counts, args.rounds, args.batches, args.per_batch)
    if args.write_bodies or args.compare_bodies:
        return write_or_compare(counts, args.write_bodies, args.compare_bodies)
    if args.profile:
        return asyncio.run(profile(args.profile, args.form, 300))
    if args.loop:
        return asyncio.run(loop(counts[0], args.form, args.loop))
    rows = figures(counts, args.batches, args.per_batch, with_pieces=not args.no_pieces)
    print_figures(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"mcp": mcp.__file__, "rows": rows}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
