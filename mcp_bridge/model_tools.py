"""Tools generated from an annotated ModelAdmin: search, get, create, update, delete and actions.

Every tool starts from the admin's own `get_queryset(request)` and asks the admin's own
`has_*_permission` hooks, so the admin stays the single source of truth.
"""

import re

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBase
from django.utils import translation
from django.utils.html import strip_tags
from django.utils.text import capfirst

from .conf import mcp_settings
from .exceptions import AnnotationError, ToolError
from .filters import build_filters, pk_schema
from .pagination import make_cursor, read_cursor
from .schemas import as_output_schema, input_schema, list_schema, output_schema
from .search import MAX_SEARCH_LENGTH, MAX_SEARCH_WORDS, check_search_terms, rank_by_relevance
from .serializers import build_model_serializer
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
        self.fields = list(model_admin.get_mcp_fields())
        self.redacted = [f for f in model_admin.mcp_redacted_fields if f in self.fields]
        self.write_fields = list(model_admin.get_mcp_write_fields())
        read_only = [f for f in self.fields if f not in self.write_fields]
        self.serializer_class = model_admin.mcp_serializer_class or build_model_serializer(
            model, self.fields, read_only_fields=read_only, redacted_fields=self.redacted
        )
        self.write_serializer_class = model_admin.mcp_serializer_class or build_model_serializer(
            model, self.write_fields
        )
        self.item_schema = output_schema(self.serializer_class())
        self.pk_schema = pk_schema(model)
        self.filters, self.skipped_filters = build_filters(model, model_admin.list_filter)
        self.extra_description = (" " + model_admin.mcp_description.strip()) if model_admin.mcp_description else ""

    def context(self, request):
        return {"request": request, "admin_site": self.admin_site}

    def serialize(self, request, obj, many=False):
        return self.serializer_class(obj, many=many, context=self.context(request)).data

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
    operation = ""

    def __init__(self, exposure):
        self.exposure = exposure
        self.model_admin = exposure.model_admin
        self.kind = self.operation


