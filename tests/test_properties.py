"""Property-based tests: arguments generated from every tool's own input schema, valid and invalid.

Every tool the superuser sees in tools/list (the whole registry) is called through the SDK's
in-process client, as the superuser and as each restricted demo user (who sees only some of the
tools: the others must answer like a missing tool). For every call:

- no internal error: no "failed unexpectedly" text, no JSON-RPC -32603;
- no traceback text anywhere in the answer;
- a refused call (isError, or a JSON-RPC error) leaves every row of the demo tables, the admin log
  and the jobs table exactly as it was;
- arguments the schema itself rejects, and strings holding NUL or a lone surrogate, are refused.

Valid arguments come from hypothesis_jsonschema.from_schema(tool.inputSchema); invalid ones are a
valid set with one mutation: a wrong type, a missing required argument, an unknown key, a huge
string, NUL or a lone surrogate, deep nesting, an out-of-range value or a value outside the enum.

A call that succeeds may change data (delete_customer really deletes): the rows are then put back
as they were, so every example starts from the same seeded data and failures replay exactly.
The tools' Django work runs on worker threads with their own connections, so a rollback in the
test's transaction could not undo it; restoring the rows is the real equivalent.

Runs in CI with few examples and a fixed seed; HYPOTHESIS_PROFILE=thorough runs many more.
"""

import contextlib
import json
import os
import re
from types import SimpleNamespace

import jsonschema
import pytest
from anyio.from_thread import start_blocking_portal
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.db import transaction
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, CallToolResult, TextContent

from customers.models import Customer, Order, Refund, SupportTicket
from mcp_bridge import audit
from mcp_bridge.authentication import local_principal
from mcp_bridge.server import current_principal
from mcp_bridge.sites import site
from tasks.models import Job

from .conftest import ROLES, mcp_client

# The demo fixture seeds once per test; the examples share it on purpose (see the module docstring).
_SHARED = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
# CI: fixed seed, no shrinking (each example is twenty calls: shrinking one failure takes minutes;
# the assertion message already names the tool and its arguments). Locally, the thorough profile
# runs many more examples and shrinks a failure to a minimal one.
settings.register_profile(
    "mcp_bridge_properties",
    max_examples=20,
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    **_SHARED,
)
settings.register_profile("thorough", max_examples=150, **_SHARED)
PROFILE = settings.get_profile(
    "thorough" if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else "mcp_bridge_properties"
)

#: Parents before children: the order rows are put back in.
RESTORED_MODELS = (Customer, Order, SupportTicket, Refund, LogEntry, Job)
TRACEBACK = re.compile(r"Traceback|File \"|line \d+, in")
JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


# -- the database: a full snapshot, and putting it back ------------------------------------------


def snapshot():
    """Every row of every demo model, the admin log and the jobs, all fields, in pk order."""
    return {model.__name__: list(model.objects.order_by("pk").values_list()) for model in RESTORED_MODELS}


def seeded_rows():
    return {model: list(model.objects.order_by("pk")) for model in RESTORED_MODELS}


def restore(rows):
    """Put back exactly *rows* (from seeded_rows()): what a successful write changed is undone."""
    audit.flush()  # buffered audit records may name admin log rows about to be replaced
    with transaction.atomic():
        for model in reversed(RESTORED_MODELS):
            model.objects.all().delete()
        for model in RESTORED_MODELS:
            model.objects.bulk_create(rows[model])


# -- strategies from each tool's input schema ----------------------------------------------------

_valid = {}
#: The keywords of a tool's top-level input schema that valid_arguments() understands.
OBJECT_KEYWORDS = {"type", "properties", "required", "additionalProperties", "minProperties", "maxProperties"}


def valid_arguments(schema, ids):
    """A strategy for argument objects *schema* accepts (built once per schema: building is slow).

    Each argument's value comes from hypothesis_jsonschema.from_schema(its own schema). The object
    around them is composed here: hypothesis-jsonschema 0.23.1 builds objects with a Hypothesis
    internal (conjecture.utils.many.more()) that Hypothesis 6.170 no longer has, so from_schema()
    of any object schema raises AttributeError. Every object is checked against the whole schema.
    """
    key = (json.dumps(schema, sort_keys=True), repr(ids))
    if key not in _valid:
        assert schema.get("type") == "object", f"a tool's input schema must be an object: {schema}"
        unknown = set(schema) - OBJECT_KEYWORDS - {"description", "title", "$schema"}
        assert not unknown, f"valid_arguments() does not handle {sorted(unknown)} yet: {schema}"
        assert schema.get("additionalProperties") is False, f"unknown arguments must be refused: {schema}"
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        assert required <= set(props), f"required arguments without a schema: {schema}"
        values = {name: argument_values(prop, ids) for name, prop in props.items()}
        objects = st.fixed_dictionaries(
            {name: values[name] for name in props if name in required},
            optional={name: values[name] for name in props if name not in required},
        )
        _valid[key] = objects.filter(jsonschema.Draft202012Validator(schema).is_valid)
    return _valid[key]


