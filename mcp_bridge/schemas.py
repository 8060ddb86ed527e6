"""JSON Schema for tool inputs and outputs, derived from DRF serializers.

DRF's OpenAPI AutoSchema already maps every serializer field (help_text -> description,
choices -> enum, validators -> bounds); this module turns its OpenAPI 3.0 dialect into the
JSON Schema 2020-12 that MCP clients read.

Input schemas state the rules a new value must follow. Output schemas describe what the server
can actually send: a database holds what it holds (legacy rows, imports, bulk writes that skipped
validation), and clients such as the MCP Inspector and the TypeScript SDK reject a whole result
when one stored value breaks an assertion. So output schemas keep types and required keys, and
say the rest (choices, formats) in the description.
"""

import copy
from decimal import Decimal

from rest_framework import serializers
from rest_framework.schemas.openapi import AutoSchema
from rest_framework.settings import api_settings

_mapper = AutoSchema()

#: The keys a result cut to fit MCP_BRIDGE['RESULT_MAX_CHARS'] carries (budgets.py); optional, so a
#: client that knows nothing of them reads every result as before.
TRUNCATED, TRUNCATION = "truncated", "truncation"
BUDGET_PROPERTIES = {
    TRUNCATED: {
        "type": "boolean",
        "description": "Present, and true, only when this result was cut to fit the server's size limit; "
        "`truncation` says what was left out and how to get it.",
    },
    TRUNCATION: {
        "type": "object",
        "description": "What was cut, when `truncated` is true.",
        "properties": {
            "max_chars": {"type": "integer", "description": "The most characters a result may have."},
            "list": {
                "type": ["string", "null"],
                "description": "The list of records cut at a record boundary (e.g. `items`); null if none was.",
            },
            "returned": {"type": ["integer", "null"], "description": "How many records of that list are returned."},
            "omitted": {"type": ["integer", "null"], "description": "How many records of that list were left out."},
            "shortened": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Texts shortened to fit (paths such as `items[0].body`, at most 20); each ends "
                "with a marker saying how many characters were left out.",
            },
            "hint": {"type": "string", "description": "What to call to get the rest."},
        },
        "required": ["max_chars", "list", "returned", "omitted", "shortened", "hint"],
    },
}

# A decimal string as a model writes it: ASCII digits only (Python's `\d` and `Decimal()` also
# accept other scripts' digits, underscores and exponents).
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"

# Keywords that assert something about a value which a stored row may not satisfy.
OUTPUT_ASSERTIONS = (
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "enum",
    "minItems",
    "maxItems",
    "uniqueItems",
)
FORMAT_DESCRIPTIONS = {
    "date-time": 'An ISO 8601 date and time, e.g. "2026-01-31T09:30:00Z".',
    "date": 'An ISO 8601 date, e.g. "2026-01-31".',
    "time": 'An ISO 8601 time, e.g. "09:30:00".',
    "email": "An email address.",
    "uri": "A URL.",
    "uuid": "A UUID.",
    "ipv4": "An IPv4 address.",
    "ipv6": "An IPv6 address.",
}
# Keywords whose value is a schema, a list of schemas, or a mapping of names to schemas.
_SUBSCHEMA = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "propertyNames",
)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def _nullable(schema):
    """Rewrite OpenAPI's `nullable: true` as a JSON Schema type union that admits null."""
    if not schema.pop("nullable", False):
        return schema
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    return schema


def _related_pk_schema(field):
    from .filters import pk_schema

    model = field.parent.Meta.model
    model_field = model._meta.get_field(field.source)
    return dict(pk_schema(model_field.related_model))


def _with_description(schema, text):
    description = schema.get("description", "")
    schema["description"] = f"{description} {text}" if description else text


def as_output_schema(schema):
    """Return a copy of *schema* without assertions a stored value can break.

    Types and required keys stay (the serializer guarantees them); choices and formats move
    into the description, where they still guide a model without failing a client's validation.
    """
    schema = dict(schema)
    for key in _SUBSCHEMA:
        if isinstance(schema.get(key), dict):
            schema[key] = as_output_schema(schema[key])
        elif isinstance(schema.get(key), list):  # `items` as a tuple (before 2020-12)
            schema[key] = [as_output_schema(inner) for inner in schema[key]]
    for key in _SUBSCHEMA_LISTS:
        if key in schema:
            schema[key] = [as_output_schema(inner) for inner in schema[key]]
    for key in _SUBSCHEMA_MAPS:
        if key in schema:
            schema[key] = {name: as_output_schema(inner) for name, inner in schema[key].items()}
    choices = [value for value in schema.get("enum", ()) if value is not None]
    if choices:
        _with_description(schema, f"One of: {', '.join(map(str, choices))}.")
    if schema.get("format") in FORMAT_DESCRIPTIONS:
        _with_description(schema, FORMAT_DESCRIPTIONS[schema["format"]])
    for key in OUTPUT_ASSERTIONS:
        schema.pop(key, None)
    return schema


