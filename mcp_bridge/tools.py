"""Tool value objects: schema, annotations, who may call it, and how a call runs.

A tool's `run(request, arguments)` is plain synchronous Django code; `call()` wraps it with
argument validation, the transaction and the translation of errors into messages a model can act
on. Nothing here knows about JSON-RPC.
"""

import difflib
import json
import logging
import uuid

import jsonschema
from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from rest_framework import serializers
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.utils.encoders import JSONEncoder

from . import rules, scopes, time_budget
from .availability import is_service_failure
from .conf import mcp_settings
from .content import is_content
from .context import InputRequired, MissingClientCapability
from .database import StatementTimeout
from .declarations import Declaration, check_description, check_name
from .exceptions import AnnotationError, ServiceUnavailable, ToolError
from .inputs import check_text
from .models import Tool as ToolModel
from .schemas import DECIMAL_PATTERN, with_budget_keys
from .schemas import input_schema as serializer_input_schema
from .schemas import output_schema as serializer_output_schema

logger = logging.getLogger(__name__)


class ToolResult:
    """What a tool returns: structured data plus any messages the admin hooks left."""

    def __init__(self, data, *, is_error=False, messages=(), text=None, outcome=None):
        self.data = data
        self.is_error = is_error
        self.messages = list(messages)
        self._text = text
        #: How the call ended, for the audit trail (an AuditOutcome value): "ok", "error" (an isError result
        #: the model can act on), "rate_limited", or "failed" (an unexpected exception or a backing service down).
        self.outcome = outcome or ("error" if is_error else "ok")
        #: The job a report started, when the client takes it as an MCP task (see reports.ReportTool).
        self.task = None

    def text(self):
        if self._text is None:
            self._text = self.data if isinstance(self.data, str) else json_text(self.data)
        return self._text


