"""Business rules: what a tool call must respect beyond its input schema, checked before the tool runs.

Rules are declared like Django's `validators=`: a list of small objects (or plain callables) next to
what they validate. On a ModelAdmin, `mcp_rules` maps each operation to its list, as
`formfield_overrides` maps field classes to options; a custom tool takes `rules=[...]`:

    class OrderAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_rules = {"search": [MaxDateRange("created", days=90), MaxResults(50)]}

    class TicketAdmin(McpAdminMixin, admin.ModelAdmin):
        mcp_rules = {"create": [MustExist("customer")], "update": [MustExist("customer")]}

        @mcp_bridge.tool(..., rules=[closing_needs_a_note])
        def update_ticket_status(self, request, data): ...

A dict keyed by operation, rather than rules that each name their operations, keeps a rule a plain
value that can be reused under several keys, and reads as the admin's own per-field option dicts.
The keys are the generated operations ('search', 'get', 'create', 'update', 'delete'), the names of
`mcp_actions`, and the names of the ModelAdmin's own @mcp_bridge.tool / @mcp_bridge.report methods.

A call's arguments are checked by every rule after the input schema and before the tool runs (for
a write, inside its transaction, before anything is written). A rule refuses a call by raising
ToolError or ValidationError with a message that says what to change; nothing runs after it. Each
rule's `describe()` sentence is appended to the tool's description, so agents know the rules before
calling, and `manage.py check` reports rules that cannot work (mcp_bridge.E130-E139).
"""

import datetime
import inspect

from django.apps import apps
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils import timezone

from .conf import mcp_settings
from .exceptions import AnnotationError, ToolError
from .filters import date_range_arguments, parse_date_argument
from .inputs import canonical_pk
from .time_budget import operation_of

__all__ = ["MaxDateRange", "MaxResults", "MustExist", "Rule", "Validator"]


class Rule:
    """Base class of business rules. Subclasses implement `check()` and usually `describe()`.

    `check(request, tool, arguments)` raises ToolError or ValidationError to refuse the call; it
    runs once per call, with arguments that passed the input schema. `describe(tool)` returns one
    sentence for the tool's description ("" to say nothing). `check_declaration(tool)` returns the
    checks.Error objects for a rule that cannot work on *tool* (without obj=, which the caller sets).
    """

    def check(self, request, tool, arguments):
        raise NotImplementedError  # pragma: no cover

    def describe(self, tool):
        return ""

    def check_declaration(self, tool):
        return []

    def __repr__(self):
        parameters = ", ".join(f"{key}={value!r}" for key, value in vars(self).items() if value is not None)
        return f"{type(self).__name__}({parameters})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self), repr(self)))


class Validator(Rule):
    """A callable `validator(request, arguments)` used as a rule; it raises ValidationError or ToolError.

    A plain callable in a rules list is wrapped in one. *description* (default: the first paragraph
    of the callable's docstring) is what the tool's description says about it.
    """

    def __init__(self, func, description=None):
        if not callable(func):
            raise TypeError(f"Validator() needs a callable (request, arguments), not {func!r}.")
        self.func = func
        self.description = description

    def __repr__(self):
        return f"Validator({getattr(self.func, '__qualname__', self.func)!r})"

    def check(self, request, tool, arguments):
        self.func(request, arguments)

    def describe(self, tool):
        if self.description is not None:
            return str(self.description)
        doc = inspect.getdoc(self.func) or ""
        return doc.split("\n\n", 1)[0].replace("\n", " ").strip()

    def check_declaration(self, tool):
        try:
            inspect.signature(self.func).bind(None, None)
        except TypeError:
            return [
                checks.Error(
                    f"The custom validator {self.func!r} of tool {tool.name!r} cannot be called as "
                    "validator(request, arguments).",
                    hint="Give it exactly two parameters, (request, arguments), or subclass mcp_bridge.rules.Rule "
                    "and implement check(request, tool, arguments).",
                    id="mcp_bridge.E139",
                )
            ]
        except ValueError:  # a builtin without a signature: trust it
            pass
        return []


def model_of(tool):
    """The model whose ModelAdmin declares *tool*, or None for a standalone tool."""
    model_admin = getattr(tool, "model_admin", None)
    return getattr(model_admin, "model", None)


def properties_of(tool):
    return tool.input_schema.get("properties", {})


