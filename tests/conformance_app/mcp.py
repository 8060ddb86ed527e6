"""The fixtures the official MCP conformance suite (@modelcontextprotocol/conformance) calls.

Registered through mcp_bridge's public API only, as any project would: `mcp_bridge.site.tool`,
`.report`, `.prompt`, `.resource`, `.resource_template`, `mcp_bridge.content` and `context=True`. The names,
arguments and payloads follow the suite's "everything" server, whose scenarios each check one
fixture (tests/test_conformance.py runs them). Autodiscovered because this module is called `mcp`.
"""

import io
import json
import struct
import time
import wave
import zlib

from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR

import mcp_bridge
from mcp_bridge import ToolError
from mcp_bridge.content import Audio, EmbeddedResource, Image, Text
from mcp_bridge.context import elicit_request, roots_request, sampling_request

site = mcp_bridge.site
STEP_SECONDS = 0.05  # the reference server spaces its notifications about 50 ms apart


def _png(width=1, height=1, rgb=(255, 0, 0)):
    """A valid PNG image, built here so the bytes are inspectable rather than an opaque constant."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _wav(frames=800, rate=8000):
    """A valid WAV file: 0.1 s of 8 kHz 16-bit mono silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()


PNG = _png()
WAV = _wav()


# -- tools -----------------------------------------------------------------------------------------


@site.tool(description="Tests a simple text content response: returns one text block.", read_only=True)
def test_simple_text(request, data):
    return "This is a simple text response for testing."


@site.tool(description="Tests image content response (a 1x1 PNG).", read_only=True)
def test_image_content(request, data):
    return Image(PNG, "image/png")


@site.tool(description="Tests audio content response (a short WAV).", read_only=True)
def test_audio_content(request, data):
    return Audio(WAV, "audio/wav")


@site.tool(description="Tests embedded resource content response.", read_only=True)
def test_embedded_resource(request, data):
    return EmbeddedResource(
        uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
    )


@site.tool(description="Tests response with text, image and embedded resource content.", read_only=True)
def test_multiple_content_types(request, data):
    return [
        Text("Multiple content types test:"),
        Image(PNG, "image/png"),
        EmbeddedResource(
            uri="test://mixed-content-resource",
            mime_type="application/json",
            text=json.dumps({"test": "data", "value": 123}),
        ),
    ]


@site.tool(description="Tests tool that sends log messages during execution.", read_only=True, context=True)
def test_tool_with_logging(request, data, context):
    for message in ("Tool execution started", "Tool processing data", "Tool execution completed"):
        context.log("info", message)
        time.sleep(STEP_SECONDS)
    return "Tool with logging executed successfully"


@site.tool(description="Tests error response handling: always fails with an isError result.", read_only=True)
def test_error_handling(request, data):
    raise ToolError("This tool intentionally returns an error for testing")


@site.tool(
    description="Tests tool that reports progress notifications (0, 50, 100 of 100).", read_only=True, context=True
)
def test_tool_with_progress(request, data, context):
    for progress in (0, 50, 100):
        context.progress(progress, 100, f"Completed step {progress // 50 + 1} of 3")
        time.sleep(STEP_SECONDS)
    return "Tool with progress completed"


@site.tool(
    description="Tests server-initiated sampling: asks the client's LLM to complete the prompt.",
    input_schema={
        "type": "object",
        "properties": {"prompt": {"type": "string", "description": "The prompt to send to the LLM"}},
        "required": ["prompt"],
        "additionalProperties": False,
    },
    read_only=True,
    context=True,
)
def test_sampling(request, data, context):
    result = context.sample(data["prompt"], max_tokens=100)
    text = getattr(result.content, "text", None) or str(result.content)
    return f"LLM response: {text}"


@site.tool(
    description="Tests server-initiated elicitation: asks the user for a username and an email address.",
    input_schema={
        "type": "object",
        "properties": {"message": {"type": "string", "description": "The message to show the user"}},
        "required": ["message"],
        "additionalProperties": False,
    },
    read_only=True,
    context=True,
)
def test_elicitation(request, data, context):
    result = context.elicit(
        data["message"],
        {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        },
    )
    return f"User response: action={result.action}, content={json.dumps(result.content)}"


