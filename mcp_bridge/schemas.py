"""JSON Schema for tool inputs and outputs, derived from DRF serializers.

DRF's OpenAPI AutoSchema already maps every serializer field (help_text -> description,
choices -> enum, validators -> bounds); this module turns its OpenAPI 3.0 dialect into the
JSON Schema 2020-12 that MCP clients read.
"""

import copy
from decimal import Decimal

from rest_framework import serializers
from rest_framework.schemas.openapi import AutoSchema

_mapper = AutoSchema()


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
    schema = dict(pk_schema(model_field.related_model))
    schema.pop("minimum", None)
    schema.pop("maximum", None)
    return schema


def field_schema(field, *, for_input):
    """Return the JSON Schema of one serializer field."""
    if isinstance(field, serializers.PrimaryKeyRelatedField) and field.queryset is None and getattr(field.parent, "Meta", None):
        # A read-only relation has no queryset for DRF to infer from; the id has the related pk's type.
        schema = _related_pk_schema(field)
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
    if isinstance(field, serializers.DecimalField):
        schema.pop("pattern", None)
        if not for_input:
            # Output decimals are exact strings; numeric bounds do not apply to strings, and
            # "decimal" is not a JSON Schema format clients know.
            for key in ("minimum", "maximum", "multipleOf", "format"):
                schema.pop(key, None)
            schema["pattern"] = r"^-?\d+(\.\d+)?$"
    for key in ("minimum", "maximum", "multipleOf"):
        if isinstance(schema.get(key), Decimal):
            schema[key] = float(schema[key])
    return _nullable(schema)


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
    """Return the object schema of what *serializer* outputs (its readable fields)."""
    properties = {}
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        properties[name] = field_schema(field, for_input=False)
    return {"type": "object", "properties": properties, "required": list(properties)}


def list_schema(item_schema, *, paginated=True):
    """Return the schema of a page of items."""
    schema = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": copy.deepcopy(item_schema)}},
        "required": ["items"],
    }
    if paginated:
        schema["properties"]["next_cursor"] = {
            "type": ["string", "null"],
            "description": "Pass as `cursor` to get the next page; null when this is the last page.",
        }
        schema["required"].append("next_cursor")
    return schema