class McpTool:
    """Base class of every tool.

    Subclasses set `name`, `description`, `input_schema` and optionally `output_schema`, and
    implement `run()` and `has_permission()`.
    """

    name = ""
    title: str | None = None
    declared_description = ""
    input_schema = {"type": "object", "properties": {}, "additionalProperties": False}
    output_schema = None
    read_only = False
    destructive = True
    idempotent = False
    kind = "custom"
    required_permissions: tuple[str, ...] = ()  # human-readable, for docs and the inspect command
    #: Throttle classes for this tool (None: MCP_BRIDGE['THROTTLE_CLASSES']), as DRF's view attribute.
    throttle_classes = None
    #: The THROTTLE_RATES scope ToolRateThrottle counts this tool's calls under (None: the tool's name).
    throttle_scope = None
    #: ToolRateThrottle's rate for this tool when THROTTLE_RATES has none for its scope (None: unlimited).
    default_throttle_rate = None
    #: The OAuth scope an OAuth caller needs for this tool (None: decided by `required_scope`).
    oauth_scope = None
    #: True if a call may send notifications (progress, log messages) while it runs. False lets a
    #: 2026-07-28 call over HTTP be answered as one JSON response, with no event stream held open.
    sends_notifications = True

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def description(self):
        """The declared description, then the business rules a call must respect (mcp_bridge.rules)."""
        return self.declared_description + rules.describe_rules(self)

    @description.setter
    def description(self, text):
        self.declared_description = text

    def __eq__(self, other):
        return type(self) is type(other) and self.name == other.name

    def __hash__(self):
        return hash((type(self), self.name))

    # -- permissions ---------------------------------------------------------------------------
    @property
    def required_scope(self):
        """The OAuth scope a call needs: `oauth_scope`, else mcp:reports for reports and their job tools,
        mcp:read for read-only tools and mcp:write for the rest. Callers without scopes (API keys,
        stdio) are not limited by it."""
        if self.oauth_scope:
            return self.oauth_scope
        if self.kind in ("report", "job"):
            return scopes.REPORTS
        return scopes.READ if self.read_only else scopes.WRITE

    @property
    def grant_permission(self):
        """The per-tool grant, 'mcp_bridge.call_<name>', that admins give to users and groups."""
        return ToolModel.permission_name(self.name)

    def has_permission(self, request):
        """Return True if the caller may use this tool: the grant AND the model permission."""
        return request.user.has_perm(self.grant_permission) and self.has_model_permission(request)

    def has_model_permission(self, request):
        raise NotImplementedError  # pragma: no cover

    def permission_checks(self, request):
        """Return [(requirement, passed)] explaining has_permission() (for mcp_inspect)."""
        return [
            (f"per-tool grant {self.grant_permission}", request.user.has_perm(self.grant_permission)),
            (f"model permission: {', '.join(self.required_permissions) or 'none'}", self.has_model_permission(request)),
        ]

    # -- validation ----------------------------------------------------------------------------
    @property
    def validator(self):
        validator = self.__dict__.get("_validator")
        if validator is None:
            jsonschema.Draft202012Validator.check_schema(self.input_schema)
            validator = self.__dict__["_validator"] = jsonschema.Draft202012Validator(
                self.input_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
            )
        return validator

    def validate_arguments(self, arguments):
        if not isinstance(arguments, dict):
            raise ToolError(f"Arguments to {self.name} must be a JSON object.")
        # Before the schema, whose messages quote names and values: no text a database (or a
        # UTF-8 response) cannot hold gets that far.
        for name, value in arguments.items():
            check_text(name, argument=f"Invalid arguments for {self.name}: an argument name")
            check_text(value, argument=f"Invalid arguments for {self.name}: '{name}'")
        errors = sorted(self.validator.iter_errors(arguments), key=lambda e: list(e.path))
        if errors:
            raise ToolError(
                f"Invalid arguments for {self.name}: " + " ".join(describe_schema_error(e, self) for e in errors)
            )
        return normalize_integers(arguments, self.input_schema)

    # -- running -------------------------------------------------------------------------------
    def run(self, request, arguments):
        raise NotImplementedError  # pragma: no cover

    def narrowing_hint(self):
        """What to ask for instead when a call ran out of database time."""
        properties = self.input_schema.get("properties", {})
        if "page_size" in properties:
            query = ", use a more specific query" if "query" in properties else ""
            return f"Narrow the search: add filters{query} or ask for a smaller page_size, then call {self.name} again."
        return f"Ask {self.name} for less in one call (fewer ids, narrower arguments), or try again later."

    def call(self, request, arguments):
        """Validate *arguments*, run the tool in one transaction, and return a ToolResult."""
        try:
            arguments = self.validate_arguments(arguments)
            with time_budget.limit(self) as budget:  # past it: a ToolError, and nothing written is kept
                rules.check_call(self, request, arguments)
                if self.read_only:
                    data = self.run(request, arguments)
                    budget.check()
                else:
                    with transaction.atomic():
                        data = self.run(request, arguments)
                        budget.check()  # inside the transaction, so a late write is rolled back
            text = None
            if not is_content(data) and not isinstance(data, str):
                # One encoding serves the text content and, decoded, the structured content: both then
                # say the same, whatever the data held (Decimals, datetimes, non-string keys).
                text = json_text(data)
                data = json.loads(text)
            return ToolResult(data, messages=request.messages_text(), text=text)
        except (InputRequired, MissingClientCapability):
            raise  # protocol outcomes, answered by the server layer (nothing was committed)
        except ToolError as exc:
            return ToolResult(exc.message, is_error=True)
        except (DRFValidationError, DjangoValidationError) as exc:
            return ToolResult(
                f"{self.name} rejected the input: {format_validation_error(exc)} Correct these values and call {self.name} again.",
                is_error=True,
            )
        except PermissionDenied as exc:
            reason = str(exc) or f"You do not have permission to do this with {self.name}."
            return ToolResult(reason, is_error=True)
        except ObjectDoesNotExist:
            return ToolResult(
                f"{self.name}: the object was not found, or you may not see it. Search for it first to get a valid id.",
                is_error=True,
            )
        except (ProtectedError, RestrictedError) as exc:
            related = sorted(
                {str(obj._meta.verbose_name_plural) for obj in exc.protected_objects if hasattr(obj, "_meta")}
                if hasattr(exc, "protected_objects")
                else []
            )
            detail = f" (related {', '.join(related)} protect it)" if related else ""
            return ToolResult(
                f"{self.name}: cannot delete this object because other records depend on it{detail}. Remove or reassign them first.",
                is_error=True,
            )
        except StatementTimeout as exc:
            logger.warning("Tool %s stopped: a database statement ran longer than %g s", self.name, exc.seconds)
            return ToolResult(
                f"{self.name} took too long: a database query ran longer than the {exc.seconds:g} s allowed and was "
                f"stopped; nothing was changed. {self.narrowing_hint()}",
                is_error=True,
            )
        except Exception as exc:
            if is_service_failure(exc):
                logger.warning("Tool %s could not run: a backing service failed", self.name, exc_info=True)
                busy = exc if isinstance(exc, ServiceUnavailable) else ServiceUnavailable()
                return ToolResult(
                    f"{self.name} could not run: {busy.message} Nothing was changed.", is_error=True, outcome="failed"
                )
            reference = uuid.uuid4().hex[:12]
            logger.exception("Tool %s failed unexpectedly (reference %s)", self.name, reference)
            return ToolResult(
                f"{self.name} failed unexpectedly; nothing was changed. The error was logged with reference {reference}. "
                "Try again later or report the reference to an administrator.",
                is_error=True,
                outcome="failed",
            )


