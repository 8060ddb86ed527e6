"""Clients check what they receive against what the server declares; so do these tests.

Every read tool, resource template and prompt of the demo is called through a real MCP client, in
both protocol eras, and each real response is validated with a strict validator that also checks
formats, as the MCP Inspector and the TypeScript SDK do with Ajv (tests/test_external_clients.py
runs those). The data includes legacy rows that today's validation refuses (tests/legacy_rows.py):
an output schema describes what the server can send, not what a new row must look like.

Input schemas keep their constraints; a decimal argument is a number or a canonical decimal string.
"""

import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from jsonschema import Draft202012Validator

from customers.models import Customer, Order, Refund
from mcp_bridge.reports import JobResourceTemplate
from mcp_bridge.resources import RelatedResourceTemplate
from mcp_bridge.sites import site

from .conftest import mcp_client
from .legacy_rows import insert_legacy_rows

pytestmark = pytest.mark.anyio

# GetPromptResult as the MCP specification defines it (2025-11-25 and 2026-07-28). Neither the `mcp`
# nor the `mcp_types` package ships the specification's JSON schema (mcp_types' models are generated
# from it, and ignore unknown keys), so the shape is written out here, closed: no key it does not name.
_META = {"type": "object"}
_ANNOTATIONS = {
    "type": "object",
    "properties": {
        "audience": {"type": "array", "items": {"enum": ["user", "assistant"]}},
        "priority": {"type": "number", "minimum": 0, "maximum": 1},
        "lastModified": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": False,
}


def _block(kind, required, **properties):
    return {
        "type": "object",
        "properties": {"type": {"const": kind}, "annotations": _ANNOTATIONS, "_meta": _META, **properties},
        "required": ["type", *required],
        "additionalProperties": False,
    }


_RESOURCE_CONTENTS = {
    "type": "object",
    "properties": {
        "uri": {"type": "string", "format": "uri"},
        "mimeType": {"type": "string"},
        "text": {"type": "string"},
        "blob": {"type": "string"},
        "_meta": _META,
    },
    "required": ["uri"],
    "oneOf": [{"required": ["text"]}, {"required": ["blob"]}],
    "additionalProperties": False,
}
PROMPT_RESULT_SCHEMA = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "role": {"enum": ["user", "assistant"]},
                    "content": {
                        "oneOf": [
                            _block("text", ["text"], text={"type": "string"}),
                            _block("image", ["data", "mimeType"], data={"type": "string"}, mimeType={"type": "string"}),
                            _block("audio", ["data", "mimeType"], data={"type": "string"}, mimeType={"type": "string"}),
                            _block(
                                "resource_link",
                                ["uri", "name"],
                                uri={"type": "string", "format": "uri"},
                                name={"type": "string"},
                                title={"type": "string"},
                                description={"type": "string"},
                                mimeType={"type": "string"},
                                size={"type": "integer"},
                            ),
                            _block("resource", ["resource"], resource=_RESOURCE_CONTENTS),
                        ]
                    },
                },
                "required": ["role", "content"],
                "additionalProperties": False,
            },
        },
        "resultType": {"const": "complete"},  # 2026-07-28 results say what they are
        "_meta": _META,
    },
    "required": ["messages"],
    "additionalProperties": False,
}


def closed(schema):
    """*schema* with `additionalProperties: false` on every object that lists its properties.

    Output schemas leave objects open (a client must tolerate new keys); here the server must send
    exactly the keys it declares.
    """
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {name: closed(inner) for name, inner in schema["properties"].items()}
        schema.setdefault("additionalProperties", False)
    if isinstance(schema.get("items"), dict):
        schema["items"] = closed(schema["items"])
    return schema


