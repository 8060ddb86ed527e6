"""Tools generated from an annotated ModelAdmin: search, get, create, update, delete and actions.

Every tool starts from the admin's own `get_queryset(request)` and asks the admin's own
`has_*_permission` hooks, so the admin stays the single source of truth.
"""

import re

from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import HttpResponseBase
from django.utils import translation
from django.utils.functional import Promise
from django.utils.html import strip_tags
from django.utils.text import capfirst

from .budgets import TooLarge, fit_page, max_chars
from .conf import mcp_settings
from .exceptions import AnnotationError, ToolError
from .filters import build_filters, pk_schema
from .pagination import make_cursor, read_cursor
from .schemas import as_output_schema, input_schema, list_schema, output_schema, with_budget_keys
from .search import MAX_SEARCH_LENGTH, MAX_SEARCH_WORDS, check_search_terms, rank_by_relevance
from .serializers import build_model_serializer, field_plan_for
from .tools import McpTool


def snake(text):
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")


def with_article(noun):
    """'an order', 'a customer', 'a user', 'an hour': the indefinite article by sound, as titles need."""
    word = str(noun).lower()
    vowel_sound = (word[:1] in "aeiou" and not word.startswith(("eu", "one", "uni", "use", "usu", "uti", "ure"))) or (
        word.startswith(("hour", "honest", "honor", "honour", "heir"))
    )
    return f"{'an' if vowel_sound else 'a'} {noun}"


#: A field's choices are named in descriptions up to this many.
MAX_NAMED_CHOICES = 6


def and_list(words, conjunction="and"):
    """'a', 'a and b', 'a, b and c'."""
    words = [w for w in words if w]
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1] if len(words) > 1 else "".join(words)


def or_list(words):
    """'a', 'a or b', 'a, b or c'."""
    return and_list(words, "or")


def field_words(opts, path, choices=False):
    """A field (or a search lookup such as 'customer__name') in words: 'customer name'; with *choices*, a
    field of a few choices names the values an argument takes: 'status (lead, active or churned)'."""
    words, field = [], None
    for part in path.split("__"):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return path.replace("__", " ").replace("_", " ")
        words.append(str(field.verbose_name))
        opts = field.related_model._meta if field.related_model is not None else opts
    text = " ".join(words)
    values = [str(value) for value, _ in (field.flatchoices or ())] if field is not None and choices else []
    if 1 < len(values) <= MAX_NAMED_CHOICES:
        text += f" ({', '.join(values[:-1])} or {values[-1]})"
    return text


def filter_words(name, schema):
    """A search filter in words, with the values of a filter of a few choices: 'status (open or closed)'."""
    values = [str(value) for value in schema.get("enum") or ()]
    if 1 < len(values) <= MAX_NAMED_CHOICES:
        return f"{name} ({', '.join(values[:-1])} or {values[-1]})"
    return name