def argument_values(prop, ids):
    """from_schema(prop), with integers >= 1 often drawn from *ids* (the seeded rows' id range).

    Without them almost every id would answer "not found": tools must find rows to read, change
    and delete for the valid examples to test anything.
    """
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict) and "enum" not in prop:
        items = prop["items"]
        if items.get("type") == "integer" and items.get("minimum", 0) >= 1:
            seeded = st.lists(
                ids,
                min_size=prop.get("minItems", 0),
                max_size=min(prop.get("maxItems", 10), 10),
                unique=prop.get("uniqueItems", False),
            )
            return seeded | from_schema(prop)
    if declared_types(prop) >= {"integer"} and prop.get("minimum", 0) >= 1 and "enum" not in prop:
        return ids | from_schema(prop)
    if prop.get("type") == "integer" and "minimum" not in prop and "enum" not in prop:
        return ids | from_schema(prop)  # a foreign key without bounds
    return from_schema(prop)


def declared_types(prop):
    types = prop.get("type", list(JSON_TYPES))
    return {types} if isinstance(types, str) else set(types)


def value_of_type(json_type):
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "integer": st.integers(),
        # Not integral: 5.0 is an integer to JSON Schema.
        "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
        "string": st.text(max_size=20),
        "array": st.lists(st.integers(), max_size=3),
        "object": st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    }[json_type]


def wrong_type(prop):
    allowed = declared_types(prop)
    if "number" in allowed:
        allowed.add("integer")
    return st.sampled_from([t for t in JSON_TYPES if t not in allowed]).flatmap(value_of_type)


def out_of_range(prop):
    """Values just past the declared bounds, and far past them."""
    choices = []
    if "minimum" in prop:
        choices += [prop["minimum"] - 1, -(10**30), -(2**63) - 1]
    if "maximum" in prop:
        choices += [prop["maximum"] + 1, 10**30, 2**64, 1e308]
    if "maxLength" in prop:
        choices.append("x" * (prop["maxLength"] + 1))
    if "minLength" in prop:
        choices.append("")
    if "maxItems" in prop:
        choices.append(list(range(1, prop["maxItems"] + 2)))
    if "minItems" in prop:
        choices.append([])
    if "pattern" in prop:
        choices += ["2026-1", "12.5.5", "-", "１２.50"]  # fullwidth digits are not [0-9]
    return st.sampled_from(choices)


def bad_enum(prop):
    enum = prop["enum"]
    near = [value.upper() for value in enum] + [f" {value}" for value in enum] + [f"{value}\n" for value in enum]
    return st.sampled_from(near).filter(lambda v: v not in enum) | st.text(max_size=10).filter(lambda v: v not in enum)


def nested(depth, as_list):
    value = 1
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


HUGE_STRING = st.builds(lambda char, size: char * size, st.sampled_from("aé😀 "), st.sampled_from([10**5, 10**6]))
BAD_TEXT = st.builds(
    lambda before, bad, after: before + bad + after,
    st.text(max_size=5),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\udc00\ud800"]),
    st.text(max_size=5),
)
# The SDK client cannot serialize deeper than 254 levels (pydantic's limit), so neither can a test.
DEEP = st.builds(nested, st.sampled_from([32, 128, 250]), st.booleans())


@st.composite
def invalid_arguments(draw, schema, ids):
    """(kind, arguments, judged): a valid set of arguments for *schema* with one mutation of *kind*.

    *judged* is what the schema's verdict is asked of: *arguments*, except that a deeply nested
    value is judged by its two-level twin (jsonschema's messages recurse into the value's repr).
    """
    arguments = dict(draw(valid_arguments(schema, ids)))
    props = schema.get("properties", {})
    mutations = {
        "unknown key": None,
        "huge string": list(props),
        "bad text": list(props),
        "deep nesting": list(props),
        "wrong type": list(props),
        "missing required": schema.get("required", []),
        "out of range": [name for name, prop in props.items() if out_of_range_applies(prop)],
        "bad enum": [name for name, prop in props.items() if "enum" in prop],
    }
    kind = draw(st.sampled_from([kind for kind, names in mutations.items() if names is None or names]))
    if kind == "unknown key":
        key = draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in props))
        arguments[key] = draw(st.one_of(*(value_of_type(t) for t in JSON_TYPES)))
        return kind, arguments, arguments
    name = draw(st.sampled_from(mutations[kind]), label="argument")
    if kind == "missing required":
        del arguments[name]
    elif kind == "deep nesting":
        arguments[name] = draw(DEEP)
        twin = nested(2, isinstance(arguments[name], list))
        return kind, arguments, {**arguments, name: twin}
    else:
        prop = props[name]
        arguments[name] = draw(
            {
                "huge string": HUGE_STRING,
                "bad text": BAD_TEXT,
                "wrong type": st.deferred(lambda: wrong_type(prop)),
                "out of range": st.deferred(lambda: out_of_range(prop)),
                "bad enum": st.deferred(lambda: bad_enum(prop)),
            }[kind]
        )
    return kind, arguments, arguments