def assert_valid(schema, instance, what):
    """Validate as strictly as a client may: the schema itself, every keyword, every known format."""
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(closed(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [
        f"/{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(instance)
    ]
    assert not errors, f"{what} does not match its declared schema:\n" + "\n".join(errors)


@pytest.fixture
def legacy(demo):
    return insert_legacy_rows()


@sync_to_async
def sample_ids(model, legacy):
    """The legacy row's id and a few seeded ones (the oldest and the newest) of *model*."""
    ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
    return sorted({legacy[model], *ids[:3], *ids[-4:]})


async def test_read_tools_send_what_their_output_schemas_declare(demo, legacy, mode):
    registry = site.registry
    async with mcp_client(demo["admin"], mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        # The generated read tools (reports and get_job_status are read-only too, but declare no output schema).
        read_tools = [
            tool
            for tool in tools.values()
            if tool.annotations.read_only_hint and registry.tools[tool.name].kind in ("search", "get")
        ]
        assert {tool.name.split("_")[0] for tool in read_tools} == {"search", "get"}
        assert len(read_tools) == len([name for name in registry.tools if name.startswith(("search_", "get_"))]) - 1
        for tool in read_tools:
            assert tool.output_schema, f"{tool.name} declares no output schema"
            model = registry.tools[tool.name].exposure.model
            if tool.name.startswith("search_"):
                calls = [{}]
            else:
                calls = [{"id": pk} for pk in await sample_ids(model, legacy)]
            for arguments in calls:
                result = await client.call_tool(tool.name, arguments)
                assert not result.is_error, f"{tool.name} {arguments}: {result.content[0].text}"
                assert_valid(tool.output_schema, result.structured_content, f"{tool.name} {arguments}")
                assert json.loads(result.content[0].text) == result.structured_content
                if tool.name.startswith("search_"):  # the legacy row leads the first page
                    assert result.structured_content["items"][0]["id"] == legacy[model], tool.name


async def test_resources_send_what_the_matching_tools_declare(demo, legacy, mode):
    """`customers://customer/{id}` sends what get_customer sends; `.../orders` the items search_orders sends."""
    registry = {template.uri_template: template for template in site.registry.resource_templates}
    async with mcp_client(demo["admin"], mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        templates = (await client.list_resource_templates()).resource_templates
        assert {template.uri_template for template in templates} == set(registry)
        for listed in templates:
            template = registry[listed.uri_template]
            if isinstance(template, JobResourceTemplate):
                continue  # a job's status: tests/test_reports_inprocess.py
            if isinstance(template, RelatedResourceTemplate):
                page = tools[template.child_search_tool.name].output_schema
                schema = {"type": "object", "properties": {"items": page["properties"]["items"]}, "required": ["items"]}
            else:
                schema = tools[template.get_tool.name].output_schema
            for pk in await sample_ids(template.exposure.model, legacy):
                uri = listed.uri_template.replace("{id}", str(pk))
                [contents] = (await client.read_resource(uri)).contents
                assert contents.uri == uri and contents.mime_type == "application/json"
                assert_valid(schema, json.loads(contents.text), uri)


async def test_prompts_send_what_the_specification_declares(demo, legacy, mode):
    async with mcp_client(demo["admin"], mode) as client:
        prompts = (await client.list_prompts()).prompts
        assert prompts
        for prompt in prompts:
            # The demo's prompts take ids; the legacy customer's is as real as any other.
            arguments = {argument.name: str(legacy[Customer]) for argument in prompt.arguments or ()}
            result = await client.get_prompt(prompt.name, arguments)
            payload = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            assert_valid(PROMPT_RESULT_SCHEMA, payload, f"prompt {prompt.name}")
            assert payload["messages"], prompt.name


# -- decimal arguments -------------------------------------------------------------------------------
# DRF's DecimalField takes whatever Decimal() parses: other scripts' digits, underscores, exponents,
# surrounding spaces. A model that sends one of those most likely meant something else.
NOT_CANONICAL = ["١٢", "１２", "1_000", "1e3", " 12", "12 ", "+12", "12.", ".5", "12,50", "NaN", "Infinity"]


@sync_to_async
def refundable_order():
    return (
        Order.objects.filter(customer__is_internal=False, status__in=Order.REFUNDABLE, refunded_total=0, total__gt=100)
        .order_by("pk")
        .first()
    )


async def test_decimal_arguments_are_a_number_or_a_canonical_string(demo, mode):
    order = await refundable_order()
    async with mcp_client(demo["support_agent"], mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        amount_schema = tools["issue_refund"].input_schema["properties"]["amount"]
        assert amount_schema["type"] == ["number", "string"] and amount_schema["pattern"] == r"^-?[0-9]+(\.[0-9]+)?$"

        for amount in NOT_CANONICAL:
            result = await client.call_tool(
                "issue_refund", {"order_id": order.pk, "amount": amount, "reason": "goodwill"}
            )
            text = result.content[0].text
            assert result.is_error and result.structured_content is None, (amount, text)
            assert "'amount' must be a number, or a decimal string of ASCII digits such as \"12.50\"" in text, text
            assert f"(got {json.dumps(amount, ensure_ascii=False)})" in text, text
        assert not await Refund.objects.filter(order=order).aexists()

        for amount, refunded in ((12.5, "12.50"), ("12.50", "12.50"), (3, "3.00"), ("0.25", "0.25")):
            result = await client.call_tool(
                "issue_refund", {"order_id": order.pk, "amount": amount, "reason": "goodwill"}
            )
            assert not result.is_error, result.content[0].text
            assert result.structured_content["amount"] == refunded
    amounts = [refund.amount async for refund in Refund.objects.filter(order=order).order_by("pk")]
    assert amounts == [Decimal("12.50"), Decimal("12.50"), Decimal("3.00"), Decimal("0.25")]