class ModelExposure:
    """What one annotated ModelAdmin exposes: names, fields, serializers and filters."""

    def __init__(self, model_admin, admin_site):
        self.model_admin = model_admin
        self.admin_site = admin_site
        self.model = model = model_admin.model
        self.opts = opts = model._meta
        self.singular = model_admin.mcp_name or snake(opts.verbose_name)
        self.plural = model_admin.mcp_name_plural or snake(opts.verbose_name_plural)
        self.label = str(opts.verbose_name)
        self.label_plural = str(opts.verbose_name_plural)
        self.label_with_article = with_article(self.label)
        #: The names a tool's name, title and description formats use ('{singular}', '{label_plural}', ...).
        self.wording = {
            "singular": self.singular,
            "plural": self.plural,
            "label": self.label,
            "label_plural": self.label_plural,
            "label_with_article": self.label_with_article,
        }
        self.fields = list(model_admin.get_mcp_fields())
        self.redacted = [f for f in model_admin.mcp_redacted_fields if f in self.fields]
        self.write_fields = list(model_admin.get_mcp_write_fields())
        self.search_fields = [f.lstrip("^=@") for f in model_admin.search_fields]
        # Redacted values are masked and many-to-many values are lists: neither orders rows meaningfully.
        self.orderable_fields = [
            f for f in self.fields if f not in self.redacted and not opts.get_field(f).many_to_many
        ]
        read_only = [f for f in self.fields if f not in self.write_fields]
        self.serializer_class = model_admin.mcp_serializer_class or build_model_serializer(
            model, self.fields, read_only_fields=read_only, redacted_fields=self.redacted
        )
        self.write_serializer_class = model_admin.mcp_serializer_class or build_model_serializer(
            model, self.write_fields
        )
        #: How rows are represented without a serializer per call; None: DRF serializes them (serializers.FieldPlan).
        self.field_plan = field_plan_for(self.serializer_class)
        self.item_schema = output_schema(self.serializer_class())
        #: The keys of a row, which a search's `fields` may choose from; the pk's is always sent.
        self.output_fields = list(self.item_schema["properties"])
        self.pk_key = opts.pk.name if opts.pk.name in self.output_fields else None
        self.pk_schema = pk_schema(model)
        self.filters, self.skipped_filters = build_filters(model, model_admin.list_filter)
        # Descriptions name the fields in their verbose names: words an agent matches a request against.
        self.wording["field_words"] = and_list([field_words(opts, f) for f in self.fields if f != opts.pk.name])
        self.wording["write_field_words"] = and_list([field_words(opts, f, choices=True) for f in self.write_fields])
        self.search_words = [field_words(opts, f) for f in self.search_fields]

    def context(self, request):
        return {"request": request, "admin_site": self.admin_site}

    def serialize(self, request, obj, many=False):
        plan = self.field_plan
        if plan is None:
            return self.serializer_class(obj, many=many, context=self.context(request)).data
        # The output does not depend on the request, so the plan needs no context (serializers.FieldPlan).
        return plan.represent_many(obj) if many else plan.represent(obj)

    def page_rows(self, queryset):
        """What a page of *queryset* is read as: the columns the field plan represents, or model instances."""
        return queryset.values_list(*self.field_plan.columns) if self.reads_columns else queryset

    def serialize_page(self, request, rows):
        """Serialize rows read through `page_rows`."""
        return (
            self.field_plan.represent_columns(rows) if self.reads_columns else self.serialize(request, rows, many=True)
        )

    @property
    def reads_columns(self):
        return self.field_plan is not None and self.field_plan.columns is not None

    def get_visible_object(self, request, object_id):
        """Return the object the caller may see, or raise a not-found ToolError (never leaking existence)."""
        obj = self.model_admin.get_object(request, str(object_id))
        if obj is None or not self.model_admin.has_view_or_change_permission(request, obj):
            raise ToolError(
                f"No {self.label} with id {object_id!r} exists, or you may not see it. "
                f"Use search_{self.plural} to find valid ids."
            )
        return obj

    def queryset(self, request):
        return self.model_admin.get_mcp_queryset(request)


def _field_value(obj, name):
    field = obj._meta.get_field(name)
    if field.many_to_many:
        return sorted(getattr(obj, name).values_list("pk", flat=True)) if obj.pk else []
    return field.value_from_object(obj)