@site.tool(
    description="Tests elicitation with default values for every primitive type (SEP-1034).",
    read_only=True,
    context=True,
)
def test_elicitation_sep1034_defaults(request, data, context):
    result = context.elicit(
        "Please review and update the form fields with defaults",
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Verification status", "default": True},
            },
            "required": [],
        },
    )
    return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"


@site.tool(description="Tests elicitation with the five enum schema variants (SEP-1330).", read_only=True, context=True)
def test_elicitation_sep1330_enums(request, data, context):
    result = context.elicit(
        "Please select options from the enum fields",
        {
            "type": "object",
            "properties": {
                "untitledSingle": {
                    "type": "string",
                    "description": "Select one option",
                    "enum": ["option1", "option2", "option3"],
                },
                "titledSingle": {
                    "type": "string",
                    "description": "Select one option with titles",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"},
                    ],
                },
                "legacyEnum": {
                    "type": "string",
                    "description": "Select one option (legacy)",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "description": "Select multiple options",
                    "minItems": 1,
                    "maxItems": 3,
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {
                    "type": "array",
                    "description": "Select multiple options with titles",
                    "minItems": 1,
                    "maxItems": 3,
                    "items": {
                        "anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"},
                        ]
                    },
                },
            },
            "required": [],
        },
    )
    return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"


@site.tool(
    description="Tool with JSON Schema 2020-12 features ($schema, $defs with $anchor, allOf/anyOf, if/then/else).",
    input_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"},
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": False,
    },
    read_only=True,
)
def json_schema_2020_12_tool(request, data):
    return {"received": data}


# -- fixtures of the pre-release suite's 2026-07-28 scenarios ----------------------------------------
# Written with CallContext: on 2026-07-28 (no server-to-client requests) elicit/sample/list_roots
# end the call with an InputRequiredResult and the tool runs again with the answers.


@site.tool(
    description="Diagnostic tool that logs one message; clients that set no log level get no log.",
    read_only=True,
    context=True,
)
def test_logging_tool(request, data, context):
    context.log("info", "Diagnostic trace logging activated")
    return "Logging evaluated"


@site.tool(
    description="Diagnostic tool that needs the client's elicitation capability to finish.",
    read_only=True,
    context=True,
)
def test_streaming_elicitation(request, data, context):
    result = context.elicit("Please confirm", {"type": "object", "properties": {"ok": {"type": "boolean"}}})
    return f"Streaming complete: action={result.action}"


@site.tool(
    description="Diagnostic tool that needs the client's sampling capability to finish.", read_only=True, context=True
)
def test_missing_capability(request, data, context):
    result = context.sample("Say hello", max_tokens=20)
    return f"Success: {getattr(result.content, 'text', '')}"


NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
CONFIRM_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


@site.tool(description="Asks the user for their name by elicitation, then greets them.", read_only=True, context=True)
def test_input_required_result_elicitation(request, data, context):
    result = context.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    return f"Hello, {(result.content or {}).get('name', 'stranger')}!"


@site.tool(
    description="Asks the client's model a question by sampling, then returns its answer.", read_only=True, context=True
)
def test_input_required_result_sampling(request, data, context):
    result = context.sample("What is the capital of France?", max_tokens=100, key="capital_question")
    return f"Sampling result: {getattr(result.content, 'text', 'no response')}"


@site.tool(
    description="Asks the client for its roots (roots/list), then reports how many there are.",
    read_only=True,
    context=True,
)
def test_input_required_result_list_roots(request, data, context):
    result = context.list_roots(key="client_roots")
    return f"Client has {len(result.roots)} root(s): {', '.join(str(r.uri) for r in result.roots)}"


@site.tool(
    description="Asks for a confirmation and checks that its request state comes back intact (state-ok).",
    read_only=True,
    context=True,
)
def test_input_required_result_request_state(request, data, context):
    context.elicit("Please confirm", CONFIRM_SCHEMA, key="confirm", state="expected-state-v1")
    if context.request_state != "expected-state-v1":
        raise ToolError("The request state did not come back as it was sent.")
    return "state-ok: the request state was received and validated"


@site.tool(
    description="Asks for a name, a sampled greeting and the client's roots in one round.", read_only=True, context=True
)
def test_input_required_result_multiple_inputs(request, data, context):
    answers = context.ask(
        {
            "user_name": elicit_request("What is your name?", NAME_SCHEMA),
            "greeting": sampling_request("Write a one-line greeting.", 50),
            "client_roots": roots_request(),
        },
        state="multiple-inputs",
    )
    name = (answers["user_name"].content or {}).get("name")
    return f"{name}: {getattr(answers['greeting'].content, 'text', '')} ({len(answers['client_roots'].roots)} roots)"