class SerializerTool(Declaration, McpTool):
    """A custom tool whose input is a DRF serializer and whose body is a Python callable.

    `func(request, data)` receives the serializer's validated data and returns a dict, a
    serializer or a model instance (serialized with `output_serializer`).
    """

    def __init__(
        self,
        func,
        *,
        name,
        description,
        input_serializer=None,
        output_serializer=None,
        input_schema=None,
        output_schema=None,
        permissions=(),
        model_admin=None,
        title=None,
        read_only=False,
        destructive=None,
        idempotent=False,
        context=False,
        throttle_scope=None,
        throttle_classes=None,
        oauth_scope=None,
        rules=(),
        time_budget=None,
    ):
        owner = type(model_admin) if model_admin is not None else func  # what a system check names
        check_name("Tool", name, owner=owner, example="close_order")
        check_description(
            f"Tool {name!r}",
            description,
            owner=owner,
            content="what it does, when to use it, what it returns and its limits",
        )
        if input_serializer is not None and input_schema is not None:
            raise AnnotationError(
                f"Tool {name!r} has both an input_serializer and an input_schema.",
                id="mcp_bridge.E105",
                obj=owner,
                hint="Pass only one: the input schema of an input_serializer is generated from its fields.",
            )
        self.permissions = tuple(permissions)
        for permission in self.permissions:
            _check_permission_name(name, permission, model_admin, owner)
        _check_throttle_options(name, throttle_scope, throttle_classes, owner)
        _check_oauth_scope(name, oauth_scope, owner)
        super().__init__(func, name=name, title=title, description=description)
        self.model_admin = model_admin
        self.read_only = read_only
        self.destructive = (not read_only) if destructive is None else destructive
        self.idempotent = idempotent or read_only
        self.input_serializer = input_serializer
        self.output_serializer = output_serializer
        self.context = context
        self.sends_notifications = context  # only a tool given the CallContext can reach its connection
        self.throttle_scope = throttle_scope
        self.throttle_classes = throttle_classes
        self.oauth_scope = oauth_scope
        self.rules = rules  # business rules (mcp_bridge.rules), checked by system checks E132-E139
        self.time_budget = time_budget  # seconds; None: the ModelAdmin's or MCP_BRIDGE['TOOL_TIME_BUDGET']
        if input_serializer is not None:
            self.input_schema = serializer_input_schema(input_serializer())
        elif input_schema is not None:
            self.input_schema = input_schema
        else:
            self.input_schema = {"type": "object", "properties": {}, "additionalProperties": False}
        if output_serializer is not None:
            self.output_schema = serializer_output_schema(output_serializer())
        else:
            self.output_schema = output_schema
        self.output_schema = with_budget_keys(self.output_schema)  # a result cut to fit says so (budgets.py)
        self.required_permissions = self.permissions

    def has_model_permission(self, request):
        for permission in self.permissions:
            if "." in permission:
                if not request.user.has_perm(permission):
                    return False
            # Admin-style names ('change', 'add', 'publish') use the admin's has_<name>_permission hook
            # (checked to exist when the tool was built).
            elif not getattr(self.model_admin, f"has_{permission}_permission")(request):
                return False
        return True

    def run(self, request, arguments):
        data = arguments
        if self.input_serializer is not None:
            serializer = self.input_serializer(data=arguments, context={"request": request})
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        result = self.func(request, data, request.mcp_call) if self.context else self.func(request, data)
        if self.output_serializer is not None and not isinstance(result, (dict, list, serializers.BaseSerializer)):
            result = self.output_serializer(result, context={"request": request}).data
        elif isinstance(result, serializers.BaseSerializer):
            result = result.data
        return result