class ModelTool(McpTool):
    """A tool generated from a ModelExposure, declared by class attributes as a generic view is.

    `name_format`, `title_format`, `description_format` and `id_description_format` are formatted
    with the exposure's `wording` and the `operation` ('{operation}_{singular}': 'get_order';
    '{Operation} {label_with_article}': 'Get an order'); the ModelAdmin's
    `mcp_description` follows the description. `model_permission` names the admin hook a caller must
    pass, `has_<model_permission>_permission`, and reads as the permission the docs list. Each
    `get_*()` hook builds one part; a kind overrides the hooks a format cannot express.
    """

    operation = ""
    name_format = "{operation}_{singular}"
    title_format = "{Operation} {label_with_article}"
    description_format = ""
    #: The `id` argument's description, for the tools that act on one object.
    id_description_format = ""
    model_permission = ""
    #: Admin hooks and actions report through message_user(), not the MCP connection.
    sends_notifications = False

    def __init__(self, exposure):
        self.exposure = exposure
        self.model_admin = exposure.model_admin
        self.kind = self.operation
        self.name = self.get_name()
        self.title = self.get_title()
        self.input_schema = self.get_input_schema()
        self.output_schema = self.get_output_schema()
        self.description = self.get_description()
        self.required_permissions = self.get_required_permissions()

    def wording(self, text):
        return text.format(operation=self.operation, Operation=capfirst(self.operation), **self.exposure.wording)

    def get_name(self):
        return self.wording(self.name_format)

    def get_title(self):
        return self.wording(self.title_format)

    def get_description(self):
        return self.wording(self.description_format) + self.extra_description()

    def extra_description(self):
        """The ModelAdmin's own words for this tool (`get_mcp_description(operation)`), after a space."""
        extra = self.model_admin.get_mcp_description(self.operation)
        return f" {extra}" if extra else ""

    def get_input_schema(self):
        """The object chosen by `id`; tools that take other arguments override this."""
        return {
            "type": "object",
            "properties": {"id": self.id_argument()},
            "required": ["id"],
            "additionalProperties": False,
        }

    def id_argument(self):
        return {**self.exposure.pk_schema, "description": self.wording(self.id_description_format)}

    def get_output_schema(self):
        return with_budget_keys(self.exposure.item_schema)

    def get_required_permissions(self):
        return (f"{self.model_permission.replace('_', ' ')} {self.exposure.label}",)

    @property
    def admin_permission(self):
        """The admin's `has_<model_permission>_permission(request, obj=None)` hook, as its own views ask it."""
        return getattr(self.model_admin, f"has_{self.model_permission}_permission")

    def has_model_permission(self, request):
        return self.admin_permission(request)