def missing_arguments_error(rule, tool, names, hint):
    return checks.Error(
        f"{rule!r} on tool {tool.name!r} reads the argument(s) {', '.join(map(repr, names))}, which the tool "
        "does not take.",
        hint=hint,
        id="mcp_bridge.E135",
    )


class MaxDateRange(Rule):
    """A date range may span at most *days* days.

    The range is the `<field>_after` and `<field>_before` arguments a search tool takes for a date
    field in `list_filter` (or the arguments named by *after* and *before*). On or after `after` and
    before `before`, so 2026-01-01 to 2026-04-01 spans exactly 90 days. An open-ended range counts
    up to now: `after` alone spans from it to now (today, for a date field). `before` alone has no
    start, so it is refused: it would reach back without limit. A call that sends neither is not a
    search by date, and the rule does not apply.
    """

    def __init__(self, field, days, *, after=None, before=None):
        if not isinstance(field, str) or not field:
            raise TypeError(f"MaxDateRange() needs a field name, not {field!r}.")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ValueError(f"MaxDateRange({field!r}) needs days= as a whole number of at least 1, not {days!r}.")
        self.field = field
        self.days = days
        self.after = after
        self.before = before

    def arguments(self):
        default_after, default_before = date_range_arguments(self.field)
        return self.after or default_after, self.before or default_before

    def model_field(self, tool):
        model = model_of(tool)
        if model is None:
            return None
        try:
            return model._meta.get_field(self.field)
        except FieldDoesNotExist:
            return None

    def describe(self, tool):
        after, before = self.arguments()
        return (
            f"Date range rule: {after} to {before} may span at most {self.days} days ({after} alone counts up to "
            f"now; {before} needs {after})."
        )

    def check(self, request, tool, arguments):
        after_name, before_name = self.arguments()
        if after_name not in arguments and before_name not in arguments:
            return
        field = self.model_field(tool)
        if field is not None:
            is_datetime = isinstance(field, models.DateTimeField)
        else:
            is_datetime = any("T" in str(arguments.get(name, "")) for name in (after_name, before_name))
        if after_name not in arguments:
            before = parse_date_argument(before_name, arguments[before_name], is_datetime=is_datetime)
            start = before - datetime.timedelta(days=self.days)
            raise ToolError(
                f"{tool.name} searches a date range of at most {self.days} days, and {before_name} alone has no "
                f"start. Add {after_name}, no earlier than {start.isoformat()}, and call {tool.name} again."
            )
        after = parse_date_argument(after_name, arguments[after_name], is_datetime=is_datetime)
        if before_name in arguments:
            before = parse_date_argument(before_name, arguments[before_name], is_datetime=is_datetime)
            span, end_words = before - after, f"{after_name} to {before_name}"
        elif is_datetime:
            span, end_words = timezone.now() - after, f"{after_name} to now"
        else:
            span, end_words = timezone.localdate() + datetime.timedelta(days=1) - after, f"{after_name} to today"
        limit = datetime.timedelta(days=self.days)
        if span > limit:
            # "90 days and 0:00:01": a second over the limit must not read as exactly the limit.
            extra = f" and {datetime.timedelta(seconds=span.seconds)}" if span.seconds else ""
            raise ToolError(
                f"{tool.name} searches a date range of at most {self.days} days; {end_words} spans {span.days} days"
                f"{extra}. "
                f"Narrow it: set {before_name} to {(after + limit).isoformat()} or earlier (or {after_name} later), "
                f"and search the rest of the period in further calls of at most {self.days} days."
            )

    def check_declaration(self, tool):
        model = model_of(tool)
        after, before = self.arguments()
        if model is not None and self.after is None and self.before is None:
            try:
                field = model._meta.get_field(self.field)
            except FieldDoesNotExist:
                return [
                    checks.Error(
                        f"{self!r} on tool {tool.name!r} refers to {self.field!r}, which is not a field of "
                        f"{model._meta.label}.",
                        hint="Name a DateField or DateTimeField of the model.",
                        id="mcp_bridge.E133",
                    )
                ]
            if not isinstance(field, models.DateField):  # DateTimeField is a DateField
                return [
                    checks.Error(
                        f"{self!r} on tool {tool.name!r} refers to {self.field!r}, which is a "
                        f"{type(field).__name__}, not a date.",
                        hint="MaxDateRange applies to a DateField or DateTimeField; use a custom validator for "
                        "other ranges.",
                        id="mcp_bridge.E134",
                    )
                ]
        missing = [name for name in (after, before) if name not in properties_of(tool)]
        if missing:
            hint = (
                f"Add {self.field!r} to the ModelAdmin's list_filter, so the search takes {after} and {before}."
                if hasattr(tool, "exposure")
                else "Name the tool's own date arguments with MaxDateRange(..., after='...', before='...')."
            )
            return [missing_arguments_error(self, tool, missing, hint)]
        return []