def out_of_range_applies(prop):
    bounds = ("minimum", "maximum", "maxLength", "minLength", "maxItems", "minItems", "pattern")
    return any(bound in prop for bound in bounds)


def schema_accepts(schema, arguments):
    return jsonschema.Draft202012Validator(schema).is_valid(arguments)


# -- calling a tool and checking the answer ------------------------------------------------------


def describe(tool, arguments):
    text = repr(arguments)
    return f"{tool.name}({text[:300]}{'...' if len(text) > 300 else ''})"


def assert_no_internals(text, where):
    assert "failed unexpectedly" not in text, f"internal error from {where}: {text[:1000]}"
    found = TRACEBACK.search(text)
    assert found is None, f"traceback text {found.group()!r} in the answer to {where}: {text[:1000]}"


def call(client, tool, arguments):
    """Call *tool*; return True if it was refused (isError or a JSON-RPC error), after checking the answer."""
    where = describe(tool, arguments)
    try:
        result = client.call_tool(tool.name, arguments)
    except MCPError as exc:
        assert exc.code != INTERNAL_ERROR, f"JSON-RPC internal error from {where}: {exc.message}"
        assert_no_internals(f"{exc.message} {exc.data!r}", where)
        return True
    texts = [getattr(block, "text", "") for block in result.content]
    assert_no_internals(" ".join(texts) + json.dumps(result.structured_content), where)
    return bool(result.is_error)


class BlockingClient:
    """The SDK's in-process client as a demo user, called from this (synchronous) test thread.

    Its event loop runs in a portal thread, so hypothesis draws (which may stop an example by
    raising) happen outside any event loop; the tools' Django work runs on the server's workers.
    """

    def __init__(self, portal, client, user):
        self.portal = portal
        self.client = client
        self.principal = local_principal(user)

    def call_tool(self, name, arguments):
        return self.portal.call(self.as_user, self.client.call_tool, name, arguments)

    def list_tools(self):
        return self.portal.call(self.as_user, self.client.list_tools)

    async def as_user(self, method, *args):
        # Each portal call is a new task: the caller is set in its context, as mcp_client() does.
        token = current_principal.set(self.principal)
        try:
            return await method(*args)
        finally:
            current_principal.reset(token)


@pytest.fixture
def client_as(demo):
    """client_as(role): a BlockingClient acting as that demo user, open until the test ends."""
    clients = {}
    with start_blocking_portal() as portal, contextlib.ExitStack() as stack:

        def client(role):
            if role not in clients:
                opened = stack.enter_context(portal.wrap_async_context_manager(mcp_client(demo[role])))
                clients[role] = BlockingClient(portal, opened, demo[role])
            return clients[role]

        yield client


class Summarized(tuple):
    """A fixture value hypothesis prints in a falsifying example: its label, not its whole contents."""

    def __new__(cls, label, items):
        instance = super().__new__(cls, items)
        instance.label = label
        return instance

    def __repr__(self):
        return self.label


@pytest.fixture
def tools(client_as):
    """Every tool in the registry, as the superuser's tools/list describes it."""
    listed = client_as("admin").list_tools().tools
    assert {tool.name for tool in listed} == set(site.registry.tools)
    assert any(tool.name.startswith("delete_") for tool in listed)
    return Summarized(f"<{len(listed)} tools of tools/list>", sorted(listed, key=lambda tool: tool.name))


@pytest.fixture
def seeded(demo):
    """The seeded rows and their snapshot: every example starts from them and returns to them."""
    assert set(RESTORED_MODELS) >= set(apps.get_app_config("customers").get_models()), "snapshot every demo model"
    assert demo["admin"].is_superuser and not demo["support_agent"].is_superuser
    found = seeded_rows()
    pks = [row.pk for model in (Customer, Order, SupportTicket, Refund) for row in found[model]]
    ids = st.integers(min(pks), max(pks))
    yield Summarized("<the seeded demo rows>", (found, snapshot(), ids))
    audit.flush()  # while the users and admin log rows the records name still exist