class SearchTool(ModelTool):
    operation = "search"
    read_only = True
    destructive = False
    idempotent = True

    def __init__(self, exposure):
        super().__init__(exposure)
        e = exposure
        admin = e.model_admin
        self.name = f"search_{e.plural}"
        self.title = f"Search {e.label_plural}"
        self.search_fields = [f.lstrip("^=@") for f in admin.search_fields]
        self.orderable = [
            f for f in e.fields if f not in e.redacted and not e.opts.get_field(f).many_to_many
        ] if e.fields else []
        properties = {}
        if self.search_fields:
            properties["query"] = {
                "type": "string",
                "maxLength": MAX_SEARCH_LENGTH,
                "description": (
                    f"Free text matched against {', '.join(self.search_fields)}. Every word must match (at most "
                    f"{MAX_SEARCH_WORDS} words). Unless ordering is given, results where a field equals the whole "
                    "query come first, then those where one starts with it, then the rest."
                ),
            }
        for flt in e.filters:
            properties.update(flt.arguments())
        ordering_values = [v for f in self.orderable for v in (f, f"-{f}")]
        properties["ordering"] = {
            "type": "string",
            "enum": ordering_values,
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
        self.input_schema = {"type": "object", "properties": properties, "additionalProperties": False}
        self.output_schema = list_schema(e.item_schema)
        filter_names = [name for flt in e.filters for name in flt.arguments()]
        self.description = (
            f"Search {e.label_plural}"
            + (f" by free text ({', '.join(self.search_fields)})" if self.search_fields else "")
            + (f" and filters ({', '.join(filter_names)})" if filter_names else "")
            + f". Use it to find {e.label_plural} matching criteria or to look up the id of {e.label_with_article} "
            f"before calling get_{e.singular}. Returns up to page_size {e.label_plural} "
            f"(default {mcp_settings.PAGE_SIZE}, at most {mcp_settings.MAX_PAGE_SIZE}) and a next_cursor for the next page; "
            f"only {e.label_plural} you are allowed to see are included." + e.extra_description
        )
        self.required_permissions = (f"view or change {e.label}",)

    def has_model_permission(self, request):
        return self.model_admin.has_view_or_change_permission(request)

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
        ordering = [arguments["ordering"]] if arguments.get("ordering") else list(
            self.model_admin.get_ordering(request) or e.opts.ordering or ["-pk"]
        )
        if not {"pk", "-pk", e.opts.pk.name, f"-{e.opts.pk.name}"} & set(ordering):
            ordering.append("-pk")  # a total order, so pages never overlap or skip
        if query and not arguments.get("ordering"):
            queryset, relevance = rank_by_relevance(queryset, self.model_admin.get_search_fields(request), query)
            ordering = relevance + ordering
        page_size = arguments.get("page_size", mcp_settings.PAGE_SIZE)
        rows = list(queryset.order_by(*ordering)[offset: offset + page_size + 1])
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        return {
            "items": e.serialize(request, rows, many=True),
            "next_cursor": make_cursor(self.name, arguments, offset + page_size) if has_more else None,
        }


class GetTool(ModelTool):
    operation = "get"
    read_only = True
    destructive = False
    idempotent = True

    def __init__(self, exposure):
        super().__init__(exposure)
        e = exposure
        self.name = f"get_{e.singular}"
        self.title = f"Get {e.label_with_article}"
        self.input_schema = {
            "type": "object",
            "properties": {"id": {**e.pk_schema, "description": f"The {e.label}'s id."}},
            "required": ["id"],
            "additionalProperties": False,
        }
        self.output_schema = e.item_schema
        self.description = (
            f"Get one {e.label} by id, with all its fields you may see. Use it when you know the id "
            f"(from search_{e.plural} or another result). Returns the {e.label}; an error if no {e.label} "
            f"with that id exists or you may not see it." + e.extra_description
        )
        self.required_permissions = (f"view or change {e.label}",)

    def has_model_permission(self, request):
        return self.model_admin.has_view_or_change_permission(request)

    def run(self, request, arguments):
        obj = self.exposure.get_visible_object(request, arguments["id"])
        return self.exposure.serialize(request, obj)


class WriteTool(ModelTool):
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

    def save(self, request, obj, validated, change):
        """Validate the model and save it through the admin's save_model, as the admin form does."""
        many_to_many = {}
        for name, value in validated.items():
            field = self.exposure.opts.get_field(name)
            if field.many_to_many:
                many_to_many[name] = value
            else:
                setattr(obj, name, value)
        obj.full_clean()
        self.model_admin.save_model(request, obj, None, change)
        for name, value in many_to_many.items():
            getattr(obj, name).set(value)
        return obj


class CreateTool(WriteTool):
    operation = "create"
    read_only = False
    destructive = False
    idempotent = False

    def __init__(self, exposure):
        super().__init__(exposure)
        e = exposure
        self.name = f"create_{e.singular}"
        self.title = f"Create {e.label_with_article}"
        self.input_schema = input_schema(e.write_serializer_class())
        self.output_schema = e.item_schema
        self.description = (
            f"Create {e.label_with_article}. Use it only when the user asks to add a new {e.label}; search first to avoid "
            f"duplicates. The input is validated like the admin form; returns the created {e.label} with its id. "
            f"Creates exactly one record per call." + e.extra_description
        )
        self.required_permissions = (f"add {e.label}",)

    def has_model_permission(self, request):
        return self.model_admin.has_add_permission(request)

    def run(self, request, arguments):
        e = self.exposure
        self.check_read_only(request, None, arguments)
        serializer = e.write_serializer_class(data=arguments, context=e.context(request))
        serializer.is_valid(raise_exception=True)
        obj = self.save(request, e.model(), serializer.validated_data, change=False)
        self.model_admin.log_addition(request, obj, [{"added": {}}])
        return e.serialize(request, obj)


class UpdateTool(WriteTool):
    operation = "update"
    read_only = False
    destructive = True
    idempotent = True

    def __init__(self, exposure):
        super().__init__(exposure)
        e = exposure
        self.name = f"update_{e.singular}"
        self.title = f"Update {e.label_with_article}"
        schema = input_schema(
            e.write_serializer_class(), partial=True,
            extra_properties={"id": {**e.pk_schema, "description": f"The id of the {e.label} to change."}},
            extra_required=["id"],
        )
        schema["minProperties"] = 2
        self.input_schema = schema
        self.output_schema = e.item_schema
        self.description = (
            f"Change fields of one {e.label}: pass its id and only the fields to change. Use it when the user asks "
            f"to correct or update {e.label_with_article}. Validated like the admin form; returns the {e.label} after the change. "
            f"Overwrites the given fields; it cannot be undone automatically." + e.extra_description
        )
        self.required_permissions = (f"change {e.label}",)

    def has_model_permission(self, request):
        return self.model_admin.has_change_permission(request)

    def run(self, request, arguments):
        e = self.exposure
        changes = {k: v for k, v in arguments.items() if k != "id"}
        obj = e.get_visible_object(request, arguments["id"])
        if not self.model_admin.has_change_permission(request, obj):
            raise PermissionDenied(f"You may view this {e.label} but not change it.")
        self.check_read_only(request, obj, changes)
        serializer = e.write_serializer_class(obj, data=changes, partial=True, context=e.context(request))
        serializer.is_valid(raise_exception=True)
        before = {name: _field_value(obj, name) for name in serializer.validated_data}
        obj = self.save(request, obj, serializer.validated_data, change=True)
        changed = [name for name in before if _field_value(obj, name) != before[name]]
        self.model_admin.log_change(request, obj, self.changed_fields_message(changed))
        return e.serialize(request, obj)


class DeleteTool(WriteTool):
    operation = "delete"
    read_only = False
    destructive = True
    idempotent = True

    def __init__(self, exposure):
        super().__init__(exposure)
        e = exposure
        self.name = f"delete_{e.singular}"
        self.title = f"Delete {e.label_with_article}"
        self.input_schema = {
            "type": "object",
            "properties": {"id": {**e.pk_schema, "description": f"The id of the {e.label} to delete."}},
            "required": ["id"],
            "additionalProperties": False,
        }
        self.output_schema = {
            "type": "object",
            "properties": {
                "deleted": {"type": "boolean"},
                "id": as_output_schema(e.pk_schema),
                "also_deleted": {"type": "object", "additionalProperties": {"type": "integer"},
                                 "description": "Related records deleted with it, by kind."},
            },
            "required": ["deleted", "id", "also_deleted"],
        }
        self.description = (
            f"Permanently delete one {e.label} and the records that cascade with it. Use it only when the user "
            f"explicitly asks to delete this {e.label}. Refused if other records protect it or you may not delete "
            f"everything that would cascade. Returns what was deleted. Cannot be undone." + e.extra_description
        )
        self.required_permissions = (f"delete {e.label}",)

    def has_model_permission(self, request):
        return self.model_admin.has_delete_permission(request)

    def run(self, request, arguments):
        e = self.exposure
        obj = e.get_visible_object(request, arguments["id"])
        if not self.model_admin.has_delete_permission(request, obj):
            raise PermissionDenied(f"You may view this {e.label} but not delete it.")
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
        self.model_admin.log_deletions(request, e.model._default_manager.filter(pk=object_id))
        self.model_admin.delete_model(request, obj)
        also = {str(k): v for k, v in model_count.items() if str(k) != e.label_plural}
        return {"deleted": True, "id": object_id, "also_deleted": also}


def unknown_action_error(model_admin, action_name):
    """The error for an `mcp_actions` entry that is not one of the admin's actions (mcp_bridge.E004)."""
    return AnnotationError(
        f"The value of 'mcp_actions' contains {action_name!r}, which is not an action of {type(model_admin).__qualname__}.",
        id="mcp_bridge.E004", obj=type(model_admin), hint="List the action in the ModelAdmin's `actions` first.",
    )


class ActionTool(ModelTool):
    """One admin action, run on a list of ids exactly as the admin's action dropdown would."""

    operation = "action"
    read_only = False
    idempotent = False

    def __init__(self, exposure, action_name, options=None):
        super().__init__(exposure)
        e = exposure
        action = e.model_admin.get_action(action_name)
        if action is None:
            raise unknown_action_error(e.model_admin, action_name)
        func, name, description = action
        options = options or {}
        self.action_name = name
        self.func = func
        self.name = options.get("name") or (name if name.endswith(e.plural) else f"{name}_{e.plural}")
        self.title = str(description)
        self.destructive = options.get("destructive", True)
        limit = mcp_settings.MAX_ACTION_OBJECTS
        self.input_schema = {
            "type": "object",
            "properties": {
                "ids": {
                    "type": "array",
                    "items": e.pk_schema,
                    "minItems": 1,
                    "maxItems": limit,
                    "uniqueItems": True,
                    "description": f"Ids of the {e.label_plural} to act on (at most {limit}).",
                }
            },
            "required": ["ids"],
            "additionalProperties": False,
        }
        self.output_schema = {
            "type": "object",
            "properties": {
                "ids": {"type": "array", "items": as_output_schema(e.pk_schema)},
                "messages": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["ids", "messages"],
        }
        extra = getattr(func, "mcp_description", "") or ""
        self.description = (
            f"Admin action '{description}' on {e.label_plural} chosen by id. Use it when the user asks to "
            f"{str(description).lower()}; find ids with search_{e.plural}. Runs on at most {limit} {e.label_plural} "
            f"per call, all or none. Returns the ids acted on and the admin's messages." + (f" {extra}" if extra else "")
        )
        self.required_permissions = tuple(getattr(func, "allowed_permissions", ()) or ("view or change",))

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
            raise ToolError(f"The action '{self.action_name}' needs its confirmation page in the Django admin; it cannot run over MCP.")
        return {"ids": ids, "messages": request.messages_text()}


GENERATED_TOOLS = {
    "search": SearchTool,
    "get": GetTool,
    "create": CreateTool,
    "update": UpdateTool,
    "delete": DeleteTool,
}