#: The arguments MaxResults reads by default: a search's page size and an action's ids.
RESULT_COUNT_ARGUMENTS = ("page_size", "ids")


class MaxResults(Rule):
    """A call may ask for at most *limit* results: a search's `page_size`, an action's number of `ids`,
    or the number (or, for a list, the length) of the argument named by *argument*."""

    def __init__(self, limit, *, argument=None):
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"MaxResults() needs a whole number of at least 1, not {limit!r}.")
        self.limit = limit
        self.argument = argument

    def argument_of(self, tool):
        if self.argument is not None:
            return self.argument
        properties = properties_of(tool)
        return next((name for name in RESULT_COUNT_ARGUMENTS if name in properties), None)

    def describe(self, tool):
        argument = self.argument_of(tool)
        if argument == "ids":
            return f"At most {self.limit} ids per call."
        return f"At most {self.limit} results per call ({argument} up to {self.limit})."

    def check(self, request, tool, arguments):
        argument = self.argument_of(tool)
        value = arguments.get(argument, properties_of(tool).get(argument, {}).get("default"))
        count = len(value) if isinstance(value, (list, tuple)) else value
        if isinstance(count, (int, float)) and not isinstance(count, bool) and count > self.limit:
            if isinstance(value, (list, tuple)):
                raise ToolError(
                    f"{tool.name} takes at most {self.limit} {argument} per call (got {count}). Split them into "
                    f"calls of {self.limit} or fewer."
                )
            more = " and use next_cursor for the next page" if "cursor" in properties_of(tool) else ""
            raise ToolError(
                f"{tool.name} returns at most {self.limit} results per call (got {argument}={count:g}). Send "
                f"{argument} of {self.limit} or less{more}."
            )

    def check_declaration(self, tool):
        argument = self.argument_of(tool)
        if argument is None or argument not in properties_of(tool):
            return [
                missing_arguments_error(
                    self,
                    tool,
                    [argument or "page_size"],
                    "MaxResults reads a search's page_size or an action's ids; for another tool name the argument "
                    "that sets how many results it returns, e.g. MaxResults(200, argument='limit').",
                )
            ]
        default = properties_of(tool)[argument].get("default")
        if isinstance(default, int) and default > self.limit:
            return [
                checks.Error(
                    f"{self!r} on tool {tool.name!r} is below the default {argument} ({default}), so a call that "
                    f"leaves {argument} out would be refused.",
                    hint=f"Raise the limit to at least {default}, or lower MCP_BRIDGE['PAGE_SIZE'].",
                    id="mcp_bridge.E137",
                )
            ]
        return []


def mcp_admin_sites():
    """The admin sites MCP serves (MCP_BRIDGE['ADMIN_SITES'])."""
    return list(mcp_settings.ADMIN_SITES)


