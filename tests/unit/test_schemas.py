"""schemas.py: JSON Schema for tool inputs (the rules a new value follows) and outputs (what a row can hold)."""

import copy

import jsonschema
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from rest_framework import serializers

from mcp_bridge.schemas import as_output_schema, input_schema, list_schema, output_schema


class Order(serializers.Serializer):
    name = serializers.CharField(max_length=20, help_text="The name.")
    tier = serializers.ChoiceField(choices=[("gold", "Gold"), ("silver", "Silver")], allow_null=True)
    amount = serializers.DecimalField(max_digits=6, decimal_places=2, min_value=0)
    email = serializers.EmailField(required=False, default="x@example.com")
    created = serializers.DateTimeField(read_only=True)
    secret = serializers.CharField(write_only=True)
    count = serializers.IntegerField(min_value=1, max_value=10)
    owner = serializers.HiddenField(default=None)


def test_input_schema_states_the_rules_of_writable_fields():
    schema = input_schema(Order())
    assert schema["additionalProperties"] is False  # a misspelt argument is an error, not silently ignored
    assert set(schema["properties"]) == {
        "name",
        "tier",
        "amount",
        "email",
        "secret",
        "count",
    }  # not read-only, not hidden
    assert schema["required"] == ["name", "tier", "amount", "secret", "count"]
    assert schema["properties"]["name"] == {"type": "string", "description": "The name.", "maxLength": 20}
    assert schema["properties"]["tier"] == {"enum": ["gold", "silver", None], "type": ["string", "null"]}
    assert schema["properties"]["email"] == {"type": "string", "format": "email", "default": "x@example.com"}
    assert schema["properties"]["count"] == {"type": "integer", "maximum": 10, "minimum": 1}


def test_a_decimal_input_is_a_number_or_a_canonical_decimal_string():
    amount = input_schema(Order())["properties"]["amount"]
    assert amount["type"] == ["number", "string"]
    assert amount["description"] == 'A number, or a decimal string such as "12.50".'
    validator = jsonschema.Draft202012Validator(amount)
    for value in (12.5, "12.50", "-3", "0.1"):
        assert validator.is_valid(value), value
    for value in ("1e3", "1_000", "١٢", " 12", "12."):  # Decimal() reads them; a model writes none of them
        assert not validator.is_valid(value), value


def test_partial_input_requires_nothing_and_extra_arguments_come_first():
    schema = input_schema(Order(), partial=True, extra_properties={"id": {"type": "integer"}}, extra_required=("id",))
    assert list(schema["properties"])[0] == "id"
    assert schema["required"] == ["id"]


def test_output_schema_describes_readable_fields_without_assertions():
    schema = output_schema(Order())
    # Not the write-only fields (a HiddenField is one).
    assert schema["required"] == list(schema["properties"]) == ["name", "tier", "amount", "email", "created", "count"]
    assert schema["properties"]["name"] == {"type": "string", "description": "The name."}  # no maxLength
    assert schema["properties"]["tier"] == {
        "type": ["string", "null"],
        "title": "Tier",
        "description": "One of: gold, silver.",
    }
    assert schema["properties"]["amount"] == {
        "type": "string",
        "title": "Amount",
        "description": 'An exact decimal string, e.g. "12.50".',
    }
    assert schema["properties"]["created"]["description"] == 'An ISO 8601 date and time, e.g. "2026-01-31T09:30:00Z".'
    assert "format" not in schema["properties"]["created"]


def test_output_schema_accepts_stored_values_that_break_the_input_rules():
    """A legacy row (a longer name, a retired tier, a count of 0) still validates: clients reject the whole result otherwise."""
    row = {
        "name": "x" * 50,
        "tier": "bronze",
        "amount": "99999.999",
        "email": "not an email",
        "created": "yesterday",
        "count": 0,
    }
    schema = output_schema(Order())
    jsonschema.validate(row, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**row, "count": "zero"}, schema)  # types still hold


def test_as_output_schema_reaches_every_subschema_and_leaves_its_argument_alone():
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"], "maxLength": 3}}},
        "anyOf": [{"type": "string", "format": "uuid"}, {"type": "integer", "minimum": 1}],
        "$defs": {"when": {"type": "string", "format": "date", "pattern": "^[0-9-]+$"}},
        "additionalProperties": {"type": "string", "minLength": 1},
    }
    original = copy.deepcopy(schema)
    assert as_output_schema(schema) == {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string", "description": "One of: a, b."}}},
        "anyOf": [{"type": "string", "description": "A UUID."}, {"type": "integer"}],
        "$defs": {"when": {"type": "string", "description": 'An ISO 8601 date, e.g. "2026-01-31".'}},
        "additionalProperties": {"type": "string"},
    }
    assert schema == original


def test_as_output_schema_keeps_a_description_and_leaves_null_out_of_the_choices():
    assert as_output_schema({"type": ["string", "null"], "enum": ["a", None], "description": "The tier."}) == {
        "type": ["string", "null"],
        "description": "The tier. One of: a.",
    }


def test_a_read_only_relation_has_the_type_of_the_related_primary_key():
    class EntrySerializer(serializers.ModelSerializer):
        class Meta:
            model = LogEntry
            fields = ["id", "user", "content_type"]
            read_only_fields = ["user"]

    properties = output_schema(EntrySerializer())["properties"]
    assert properties["user"]["type"] == "integer"  # DRF alone says "string": it has no queryset to look at
    assert properties["content_type"]["type"] == ["integer", "null"]


def test_model_serializer_help_text_becomes_the_description():
    class UserSerializer(serializers.ModelSerializer):
        class Meta:
            model = User
            fields = ["username", "is_staff"]

    properties = input_schema(UserSerializer())["properties"]
    assert properties["username"]["description"] == str(User._meta.get_field("username").help_text)
    assert properties["is_staff"]["type"] == "boolean"


def test_list_schema_pages_unless_told_otherwise_and_copies_the_item_schema():
    item = {"type": "object", "properties": {"id": {"type": "integer"}}}
    paged = list_schema(item)
    assert paged["required"] == ["items", "next_cursor"]
    assert paged["properties"]["next_cursor"]["type"] == ["string", "null"]
    assert paged["properties"]["items"] == {"type": "array", "items": item}
    assert paged["properties"]["items"]["items"] is not item  # later edits of one tool's schema reach no other
    assert list_schema(item, paginated=False) == {
        "type": "object",
        "properties": {"items": {"type": "array", "items": item}},
        "required": ["items"],
    }


def test_a_read_only_many_relation_lists_ids_of_the_related_primary_key_type():
    from django.contrib.auth.models import Group

    from mcp_bridge.serializers import build_model_serializer

    serializer_class = build_model_serializer(Group, ["id", "name", "permissions"], read_only_fields=["permissions"])
    permissions = output_schema(serializer_class())["properties"]["permissions"]
    assert permissions["type"] == "array"
    assert permissions["items"]["type"] == "integer"