@site.tool(
    description="Asks two questions in a row by elicitation (name, then favorite color).", read_only=True, context=True
)
def test_input_required_result_multi_round(request, data, context):
    # Each round's answers arrive once, so earlier answers travel in the (sealed) request state.
    state = json.loads(context.request_state or "{}")
    if "name" not in state:
        answer = context.elicit("Step 1: What is your name?", NAME_SCHEMA, key="name", state=json.dumps({"round": 1}))
        state["name"] = (answer.content or {}).get("name")
    color = context.elicit(
        "Step 2: What is your favorite color?",
        {
            "type": "object",
            "properties": {"color": {"type": "string"}},
            "required": ["color"],
        },
        key="color",
        state=json.dumps(state),
    )
    return f"{state['name']} likes {(color.content or {}).get('color')}"


@site.tool(
    description="Asks for a confirmation with request state, so a tampered state can be refused.",
    read_only=True,
    context=True,
)
def test_input_required_result_tampered_state(request, data, context):
    context.elicit("Please confirm", CONFIRM_SCHEMA, key="confirm", state="integrity-checked")
    return "confirmed"


@site.tool(
    description="Asks only for what the client declared it can answer (sampling and/or elicitation).",
    read_only=True,
    context=True,
)
def test_input_required_result_capabilities(request, data, context):
    requests = {}
    if context.client_supports("sampling"):
        requests["greeting"] = sampling_request("Write a one-line greeting.", 50)
    if context.client_supports("elicitation"):
        requests["user_name"] = elicit_request("What is your name?", NAME_SCHEMA)
    answers = context.ask(requests) if requests else {}
    return f"Answered: {', '.join(sorted(answers)) or 'nothing to ask'}"


@site.tool(
    description="Echoes a region that the client must also send as the Mcp-Param-Region HTTP header (SEP-2243).",
    input_schema={
        "type": "object",
        "properties": {"region": {"type": "string", "description": "A region name", "x-mcp-header": "Region"}},
        "required": ["region"],
        "additionalProperties": False,
    },
    read_only=True,
)
def test_custom_header(request, data):
    return f"Region: {data['region']}"


# -- resources ---------------------------------------------------------------------------------------


@site.resource("test://static-text", name="static-text", description="A static text resource for testing.")
def static_text(request):
    return "This is the content of the static text resource."


@site.resource(
    "test://static-binary",
    name="static-binary",
    description="A static binary resource (a PNG image).",
    mime_type="image/png",
)
def static_binary(request):
    return PNG


@site.resource("test://watched-resource", name="watched-resource", description="A resource that can be subscribed to.")
def watched_resource(request):
    return "Watched resource content"


@site.resource(
    "test://example-resource", name="example-resource", description="An example resource, embedded by a prompt."
)
def example_resource(request):
    return "This is an example resource for prompts."


@site.resource_template(
    "test://template/{id}/data",
    name="template-data",
    description="A resource template whose {id} is substituted into the data.",
    mime_type="application/json",
)
def template_data(request, id):
    return {"id": id, "templateTest": True, "data": f"Data for ID: {id}"}


# -- prompts -----------------------------------------------------------------------------------------


@site.prompt(description="A simple prompt without arguments.")
def test_simple_prompt(request):
    return "This is a simple prompt for testing."


def _complete_prompt_argument(request, argument, value):
    suggestions = {"arg1": ["paris", "park", "party", "test", "testing"], "arg2": ["alpha", "beta", "gamma"]}
    return [s for s in suggestions.get(argument, []) if s.startswith(value)]


@site.prompt(
    description="A prompt with two required arguments, with completion of their values.",
    arguments=[("arg1", "First test argument", True), ("arg2", "Second test argument", True)],
    complete=_complete_prompt_argument,
)
def test_prompt_with_arguments(request, arg1, arg2):
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@site.prompt(
    description="A prompt that embeds the resource it is given.",
    arguments=[("resourceUri", "URI of the resource to embed", True)],
)
def test_prompt_with_embedded_resource(request, resourceUri):  # noqa: N803 - the suite's argument name
    return [
        (
            "user",
            EmbeddedResource(uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."),
        ),
        ("user", "Please process the embedded resource above."),
    ]


@site.prompt(
    description="A prompt that first asks the user for context by elicitation (multi-round-trip).", context=True
)
def test_input_required_result_prompt(request, context):
    answer = context.elicit(
        "What context should the prompt use?",
        {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]},
        key="context",
    )
    return f"Use this context: {(answer.content or {}).get('context', '')}"