class SearchTool(ModelTool):
    operation = "search"
    read_only = True
    destructive = False
    idempotent = True
    name_format = "search_{plural}"
    title_format = "Search {label_plural}"
    model_permission = "view_or_change"

    def get_input_schema(self):
        e = self.exposure
        properties = {}
        if e.search_fields:
            properties["query"] = {
                "type": "string",
                "maxLength": MAX_SEARCH_LENGTH,
                "description": (
                    f"Free text matched against {', '.join(e.search_fields)}. Every word must match (at most "
                    f"{MAX_SEARCH_WORDS} words). Unless ordering is given, results where a field equals the whole "
                    "query come first, then those where one starts with it, then the rest."
                ),
            }
        for flt in e.filters:
            properties.update(flt.arguments())
        properties["ordering"] = {
            "type": "string",
            "enum": [v for f in e.orderable_fields for v in (f, f"-{f}")],
            "description": "Sort by this field; prefix '-' for descending. Defaults to the admin's ordering.",
        }
        properties["page_size"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": mcp_settings.MAX_PAGE_SIZE,
            "default": mcp_settings.PAGE_SIZE,
            "description": f"How many {e.label_plural} per page (1-{mcp_settings.MAX_PAGE_SIZE}).",
        }
        properties["cursor"] = {
            "type": "string",
            "description": "The next_cursor of the previous page, to continue the same search.",
        }
        always = f"; {e.pk_key} is always included" if e.pk_key else ""
        properties["fields"] = {
            "type": "array",
            "items": {"type": "string", "enum": e.output_fields},
            "minItems": 1,
            "uniqueItems": True,
            "description": f"Only these fields of each {e.label}{always}; all fields if omitted. Ask for fewer to "
            "fit more results in one answer.",
        }
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def get_output_schema(self):
        e = self.exposure
        schema = list_schema(e.item_schema, always_present=())  # `fields` may ask for fewer
        schema["properties"]["items"]["description"] = (
            f"The {e.label_plural} found: every field, or those `fields` names"
            + (f" and {e.pk_key}." if e.pk_key else ".")
        )
        return with_budget_keys(schema)

    def get_description(self):
        e = self.exposure
        filter_names = [filter_words(name, schema) for flt in e.filters for name, schema in flt.arguments().items()]
        return (
            f"Search {e.label_plural}"
            + (f": find them by their {or_list(e.search_words)}" if e.search_words else "")
            + (f", and filter them by {and_list(filter_names)}" if filter_names else "")
            + f". Use it to find {e.label_plural} matching criteria or to look up the id of {e.label_with_article} "
            f"before calling get_{e.singular}. Returns up to page_size {e.label_plural} "
            f"(default {mcp_settings.PAGE_SIZE}, at most {mcp_settings.MAX_PAGE_SIZE}) and a next_cursor for the next page; "
            f"only {e.label_plural} you are allowed to see are included. `fields` asks for fewer fields; a page too "
            "large for one answer is cut short, and its next_cursor continues right after it."
            + self.extra_description()
        )

    def run(self, request, arguments):
        e = self.exposure
        offset = read_cursor(self.name, arguments)
        queryset = e.queryset(request)
        query = (arguments.get("query") or "").strip()
        if query:
            check_search_terms(query)
            queryset, may_have_duplicates = self.model_admin.get_search_results(request, queryset, query)
            if may_have_duplicates:
                queryset = queryset.distinct()
        for flt in e.filters:
            queryset = flt.apply(queryset, arguments)
        ordering = (
            [arguments["ordering"]]
            if arguments.get("ordering")
            else list(self.model_admin.get_ordering(request) or e.opts.ordering or ["-pk"])
        )
        if not {"pk", "-pk", e.opts.pk.name, f"-{e.opts.pk.name}"} & set(ordering):
            ordering.append("-pk")  # a total order, so pages never overlap or skip
        if query and not arguments.get("ordering"):
            queryset, relevance = rank_by_relevance(queryset, self.model_admin.get_search_fields(request), query)
            ordering = relevance + ordering
        page_size = arguments.get("page_size", mcp_settings.PAGE_SIZE)
        rows = list(e.page_rows(queryset.order_by(*ordering))[offset : offset + page_size + 1])
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        items = e.serialize_page(request, rows)
        if arguments.get("fields"):
            shown = {*arguments["fields"], e.pk_key}
            items = [{key: value for key, value in item.items() if key in shown} for item in items]
        page = {
            "items": items,
            "next_cursor": make_cursor(self.name, arguments, offset + page_size) if has_more else None,
        }
        try:
            return fit_page(
                page,
                room=max_chars(),
                resume_after=lambda k: make_cursor(self.name, arguments, offset + k),
                describe=self.describe_cut,
            )
        except TooLarge:
            first = items[0].get(e.pk_key) if e.pk_key else None
            raise ToolError(
                f"The first {e.label} of this page{f' (id {first})' if first is not None else ''} is larger than a "
                f"result may be ({max_chars()} characters), even with its texts shortened. Ask for fewer fields "
                "with `fields`."
            ) from None

    def describe_cut(self, returned, page_length, shortened, more):
        """The sentence saying how a page was cut to fit the size limit, and how to get the rest."""
        e = self.exposure
        rest = (
            f" Call {self.name} again with the same arguments and cursor set to next_cursor for the rest; ask for "
            "fewer `fields` or a smaller page_size to get more in one result."
            if more
            else ""
        )
        if not shortened:
            return (
                f"Only {returned} of the {page_length} {e.label_plural} of this page fit in one result "
                f"({max_chars()} characters).{rest}"
            )
        fields = ", ".join(dict.fromkeys(path.rpartition(".")[2] for path in shortened))
        return (
            f"This {e.label} alone is larger than one result may be ({max_chars()} characters): its {fields} "
            "ended with a marker saying how many characters were left out; ask for fewer `fields`, or read the "
            f"full text in the Django admin.{rest}"
        )