def _check_permission_name(tool_name, permission, model_admin, owner):
    """Raise AnnotationError unless *permission* can be checked, as the admin's admin.E129 does for actions."""
    if "." in permission:
        app_label = permission.partition(".")[0]
        labels = [config.label for config in apps.get_app_configs()]
        if app_label not in labels:
            close = difflib.get_close_matches(app_label, labels, n=1)
            raise AnnotationError(
                f"Tool {tool_name!r} requires the permission {permission!r}, but no installed app has the label {app_label!r}.",
                id="mcp_bridge.E109",
                obj=owner,
                hint=(f"Did you mean {close[0]!r}? " if close else "") + "Write permissions as 'app_label.codename'.",
            )
    elif model_admin is None:
        raise AnnotationError(
            f"Tool {tool_name!r} requires the admin-style permission {permission!r}, but belongs to no ModelAdmin.",
            id="mcp_bridge.E108",
            obj=owner,
            hint="Outside a ModelAdmin, name a full permission as 'app_label.codename', e.g. 'customers.change_customer'.",
        )
    elif not callable(getattr(model_admin, f"has_{permission}_permission", None)):
        admin_class = type(model_admin)
        available = sorted(
            attribute[len("has_") : -len("_permission")]
            for attribute in dir(admin_class)
            if attribute.startswith("has_") and attribute.endswith("_permission")
        )
        close = difflib.get_close_matches(permission, available, n=1)
        raise AnnotationError(
            f"{admin_class.__name__} must define a has_{permission}_permission() method for the {tool_name!r} MCP tool.",
            id="mcp_bridge.E107",
            obj=admin_class,
            hint=(f"Did you mean {close[0]!r}? " if close else "")
            + f"Use one of {', '.join(map(repr, available))}, or an 'app_label.codename' permission.",
        )


def _check_oauth_scope(tool_name, oauth_scope, owner):
    """Raise AnnotationError (mcp_bridge.E123) for an oauth_scope that is not one of OAUTH_SCOPES."""
    if oauth_scope is not None and oauth_scope not in mcp_settings.OAUTH_SCOPES:
        raise AnnotationError(
            f"Tool {tool_name!r} has the oauth_scope {oauth_scope!r}, which is not in MCP_BRIDGE['OAUTH_SCOPES'].",
            id="mcp_bridge.E123",
            obj=owner,
            hint=f"Use one of {', '.join(mcp_settings.OAUTH_SCOPES)}, or add the scope to MCP_BRIDGE['OAUTH_SCOPES'].",
        )