class MustExist(Rule):
    """The object an argument refers to by id must exist AND be visible to the caller.

    Visible means in its ModelAdmin's `get_mcp_queryset(request)` (or `get_queryset(request)` for a
    ModelAdmin without McpAdminMixin), on the admin site of the tool. An id the caller may not see
    is refused with exactly the message of a missing one: a refusal never tells that it exists.
    *argument* is the argument holding the id (or a list of ids); *model* (a model or
    'app_label.ModelName') defaults to the model of the tool's ModelAdmin field of that name (so
    `MustExist("customer")` on a ticket's create). A null value is not checked.
    """

    def __init__(self, argument, *, model=None):
        if not isinstance(argument, str) or not argument:
            raise TypeError(f"MustExist() needs an argument name, not {argument!r}.")
        self.argument = argument
        self.model = model

    def related_model(self, tool):
        """The model the ids are of, or None if it cannot be found (reported by check_declaration)."""
        if self.model is not None:
            if isinstance(self.model, str):
                try:
                    return apps.get_model(self.model)
                except (LookupError, ValueError):
                    return None
            return self.model
        model = model_of(tool)
        if model is None:
            return None
        try:
            field = model._meta.get_field(self.argument)
        except FieldDoesNotExist:
            return None
        return field.related_model if field.is_relation else None

    def admin_site_of(self, tool):
        model_admin = getattr(tool, "model_admin", None)
        sites = ([model_admin.admin_site] if model_admin is not None else []) + mcp_admin_sites()
        related = self.related_model(tool)
        return next((site for site in sites if related is not None and site.is_registered(related)), None)

    def describe(self, tool):
        from .model_tools import with_article  # model_tools imports tools, which imports this module

        related = self.related_model(tool)
        label = related._meta.verbose_name if related is not None else "object"
        return f"The {self.argument} argument must be the id of {with_article(label)} you can see."

    def not_found(self, tool, related, missing):
        from .sites import site

        exposure = site.registry.exposures.get(related)
        find = (
            f"Use search_{exposure.plural} to find valid ids."
            if exposure is not None and f"search_{exposure.plural}" in site.registry.tools
            else "Check the id."
        )
        opts = related._meta
        if len(missing) == 1:
            what = f"No {opts.verbose_name} with id {missing[0]!r} exists, or you may not see it."
        else:
            what = f"No {opts.verbose_name_plural} with ids {', '.join(map(repr, missing))} exist, or you may not see them."
        return ToolError(f"{tool.name}: {what} {find} Nothing was changed.")

    def check(self, request, tool, arguments):
        value = arguments.get(self.argument)
        if value is None:
            return
        ids = list(value) if isinstance(value, (list, tuple)) else [value]
        if not ids:
            return
        related = self.related_model(tool)
        admin_site = self.admin_site_of(tool)
        if related is None or admin_site is None:  # reported at start-up (E136); refuse rather than skip a rule
            raise AnnotationError(
                f"{self!r} on tool {tool.name!r} cannot find the model or ModelAdmin its ids belong to.",
                id="mcp_bridge.E136",
                obj=None,
            )
        model_admin = admin_site.get_model_admin(related)
        get_queryset = getattr(model_admin, "get_mcp_queryset", model_admin.get_queryset)
        # An id out of the key's range or not written canonically names no object: it never reaches SQL.
        keys = [key for key in (canonical_pk(related, object_id) for object_id in ids) if key is not None]
        try:
            visible = {str(pk) for pk in get_queryset(request).filter(pk__in=keys).values_list("pk", flat=True)}
        except (ValueError, TypeError, ValidationError):  # an id that is no valid key of this model: not found
            visible = set()
        missing = [object_id for object_id in ids if str(object_id) not in visible]
        if missing:
            raise self.not_found(tool, related, missing)

    def check_declaration(self, tool):
        if self.argument not in properties_of(tool):
            return [
                missing_arguments_error(
                    self, tool, [self.argument], "Name the argument that holds the id, as the tool's schema does."
                )
            ]
        if self.related_model(tool) is None:
            return [
                checks.Error(
                    f"{self!r} on tool {tool.name!r} cannot tell which model {self.argument!r} refers to.",
                    hint="Name a relation field of the ModelAdmin's model, or pass the model: "
                    f"MustExist({self.argument!r}, model='app_label.ModelName').",
                    id="mcp_bridge.E136",
                )
            ]
        if self.admin_site_of(tool) is None:
            label = self.related_model(tool)._meta.label
            return [
                checks.Error(
                    f"{self!r} on tool {tool.name!r} refers to {label}, which no MCP admin site registers, so "
                    "whether the caller may see an object cannot be decided.",
                    hint=f"Register {label} with a ModelAdmin on the admin site (its get_queryset(request) decides "
                    "what a caller sees).",
                    id="mcp_bridge.E136",
                )
            ]
        return []


# -- declarations --------------------------------------------------------------------------------------


def as_rule(entry):
    """A Rule for a rules-list *entry*: a Rule as is, a callable as a Validator; None for anything else."""
    if isinstance(entry, Rule):
        return entry
    if callable(entry) and not isinstance(entry, type):
        return Validator(entry)
    return None


def declared_rules(tool):
    """Return [(entries, option)] as declared for *tool*: its own `rules=` and its ModelAdmin's `mcp_rules`.

    Each *entries* is what was declared, unchecked; *option* names where ('rules', "mcp_rules['search']").
    """
    declared = []
    own = getattr(tool, "rules", None)
    if own is not None and own != ():
        declared.append((own, "rules"))
    hook = getattr(getattr(tool, "model_admin", None), "get_mcp_rules", None)
    if hook is not None:
        operation = operation_of(tool)
        entries = hook(operation)
        if entries:
            declared.append((entries, f"mcp_rules[{operation!r}]"))
    return declared