class GetTool(ModelTool):
    operation = "get"
    read_only = True
    destructive = False
    idempotent = True
    description_format = (
        "Look up one {label} by its id number and read its {field_words}. Use it when you know the id "
        "(from search_{plural} or another result). Returns the {label}; an error if no {label} "
        "with that id exists or you may not see it."
    )
    id_description_format = "The {label}'s id."
    model_permission = "view_or_change"

    def run(self, request, arguments):
        obj = self.exposure.get_visible_object(request, arguments["id"])
        return self.exposure.serialize(request, obj)


class WriteTool(ModelTool):
    read_only = False

    def get_object_to_write(self, request, object_id):
        """Return the object the caller may see and may write, as `model_permission` says (else an error)."""
        obj = self.exposure.get_visible_object(request, object_id)
        if not self.admin_permission(request, obj):
            raise PermissionDenied(f"You may view this {self.exposure.label} but not {self.model_permission} it.")
        return obj

    def changed_fields_message(self, names):
        """The admin's change message: capitalised, untranslated labels of the fields that changed."""
        opts = self.exposure.opts
        with translation.override(None):
            fields = [capfirst(str(opts.get_field(name).verbose_name)) for name in names]
        return [{"changed": {"fields": fields}}] if fields else []

    def check_read_only(self, request, obj, arguments):
        blocked = sorted(set(arguments) & set(self.model_admin.get_readonly_fields(request, obj)))
        if blocked:
            raise ToolError(f"{', '.join(blocked)} cannot be changed here: the admin marks them read-only.")

    def save(self, request, obj, data, *, change):
        """Validate *data* like the admin form, then save *obj* and log it as the admin's change form does."""
        e = self.exposure
        instance = obj if change else None
        self.check_read_only(request, instance, data)
        serializer = e.write_serializer_class(instance, data=data, partial=change, context=e.context(request))
        serializer.is_valid(raise_exception=True)
        validated = serializer.validated_data
        before = {name: _field_value(obj, name) for name in validated} if change else {}
        many_to_many = {}
        for name, value in validated.items():
            if e.opts.get_field(name).many_to_many:
                many_to_many[name] = value
            else:
                setattr(obj, name, value)
        obj.full_clean()
        self.model_admin.save_model(request, obj, None, change)
        for name, value in many_to_many.items():
            getattr(obj, name).set(value)
        if change:
            changed = [name for name in before if _field_value(obj, name) != before[name]]
            self.model_admin.log_change(request, obj, self.changed_fields_message(changed))
        else:
            self.model_admin.log_addition(request, obj, [{"added": {}}])
        return obj


class CreateTool(WriteTool):
    operation = "create"
    destructive = False
    idempotent = False
    description_format = (
        "Create {label_with_article}: add a new {label} with its {write_field_words}. Use it only when the user "
        "asks to add a new {label}; search first to avoid "
        "duplicates. The input is validated like the admin form; returns the created {label} with its id. "
        "Creates exactly one record per call."
    )
    model_permission = "add"

    def get_input_schema(self):
        return input_schema(self.exposure.write_serializer_class())

    def run(self, request, arguments):
        return self.exposure.serialize(request, self.save(request, self.exposure.model(), arguments, change=False))


class UpdateTool(WriteTool):
    operation = "update"
    destructive = True
    idempotent = True
    description_format = (
        "Change fields of one {label} (its {write_field_words}): pass its id and only the fields to change. Use it "
        "when the user asks to correct, update or mark {label_with_article}. Validated like the admin form; returns the {label} after the change. "
        "Overwrites the given fields; it cannot be undone automatically."
    )
    id_description_format = "The id of the {label} to change."
    model_permission = "change"

    def get_input_schema(self):
        schema = input_schema(
            self.exposure.write_serializer_class(),
            partial=True,
            extra_properties={"id": self.id_argument()},
            extra_required=["id"],
        )
        schema["minProperties"] = 2  # the id and at least one field to change
        return schema

    def run(self, request, arguments):
        obj = self.get_object_to_write(request, arguments["id"])
        changes = {k: v for k, v in arguments.items() if k != "id"}
        return self.exposure.serialize(request, self.save(request, obj, changes, change=True))