def _check_throttle_options(tool_name, throttle_scope, throttle_classes, owner):
    """Raise AnnotationError (mcp_bridge.E112) for throttle options of the wrong type, which would limit nothing."""
    if throttle_scope is not None and not (isinstance(throttle_scope, str) and throttle_scope):
        raise AnnotationError(
            f"Tool {tool_name!r} has the throttle_scope {throttle_scope!r}; it must be a non-empty string.",
            id="mcp_bridge.E112",
            obj=owner,
            hint="Name a key of MCP_BRIDGE['THROTTLE_RATES'], e.g. throttle_scope='refunds', or leave it out to count "
            "calls under the tool's name.",
        )
    if throttle_classes is not None and not isinstance(throttle_classes, (list, tuple)):
        raise AnnotationError(
            f"Tool {tool_name!r} has the throttle_classes {throttle_classes!r}; it must be a list or tuple of throttle "
            "classes.",
            id="mcp_bridge.E112",
            obj=owner,
            hint="Pass e.g. throttle_classes=[ToolRateThrottle], or [] for no throttling of this tool.",
        )


def _is_integer_schema(schema):
    kind = (schema or {}).get("type")
    return kind == "integer" or (isinstance(kind, list) and "integer" in kind and "number" not in kind)


def normalize_integers(arguments, schema):
    """Turn whole-number floats (10.0, which JSON Schema accepts as an integer) into ints."""
    properties = schema.get("properties", {})
    result = dict(arguments)
    for name, value in arguments.items():
        prop = properties.get(name, {})
        if _is_integer_schema(prop) and isinstance(value, float):
            result[name] = int(value)
        elif prop.get("type") == "array" and _is_integer_schema(prop.get("items")) and isinstance(value, list):
            result[name] = [int(v) if isinstance(v, float) else v for v in value]
    return result


def json_text(data):
    """*data* as compact JSON text, with DRF's encoder (Decimal, datetime, UUID, lazy strings).

    Compact: a tool's text content goes into a model's context, where every space is a token.
    """
    return json.dumps(data, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))


def format_validation_error(exc):
    """Flatten DRF or Django validation errors into 'field: message' sentences."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"input": exc.messages}
    else:
        detail = exc.detail
    parts = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(key if key != "non_field_errors" and key != "__all__" else prefix, inner)
        elif isinstance(value, (list, tuple)):
            for inner in value:
                walk(prefix, inner)
        else:
            parts.append(f"{prefix}: {value}" if prefix else str(value))

    walk("", detail)
    return " ".join(part if part.endswith(".") else part + "." for part in parts)


#: Sentences for the jsonschema keywords whose error needs only the keyword's {value} and the value sent
#: ({got}; {got_json} as JSON).
KEYWORD_MESSAGES = {
    "maximum": "{where} must be at most {value} (got {got}).",
    "minimum": "{where} must be at least {value} (got {got}).",
    "maxLength": "{where} must be at most {value} characters long.",
    "maxItems": "{where} may hold at most {value} items; split the work into several calls.",
    "minItems": "{where} needs at least {value} item(s).",
    "format": "{where} must be a valid {value} (got {got_json}).",
}


def describe_schema_error(error, tool):
    """Turn one jsonschema error into a sentence that says what to send instead."""
    field_name = ".".join(str(p) for p in error.path) or None
    properties = tool.input_schema.get("properties", {})
    where = f"'{field_name}'" if field_name else "the arguments"
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(properties))
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, list(properties), n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        return f"Unknown argument(s) {', '.join(hints)}. Valid arguments are: {', '.join(properties) or 'none'}."
    if error.validator == "required":
        return f"{error.message.capitalize()}."
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return f"{where} must be one of {allowed} (got {json.dumps(error.instance)})."
    if error.validator == "type":
        expected = (
            error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        )
        return f"{where} must be of type {expected} (got {json.dumps(error.instance)})."
    if error.validator in KEYWORD_MESSAGES:
        return KEYWORD_MESSAGES[error.validator].format(
            where=where, value=error.validator_value, got=error.instance, got_json=json.dumps(error.instance)
        )
    if error.validator == "pattern" and error.validator_value == DECIMAL_PATTERN:
        return (
            f'{where} must be a number, or a decimal string of ASCII digits such as "12.50" '
            f"(got {json.dumps(error.instance, ensure_ascii=False)})."
        )
    if error.validator == "minProperties":
        return f"Send at least one field to change besides the id. Changeable fields: {', '.join(k for k in properties if k != 'id')}."
    return f"{where}: {error.message}."
