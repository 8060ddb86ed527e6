"""Child process of tests/test_metrics.py: call one tool with a recording tracer provider installed.

`python -m tests.otel_probe <username> <customer id>` (on the test database, see tests/servers.py)
prints the finished spans as one JSON line: name, id, parent id, trace id and attributes of each.
The provider is the smallest one the OpenTelemetry API allows (the SDK is not a dependency); a
provider cannot be uninstalled, which is why this runs in its own process.
"""

import asyncio
import contextlib
import json
import os
import random
import sys

from opentelemetry import trace

FINISHED = []


class RecordingSpan(trace.NonRecordingSpan):
    def __init__(self, name, context, parent, attributes):
        super().__init__(context)
        self.name = name
        self.parent = parent
        self.attributes = dict(attributes or {})

    def is_recording(self):
        return True

    def set_attribute(self, key, value):
        self.attributes[key] = value

    def set_attributes(self, attributes):
        self.attributes.update(attributes)

    def end(self, end_time=None):
        FINISHED.append(self)


class RecordingTracer(trace.Tracer):
    def start_span(self, name, context=None, kind=trace.SpanKind.INTERNAL, attributes=None, *args, **kwargs):
        parent = trace.get_current_span(context).get_span_context()
        trace_id = parent.trace_id if parent.is_valid else random.getrandbits(128)
        span_context = trace.SpanContext(
            trace_id, random.getrandbits(64), is_remote=False, trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED)
        )
        return RecordingSpan(name, span_context, parent if parent.is_valid else None, attributes)

    @contextlib.contextmanager
    def start_as_current_span(
        self,
        name,
        context=None,
        kind=trace.SpanKind.INTERNAL,
        attributes=None,
        links=None,
        start_time=None,
        record_exception=True,
        set_status_on_exception=True,
        end_on_exit=True,
    ):
        span = self.start_span(name, context, kind, attributes)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class RecordingTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        return RecordingTracer()


async def call(username, customer_id):
    from django.contrib.auth import get_user_model
    from mcp import Client

    from mcp_bridge.authentication import local_principal
    from mcp_bridge.server import McpBridgeServer, current_principal

    user = await get_user_model().objects.aget(username=username)
    bridge = McpBridgeServer()  # built after the provider: the SDK keeps its span middleware
    token = current_principal.set(local_principal(user))
    try:
        async with Client(bridge.server) as client:
            result = await client.call_tool("get_customer", {"id": customer_id})
            assert not result.is_error, result
    finally:
        current_principal.reset(token)


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    trace.set_tracer_provider(RecordingTracerProvider())
    import django

    django.setup()
    asyncio.run(call(sys.argv[1], int(sys.argv[2])))
    spans = [
        {
            "name": span.name,
            "id": span.get_span_context().span_id,
            "parent": span.parent.span_id if span.parent else None,
            "trace": span.get_span_context().trace_id,
            "attributes": span.attributes,
        }
        for span in FINISHED
    ]
    print(json.dumps(spans, default=str))


if __name__ == "__main__":
    main()