class DeleteTool(WriteTool):
    operation = "delete"
    destructive = True
    idempotent = True
    description_format = (
        "Permanently delete one {label} and the records that cascade with it. Use it only when the user "
        "explicitly asks to delete this {label}. Refused if other records protect it or you may not delete "
        "everything that would cascade. Returns what was deleted. Cannot be undone."
    )
    id_description_format = "The id of the {label} to delete."
    model_permission = "delete"

    def get_output_schema(self):
        schema = {
            "type": "object",
            "properties": {
                "deleted": {"type": "boolean"},
                "id": as_output_schema(self.exposure.pk_schema),
                "also_deleted": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "description": "Related records deleted with it, by kind.",
                },
            },
            "required": ["deleted", "id", "also_deleted"],
        }
        return with_budget_keys(schema)

    def run(self, request, arguments):
        e = self.exposure
        obj = self.get_object_to_write(request, arguments["id"])
        _, model_count, perms_needed, protected = self.model_admin.get_deleted_objects([obj], request)
        if protected:
            raise ToolError(
                f"This {e.label} cannot be deleted: {len(protected)} related record(s) protect it "
                f"({'; '.join(strip_tags(str(p)) for p in protected[:5])}). Delete or reassign them first."
            )
        if perms_needed:
            raise PermissionDenied(
                f"Deleting this {e.label} would also delete {', '.join(sorted(str(p) for p in perms_needed))}, which you may not delete."
            )
        object_id = obj.pk
        self.model_admin.log_deletions(request, e.model._meta.default_manager.filter(pk=object_id))
        self.model_admin.delete_model(request, obj)
        also = {str(k): v for k, v in model_count.items() if str(k) != e.label_plural}
        return {"deleted": True, "id": object_id, "also_deleted": also}


def unknown_action_error(model_admin, action_name):
    """The error for an `mcp_actions` entry that is not one of the admin's actions (mcp_bridge.E004)."""
    return AnnotationError(
        f"The value of 'mcp_actions' contains {action_name!r}, which is not an action of {type(model_admin).__qualname__}.",
        id="mcp_bridge.E004",
        obj=type(model_admin),
        hint="List the action in the ModelAdmin's `actions` first.",
    )


#: What an action's `mcp_action` annotation may declare (see decorators.action), with MCP's defaults:
#: a tool that says nothing may destroy data and may not be repeated safely.
ACTION_OPTIONS = {"description": "", "destructive": True, "idempotent": False}


def action_options(model_admin, action_name, func):
    """Return ACTION_OPTIONS as the action's `mcp_action` annotation sets them, or raise AnnotationError."""
    declared = getattr(func, "mcp_action", {})
    action = f"The MCP annotation (mcp_action) of the action {action_name!r} of {type(model_admin).__qualname__}"
    usage = "Annotate the action with @mcp_bridge.action(description=..., destructive=..., idempotent=...)."
    if not isinstance(declared, dict):
        raise AnnotationError(
            f"{action} must be a dict, not {type(declared).__name__}.",
            id="mcp_bridge.E111",
            obj=type(model_admin),
            hint=usage,
        )
    unknown = sorted(set(declared) - set(ACTION_OPTIONS), key=str)
    if unknown:
        raise AnnotationError(
            f"{action} has the unknown key(s) {', '.join(map(repr, unknown))}.",
            id="mcp_bridge.E110",
            obj=type(model_admin),
            hint=f"Use only {', '.join(map(repr, ACTION_OPTIONS))}. " + usage,
        )
    for key in ("destructive", "idempotent"):
        if not isinstance(declared.get(key, False), bool):
            raise AnnotationError(
                f"{action} sets {key!r} to {declared[key]!r}; it must be True or False.",
                id="mcp_bridge.E111",
                obj=type(model_admin),
                hint=usage,
            )
    if not isinstance(declared.get("description", ""), (str, Promise)):
        raise AnnotationError(
            f"{action} sets 'description' to {declared['description']!r}; it must be text.",
            id="mcp_bridge.E111",
            obj=type(model_admin),
            hint=usage,
        )
    options = {**ACTION_OPTIONS, **declared}
    options["description"] = str(options["description"]).strip()
    return options