@site.prompt(description="A prompt that includes image content.")
def test_prompt_with_image(request):
    return [("user", Image(PNG, "image/png")), ("user", "Please analyze the image above.")]


# -- fixtures of the pre-release suite's tasks-* scenarios (the MCP tasks extension, SEP-2663) -------
# The suite's task-supporting tools are reports: they run on a Celery worker, and clients that
# declare the extension get an MCP task to poll (the others a job). Each needs a generous rate,
# since the suite calls them dozens of times: see THROTTLE_RATES in tests.conformance_settings.
SLOW_COMPUTE_STEP_SECONDS = 0.1
CONFIRMATION_SCHEMA = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean", "description": "True to go ahead"}},
    "required": ["confirm"],
}


@site.tool(
    description="Greets someone by name, at once (never a task): returns 'Hello, {name}!'.",
    input_schema={
        "type": "object",
        "properties": {"name": {"type": "string", "description": "Who to greet"}},
        "required": ["name"],
        "additionalProperties": False,
    },
    read_only=True,
)
def greet(request, data):
    return f"Hello, {data['name']}!"


@site.report(
    description="Sleeps the given number of seconds in the background, then says so; cancellable at any moment.",
    input_schema={
        "type": "object",
        "properties": {
            "seconds": {"type": "number", "minimum": 0, "maximum": 300, "description": "How long to sleep"},
            "label": {"type": "string", "description": "A label echoed in the result"},
        },
        "required": ["seconds"],
    },
)
def slow_compute(request, data, job):
    seconds = data["seconds"]
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        # progress() raises JobCancelled once the task is cancelled (it looks every 0.5 s), so a
        # cancelled task frees its worker at once instead of after `seconds`.
        job.progress(seconds - left, seconds, f"Computing {data.get('label', '')}")
        time.sleep(min(SLOW_COMPUTE_STEP_SECONDS, left))
    return f"Computed {data.get('label', '')} in {seconds:g} s."


@site.report(
    description="Always ends with a tool execution error (a task completed with isError); a task only.",
    task_support="required",
)
def failing_job(request, data, job):
    raise ToolError("failing_job failed on purpose: a tool execution error.")


@site.report(description="Always ends with a JSON-RPC error (a task that failed).")
def protocol_error_job(request, data, job):
    raise MCPError(code=INTERNAL_ERROR, message="protocol_error_job failed on purpose: a JSON-RPC error.")


@site.report(
    description="Asks the user to confirm by elicitation before 'deleting' a file (nothing is deleted).",
    input_schema={
        "type": "object",
        "properties": {"filename": {"type": "string", "description": "The file to delete"}},
        "required": ["filename"],
    },
)
def confirm_delete(request, data, job):
    answer = job.elicit(f"Delete {data['filename']}?", CONFIRMATION_SCHEMA, key="confirm_delete")
    confirmed = answer.get("action") == "accept" and (answer.get("content") or {}).get("confirm")
    return f"{data['filename']} {'deleted' if confirmed else 'kept'}."


@site.report(description="Asks two questions at once (a name and a confirmation), answerable one at a time.")
def multi_input(request, data, job):
    answers = job.ask(
        {
            "name": elicit_request("What is your name?", NAME_SCHEMA),
            "confirm": elicit_request("Shall I go ahead?", CONFIRMATION_SCHEMA),
        }
    )
    name = (answers["name"].get("content") or {}).get("name")
    return f"Hello, {name}: confirmation {answers['confirm'].get('action')}."


def ask_user_name(request, data, context):
    # On the tools/call itself (a multi-round trip on 2026-07-28), before the task is created.
    context.elicit("What is your name?", NAME_SCHEMA, key="user_name")


@site.report(
    description="Asks for the user's name on the call itself, then greets them from a task.",
    task_support="required",
    prepare=ask_user_name,
)
def test_tool_with_task(request, data, job):
    answer = job.input_responses["user_name"]
    return f"Hello, {(answer.get('content') or {}).get('name', 'stranger')}, from a task!"