def rules_of(tool):
    """Return the Rules checked on every call of *tool* (resolved once, then kept on the tool).

    Raise AnnotationError for a declaration that is not a list of rules: a rule is never skipped
    silently (`manage.py check` reports it first, as mcp_bridge.E132).
    """
    resolved = tool.__dict__.get("resolved_rules")
    if resolved is None:
        resolved = []
        for entries, option in declared_rules(tool):
            if not isinstance(entries, (list, tuple)):
                raise not_a_list_error(tool, option, entries)
            for index, entry in enumerate(entries):
                rule = as_rule(entry)
                if rule is None:
                    raise not_a_rule_error(tool, f"{option}[{index}]", entry)
                resolved.append(rule)
        tool.__dict__["resolved_rules"] = resolved = tuple(resolved)
    return resolved


def not_a_list_error(tool, option, entries):
    return AnnotationError(
        f"The {option} of tool {tool.name!r} must be a list or tuple of rules, not {type(entries).__name__}.",
        id="mcp_bridge.E132",
        obj=None,
        hint="E.g. [MaxResults(100), MustExist('customer')] (mcp_bridge.rules), or callables (request, arguments).",
    )


def not_a_rule_error(tool, option, entry):
    return AnnotationError(
        f"The {option} of tool {tool.name!r} is {entry!r}, which is not a rule.",
        id="mcp_bridge.E132",
        obj=None,
        hint="Use a mcp_bridge.rules.Rule (MaxDateRange, MaxResults, MustExist, or a subclass) or a callable "
        "validator(request, arguments).",
    )


def check_call(tool, request, arguments):
    """Refuse the call (ToolError, ValidationError) unless *arguments* pass every rule of *tool*."""
    for rule in rules_of(tool):
        rule.check(request, tool, arguments)


def describe_rules(tool):
    """The sentences the tool's description ends with: its rules, for agents to know before calling."""
    try:
        rules = rules_of(tool)
    except AnnotationError:  # reported by the system checks; the call itself is refused
        return ""
    sentences = [sentence.strip() for sentence in (rule.describe(tool) for rule in rules) if sentence]
    return "".join(" " + (s if s.endswith(".") else s + ".") for s in sentences)


# -- system checks -------------------------------------------------------------------------------------


def check_rule_options(model_admin):
    """E130, E131: `mcp_rules` is a dict whose keys are operations, actions or tools of *model_admin*."""
    rules = getattr(model_admin, "mcp_rules", None)
    if rules is None:
        return []
    admin_class = type(model_admin)
    if not isinstance(rules, dict):
        return [
            checks.Error(
                f"The value of 'mcp_rules' must be a dict, not {type(rules).__name__}.",
                hint="Map operations to lists of rules: mcp_rules = {'search': [MaxDateRange('created', days=90)]}.",
                obj=admin_class,
                id="mcp_bridge.E130",
            )
        ]
    known = set(model_admin.get_mcp_operations()) | set(model_admin.mcp_actions)
    for attribute in dir(admin_class):
        member = getattr(admin_class, attribute, None)
        for annotation in ("mcp_tool", "mcp_report"):
            options = getattr(member, annotation, None)
            if isinstance(options, dict) and options.get("name"):
                known.add(options["name"])
    errors = []
    for key in rules:
        if key not in known:
            errors.append(
                checks.Error(
                    f"The value of 'mcp_rules' has the key {key!r}, which is not an operation, action or tool of "
                    f"{admin_class.__name__}.",
                    hint=f"Use one of {', '.join(map(repr, sorted(known)))}; a rule on an operation the ModelAdmin "
                    "does not expose would never run.",
                    obj=admin_class,
                    id="mcp_bridge.E131",
                )
            )
    return errors


def owner_of(tool, registry):
    return registry.tool_owners.get(tool.name)


def check_rules(registry):
    """E132-E139 for every tool of *registry* (None: the registry could not be built, reported elsewhere)."""
    if registry is None:
        return []
    errors = []
    for tool in registry.tools.values():
        owner = owner_of(tool, registry)
        try:
            rules = rules_of(tool)
        except AnnotationError as refused:
            if refused.id != "mcp_bridge.E130":  # reported once per ModelAdmin by check_rule_options
                errors.append(checks.Error(refused.message, hint=refused.hint, obj=owner, id=refused.id))
            continue
        for rule in rules:
            for error in rule.check_declaration(tool):
                error.obj = owner
                errors.append(error)
    return errors