class ActionTool(ModelTool):
    """One admin action, run on a list of ids exactly as the admin's action dropdown would.

    Its title is the action's own description; its hints and any text for the calling model come
    from the action's `@mcp_bridge.action` annotation (MCP's defaults without one: destructive, not
    idempotent).
    """

    operation = "action"
    read_only = False

    def __init__(self, exposure, action_name):
        model_admin = exposure.model_admin
        action = model_admin.get_action(action_name)
        if action is None:
            raise unknown_action_error(model_admin, action_name)
        self.func, self.action_name, self.short_description = action
        options = action_options(model_admin, action_name, self.func)
        self.destructive = options["destructive"]
        self.idempotent = options["idempotent"]
        self.action_description = options["description"]
        super().__init__(exposure)

    def get_name(self):
        plural = self.exposure.plural
        return self.action_name if self.action_name.endswith(plural) else f"{self.action_name}_{plural}"

    def get_title(self):
        return str(self.short_description)

    def get_input_schema(self):
        limit = mcp_settings.MAX_ACTION_OBJECTS
        return {
            "type": "object",
            "properties": {
                "ids": {
                    "type": "array",
                    "items": self.exposure.pk_schema,
                    "minItems": 1,
                    "maxItems": limit,
                    "uniqueItems": True,
                    "description": f"Ids of the {self.exposure.label_plural} to act on (at most {limit}).",
                }
            },
            "required": ["ids"],
            "additionalProperties": False,
        }

    def get_output_schema(self):
        return with_budget_keys(
            {
                "type": "object",
                "properties": {
                    "ids": {"type": "array", "items": as_output_schema(self.exposure.pk_schema)},
                    "messages": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["ids", "messages"],
            }
        )

    def get_description(self):
        e = self.exposure
        label = str(self.short_description)
        return (
            f"Admin action '{label}' on {e.label_plural} chosen by id. Use it when the user asks to "
            f"{label.lower()}; find ids with search_{e.plural}. Runs on at most {mcp_settings.MAX_ACTION_OBJECTS} "
            f"{e.label_plural} per call, all or none. Returns the ids acted on and the admin's messages."
            + (f" {self.action_description}" if self.action_description else "")
        )

    def get_required_permissions(self):
        return tuple(getattr(self.func, "allowed_permissions", ()) or ("view or change",))

    def has_model_permission(self, request):
        # get_actions() applies each action's `allowed_permissions`, exactly as the changelist does.
        return self.action_name in self.model_admin.get_actions(request)

    def run(self, request, arguments):
        e = self.exposure
        ids = arguments["ids"]
        queryset = e.queryset(request).filter(pk__in=ids)
        found = {str(pk) for pk in queryset.values_list("pk", flat=True)}
        missing = [i for i in ids if str(i) not in found]
        if missing:
            raise ToolError(
                f"No {e.label_plural} with id(s) {', '.join(map(str, missing))} exist, or you may not see them. "
                f"Nothing was changed; check the ids with search_{e.plural}."
            )
        response = self.func(self.model_admin, request, queryset)
        if isinstance(response, HttpResponseBase):
            raise ToolError(
                f"The action '{self.action_name}' needs its confirmation page in the Django admin; it cannot run over MCP."
            )
        return {"ids": ids, "messages": request.messages_text()}


GENERATED_TOOLS = {
    "search": SearchTool,
    "get": GetTool,
    "create": CreateTool,
    "update": UpdateTool,
    "delete": DeleteTool,
}