def _decimal_example(field):
    if field.decimal_places is None:
        return "12.5"
    return str(Decimal("12.5").quantize(Decimal(1).scaleb(-field.decimal_places)))


def field_schema(field, *, for_input):
    """Return the JSON Schema of one serializer field (for output: see `as_output_schema`)."""
    if (
        isinstance(field, serializers.PrimaryKeyRelatedField)
        and field.queryset is None
        and getattr(field.parent, "Meta", None)
    ):
        # A read-only relation has no queryset for DRF to infer from; the id has the related pk's type.
        schema = _related_pk_schema(field)
    elif (
        isinstance(field, serializers.ManyRelatedField)
        and isinstance(field.child_relation, serializers.PrimaryKeyRelatedField)
        and field.child_relation.queryset is None
        and getattr(field.parent, "Meta", None)
    ):
        schema = {"type": "array", "items": _related_pk_schema(field)}  # the same, for a list of ids
    else:
        schema = _mapper.map_field(field)
    if isinstance(field, serializers.DecimalField) and for_input:
        # Models send numbers; DRF accepts either and keeps the exact decimal.
        schema = {k: v for k, v in schema.items() if k not in {"format", "multipleOf"}}
        schema["type"] = ["number", "string"]
    if field.allow_null:
        schema["nullable"] = True
    if field.help_text:
        schema["description"] = str(field.help_text)
    elif field.label and not for_input:
        schema.setdefault("title", str(field.label))
    if for_input and field.default is not serializers.empty and not callable(field.default):
        schema["default"] = field.default
    _mapper.map_field_validators(field, schema)
    if isinstance(field, serializers.DecimalField) and for_input:
        # A string must be canonical: DRF would accept whatever Decimal() parses ("١٢", "1_000", "1e3").
        schema["pattern"] = DECIMAL_PATTERN
        _with_description(schema, f'A number, or a decimal string such as "{_decimal_example(field)}".')
    for key in ("minimum", "maximum", "multipleOf"):
        if isinstance(schema.get(key), Decimal):
            schema[key] = float(schema[key])
    schema = _nullable(schema)
    if for_input:
        return schema
    if isinstance(field, serializers.DecimalField) and getattr(
        field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING
    ):
        _with_description(schema, f'An exact decimal string, e.g. "{_decimal_example(field)}".')
    return as_output_schema(schema)


def input_schema(serializer, *, partial=False, extra_properties=None, extra_required=()):
    """Return a flat object schema of *serializer*'s writable fields.

    Unknown arguments are rejected (`additionalProperties: false`): a misspelt argument that is
    silently ignored is an invisible bug for a model; an error lets it correct itself.
    """
    properties = dict(extra_properties or {})
    required = list(extra_required)
    for name, field in serializer.fields.items():
        if field.read_only or isinstance(field, serializers.HiddenField):
            continue
        properties[name] = field_schema(field, for_input=True)
        if field.required and not partial:
            required.append(name)
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def output_schema(serializer):
    """Return the object schema of what *serializer* outputs (its readable fields), without assertions."""
    properties = {}
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        properties[name] = field_schema(field, for_input=False)
    return {"type": "object", "properties": properties, "required": list(properties)}


def with_budget_keys(schema):
    """Return *schema* declaring the optional keys of a result cut to fit the size limit (BUDGET_PROPERTIES).

    Only object schemas with properties get them; a schema whose own property has one of the names
    keeps its own (check mcp_bridge.E322 reports it).
    """
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return schema
    missing = {key: value for key, value in BUDGET_PROPERTIES.items() if key not in schema["properties"]}
    if not missing:
        return schema
    return {**schema, "properties": {**schema["properties"], **copy.deepcopy(missing)}}


def list_schema(item_schema, *, paginated=True, always_present=None):
    """Return the schema of a page of items.

    *always_present* names the item keys every item has (by default all of them); a search that
    takes a `fields` projection returns fewer.
    """
    items = copy.deepcopy(item_schema)
    if always_present is not None:
        items["required"] = [name for name in items.get("required", []) if name in always_present]
        if not items["required"]:
            del items["required"]
    schema = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": items}},
        "required": ["items"],
    }
    if paginated:
        schema["properties"]["next_cursor"] = {
            "type": ["string", "null"],
            "description": "Pass as `cursor` to get the next page, with the other arguments unchanged; null when "
            "this is the last page. A page cut to fit the size limit (`truncated`) has one that resumes right "
            "after its last item.",
        }
        schema["required"].append("next_cursor")
    return schema
