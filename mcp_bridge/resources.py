"""Resource templates generated per exposed model: one object, and its related records."""

import re

from .conf import mcp_settings
from .declarations import Declaration, check_description
from .exceptions import AnnotationError, ToolError
from .inputs import canonical_pk

COMPLETION_LIMIT = 20


class ModelResourceTemplate:
    """`<app_label>://<model>/{id}`: one object as JSON, readable by whoever may call get_<model>."""

    mime_type = "application/json"

    def __init__(self, exposure, get_tool):
        self.exposure = exposure
        self.get_tool = get_tool
        app = exposure.opts.app_label
        self.uri_template = f"{app}://{exposure.singular}/{{id}}"
        self.name = exposure.singular
        self.title = exposure.label.capitalize()
        self.description = f"One {exposure.label} as JSON, with the same fields and permissions as {get_tool.name}."
        self.pattern = re.compile(rf"^{re.escape(app)}://{re.escape(exposure.singular)}/(?P<id>[^/?#]+)$")

    def __repr__(self):
        return f"<{type(self).__name__} {self.uri_template!r}>"

    def has_permission(self, request):
        return self.get_tool.has_permission(request)

    def match(self, uri):
        found = self.pattern.match(uri)
        return found.groupdict() if found else None

    def object(self, request, object_id):
        """The object *object_id* names, if written canonically and visible to the caller (else ToolError)."""
        pk = canonical_pk(self.exposure.model, object_id)
        if pk is None:
            raise ToolError(f"No {self.exposure.label} has the id {object_id!r}.")
        return self.exposure.get_visible_object(request, pk)

    def read(self, request, params):
        return self.exposure.serialize(request, self.object(request, params["id"]))

    def complete(self, request, argument, value):
        """Suggest ids whose record matches *value* through the admin's search fields."""
        if argument != "id":
            return []
        admin = self.exposure.model_admin
        queryset = self.exposure.queryset(request)
        if value:
            matches, may_have_duplicates = admin.get_search_results(request, queryset, value)
            if may_have_duplicates:
                matches = matches.distinct()
            pk = canonical_pk(self.exposure.model, value)
            if isinstance(pk, int):  # an integer id, written canonically, is suggested as itself
                matches = matches | queryset.filter(pk=pk)
            queryset = matches
        ordering = admin.get_ordering(request) or self.exposure.opts.ordering or ["-pk"]
        return [str(pk) for pk in queryset.order_by(*ordering).values_list("pk", flat=True)[:COMPLETION_LIMIT]]


class RelatedResourceTemplate(ModelResourceTemplate):
    """`<app_label>://<model>/{id}/<relation>`: the related records of one object (first page)."""

    def __init__(self, exposure, get_tool, relation, child_exposure, child_search_tool):
        super().__init__(exposure, get_tool)
        rel = find_reverse_relation(exposure.model_admin, relation)
        self.relation = relation
        self.field_name = rel.field.name
        self.child = child_exposure
        self.child_search_tool = child_search_tool
        app = exposure.opts.app_label
        self.uri_template = f"{app}://{exposure.singular}/{{id}}/{relation}"
        self.name = f"{exposure.singular}_{relation}"
        self.title = f"{child_exposure.label_plural.capitalize()} of {exposure.label_with_article}"
        self.description = (
            f"The {child_exposure.label_plural} of one {exposure.label}, newest first, at most "
            f"{mcp_settings.MAX_PAGE_SIZE}; use {child_search_tool.name} with filters for more."
        )
        self.pattern = re.compile(
            rf"^{re.escape(app)}://{re.escape(exposure.singular)}/(?P<id>[^/?#]+)/{re.escape(relation)}$"
        )

    def has_permission(self, request):
        return self.get_tool.has_permission(request) and self.child_search_tool.has_permission(request)

    def read(self, request, params):
        parent = self.object(request, params["id"])
        child_admin = self.child.model_admin
        ordering = child_admin.get_ordering(request) or self.child.opts.ordering or ["-pk"]
        rows = list(
            self.child.queryset(request)
            .filter(**{self.field_name: parent})
            .order_by(*ordering)[: mcp_settings.MAX_PAGE_SIZE]
        )
        return {"items": self.child.serialize(request, rows, many=True)}


def find_reverse_relation(model_admin, accessor):
    """Return the reverse relation of the admin's model named *accessor* ('orders'), or raise AnnotationError."""
    opts = model_admin.model._meta
    for rel in opts.related_objects:
        if rel.get_accessor_name() == accessor:
            return rel
    raise AnnotationError(
        f"The value of 'mcp_related_resources' contains {accessor!r}, which is not a reverse relation of '{opts.label}'.",
        id="mcp_bridge.E008",
        obj=type(model_admin),
        hint=f"Reverse relations of {opts.label}: {', '.join(r.get_accessor_name() for r in opts.related_objects) or 'none'}.",
    )


class CustomResource(Declaration):
    """A resource registered with `site.resource(uri)`; `func(request)` returns str, bytes or JSON data."""

    is_template = False

    def __init__(self, func, *, uri, name, description, title=None, mime_type="text/plain", permissions=()):
        check_description(f"Resource {uri!r}", description, owner=func, content="what the resource holds")
        super().__init__(func, name=name, title=title, description=description)
        self.uri = uri
        self.mime_type = mime_type
        self.permissions = tuple(permissions)

    def __repr__(self):
        return f"<{type(self).__name__} {self.uri!r}>"

    def has_permission(self, request):
        return all(request.user.has_perm(permission) for permission in self.permissions)

    def match(self, uri):
        return {} if uri == self.uri else None

    def read(self, request, params):
        return self.func(request, **params)

    def complete(self, request, argument, value):
        return []


class CustomResourceTemplate(CustomResource):
    """A template registered with `site.resource_template('scheme://x/{id}')`; `func(request, **params)`."""

    is_template = True

    def __init__(self, func, *, uri_template, complete=None, **options):
        super().__init__(func, uri=uri_template, **options)
        self.uri_template = uri_template
        self.completer = complete
        pattern, position = "", 0
        for found in re.finditer(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}", uri_template):
            pattern += re.escape(uri_template[position : found.start()]) + f"(?P<{found.group(1)}>[^/?#]+)"
            position = found.end()
        self.pattern = re.compile("^" + pattern + re.escape(uri_template[position:]) + "$")

    def match(self, uri):
        found = self.pattern.match(uri)
        return found.groupdict() if found else None

    def complete(self, request, argument, value):
        return list(self.completer(request, argument, value)) if self.completer else []