def check(client, seeded, tool, arguments, *, must_refuse):
    """Call *tool* and check every property; put the seeded rows back if a successful call changed them."""
    baseline_rows, baseline, _ = seeded
    refused = call(client, tool, arguments)
    where = describe(tool, arguments)
    if must_refuse:
        assert refused, f"{where} was accepted"
    after = snapshot()
    if refused:
        changed = [name for name, table in after.items() if table != baseline[name]]
        assert not changed, f"the refused call {where} changed {changed}"
    elif after != baseline:
        restore(baseline_rows)
        assert snapshot() == baseline, "restoring the seeded rows failed"


@pytest.mark.parametrize("role", ROLES)
@PROFILE
@given(data=st.data())
def test_valid_arguments_from_each_schema(client_as, seeded, tools, role, data):
    client = client_as(role)
    for tool in tools:
        arguments = data.draw(valid_arguments(tool.input_schema, seeded[2]), label=tool.name)
        check(client, seeded, tool, arguments, must_refuse=False)


@pytest.mark.parametrize("role", ROLES)
@PROFILE
@given(data=st.data())
def test_invalid_arguments_are_refused_cleanly(client_as, seeded, tools, role, data):
    client = client_as(role)
    for tool in tools:
        kind, arguments, judged = data.draw(invalid_arguments(tool.input_schema, seeded[2]), label=tool.name)
        must_refuse = kind == "bad text" or not schema_accepts(tool.input_schema, judged)
        check(client, seeded, tool, arguments, must_refuse=must_refuse)


#: Integers at the edges of what JSON, SQL and the schemas allow, tried in every numeric argument.
EDGE_NUMBERS = (0, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, 1e308, -1e308, 1e-300)


def test_edge_numbers_in_every_numeric_argument(client_as, seeded, tools):
    """Every integer and number argument of every tool, at each edge, in an otherwise minimal valid call.

    Random draws reach these edges rarely; this checks each one on every run.
    """
    client = client_as("admin")
    edges = settings(database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    for tool in tools:
        schema = tool.input_schema
        base = find(valid_arguments(schema, seeded[2]), lambda arguments: True, settings=edges)
        numeric = [name for name, prop in schema["properties"].items() if declared_types(prop) & {"integer", "number"}]
        for name in numeric:
            for value in EDGE_NUMBERS:
                arguments = {**base, name: value}
                check(client, seeded, tool, arguments, must_refuse=not schema_accepts(schema, arguments))


# -- the oracle itself: each property above fails when it should ---------------------------------


class ScriptedClient:
    """Answers every call with *answer* (a result, or an exception to raise) after running *effect*."""

    def __init__(self, answer, effect=None):
        self.answer = answer
        self.effect = effect

    def call_tool(self, name, arguments):
        if self.effect:
            self.effect()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def text_result(text, *, is_error=True):
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=is_error)


GET_CUSTOMER = SimpleNamespace(name="get_customer")


@pytest.mark.parametrize(
    "answer, message",
    [
        (text_result("Tool 'get_customer' failed unexpectedly."), "internal error"),
        (text_result("Traceback (most recent call last):\n  boom"), "traceback text 'Traceback'"),
        (text_result('  File "/app/views.py", line 3, in get'), "traceback text 'File \"'"),
        (text_result("KeyError at line 12, in lookup", is_error=False), "traceback text 'line 12, in'"),
        (MCPError(INTERNAL_ERROR, "Internal server error"), "JSON-RPC internal error"),
        (MCPError(-32602, 'Unknown tool: File "x"'), "traceback text"),
    ],
)
def test_the_oracle_sees_internal_errors_and_tracebacks(answer, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        call(ScriptedClient(answer), GET_CUSTOMER, {"id": 1})


def test_the_oracle_sees_a_change_behind_a_refusal_and_an_accepted_invalid_call(seeded):
    def rename_a_customer():
        Customer.objects.filter(pk=Customer.objects.order_by("pk").values("pk")[:1]).update(name="changed")

    refusing = ScriptedClient(text_result("No customer with id 1."), effect=rename_a_customer)
    with pytest.raises(AssertionError, match=re.escape("changed ['Customer']")):
        check(refusing, seeded, GET_CUSTOMER, {"id": 1}, must_refuse=False)
    restore(seeded[0])
    accepting = ScriptedClient(text_result("{}", is_error=False))
    with pytest.raises(AssertionError, match="was accepted"):
        check(accepting, seeded, GET_CUSTOMER, {"id": 1, "typo": 2}, must_refuse=True)
