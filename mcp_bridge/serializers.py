"""DRF serializers built from a ModelAdmin's MCP annotation."""

import copy
import inspect

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, signals
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.manager import BaseManager
from django.db.models.query_utils import DeferredAttribute
from django.utils.text import capfirst
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

from .admin_sites import model_admin_for


def mask(value):
    """Hide all but a hint of *value*: 'jane@example.com' -> 'j***@example.com'."""
    if value in (None, ""):
        return value
    text = str(value)
    if "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{text[:1]}***"


class RedactedField(serializers.ReadOnlyField):
    """A read-only field whose value is masked on output."""

    def to_representation(self, value):
        return mask(value)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related-object id that must be visible to the caller through the related ModelAdmin.

    Without this a caller could attach a record to a parent they are not allowed to see. The related
    model's admin is looked up in the same admin site, as the admin's own autocomplete does; a model
    that site does not register has no rows a caller may pick (system check mcp_bridge.E007).
    """

    default_error_messages = {
        "not_in_admin": "{model_plural} cannot be chosen here: the admin does not manage them, so none is visible to you.",
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        request, admin_site = self.context.get("request"), self.context.get("admin_site")
        if request is None or admin_site is None:
            return queryset  # not an MCP call (e.g. output only): nothing to scope by
        related_admin = model_admin_for(admin_site, queryset.model)
        return queryset.none() if related_admin is None else related_admin.get_queryset(request)

    def to_internal_value(self, data):
        admin_site = self.context.get("admin_site")
        if admin_site is not None and model_admin_for(admin_site, self.queryset.model) is None:
            self.fail("not_in_admin", model_plural=capfirst(self.queryset.model._meta.verbose_name_plural))
        return super().to_internal_value(data)


class McpModelSerializer(serializers.ModelSerializer):
    serializer_related_field = ScopedPrimaryKeyRelatedField


class PrebuiltFieldsMixin:
    """Build a generated serializer's fields once per class, not on every instantiation.

    ModelSerializer.get_fields() introspects the model and builds every field on each
    instantiation, which costs more than serializing a page of rows. A generated serializer's
    fields depend only on its class (model, field names, read-only and redacted fields), so the
    first build is kept and each instance gets fresh, unbound copies (DRF copies declared fields
    the same way), keeping context and binding per instance and per thread. The copies are still
    needed: an instance binds its fields to itself, and validation (writes, scoped relations) reads
    that instance's context through them. Reads of generated serializers skip instantiation
    altogether (FieldPlan).
    """

    def get_fields(self):
        prototypes = type(self).__dict__.get("prebuilt_fields")
        if prototypes is None:
            prototypes = super().get_fields()
            type(self).prebuilt_fields = prototypes
        return copy.deepcopy(prototypes)


#: Field classes whose output depends on the row alone: their get_attribute and to_representation read
#: neither the serializer's context (the request) nor any state they write. Exact classes, not subclasses,
#: since a subclass may override either method. Not here: FileField and ImageField (absolute URLs from the
#: request), the hyperlinked fields, SerializerMethodField and nested serializers.
CONTEXT_FREE_FIELDS = frozenset(
    {
        serializers.BooleanField,
        serializers.CharField,
        serializers.EmailField,
        serializers.RegexField,
        serializers.SlugField,
        serializers.URLField,
        serializers.UUIDField,
        serializers.IPAddressField,
        serializers.IntegerField,
        # DRF 3.17 added BigIntegerField (BigAutoField ids); 3.16 maps them to IntegerField.
        getattr(serializers, "BigIntegerField", serializers.IntegerField),
        serializers.FloatField,
        serializers.DecimalField,
        serializers.DateTimeField,
        serializers.DateField,
        serializers.TimeField,
        serializers.DurationField,
        serializers.ChoiceField,
        serializers.MultipleChoiceField,
        serializers.FilePathField,
        serializers.JSONField,
        serializers.ListField,
        serializers.DictField,
        serializers.HStoreField,
        serializers.ReadOnlyField,
        serializers.ModelField,
        serializers.PrimaryKeyRelatedField,
        serializers.SlugRelatedField,
        serializers.StringRelatedField,
        serializers.ManyRelatedField,
        ScopedPrimaryKeyRelatedField,
        RedactedField,
    }
)


#: The descriptors Django gives a concrete field's attribute; a project's own may change values on access.
PLAIN_DESCRIPTORS = frozenset({DeferredAttribute, ForeignKeyDeferredAttribute})


def output_ignores_context(field):
    """Whether *field* represents a row the same way whatever the call (request) is."""
    if type(field) not in CONTEXT_FREE_FIELDS or getattr(field.default, "requires_context", False):
        return False  # a default such as CurrentUserDefault fills a missing attribute from the request
    # The fields a field delegates to: a list's items, a many-to-many's related field, a relation's pk field.
    delegates = (getattr(field, name, None) for name in ("child", "child_relation", "pk_field"))
    return all(output_ignores_context(delegate) for delegate in delegates if delegate is not None)


class FieldPlan:
    """A generated serializer's output without instantiating the serializer on every call.

    An instance copies and binds every field (PrebuiltFieldsMixin) and then represents each row, and
    the copy costs more than a row. A plan binds the fields once, on a prototype instance, and
    represents rows with exactly the steps of DRF's Serializer.to_representation and
    ListSerializer.to_representation. It returns plain dicts and lists: the same JSON, in the same
    order, as DRF's ReturnDict and ReturnList.

    build_model_serializer compiles one per class, and only where that cannot change the output (see
    `compile`); every other serializer, a project's own `mcp_serializer_class` included, keeps DRF's path.

    Thread safety: the bound fields are shared by all worker threads. Binding, the one step that writes
    to a field, happens once, before the plan is shared; the get_attribute and to_representation of every
    CONTEXT_FREE_FIELDS class only read the field's configuration, so concurrent calls cannot interfere.
    """

    def __init__(self, readable_fields, model):
        self.readable_fields = tuple(
            (field.field_name, field.get_attribute, field.to_representation) for field in readable_fields
        )
        #: The model columns a row is read from instead of a model instance; None: instances are needed.
        self.columns = None
        columns = [column_of(model, field) for field in readable_fields]
        if None not in columns and reads_plain_rows(model):
            self.columns = tuple(column for column, _ in columns)
            self.column_fields = tuple(
                (field.field_name, field.to_representation, pk_only)
                for field, (_, pk_only) in zip(readable_fields, columns, strict=True)
            )

    @classmethod
    def compile(cls, serializer_class):
        """Return the plan of *serializer_class*, or None if its output may depend on more than the row."""
        if serializer_class.to_representation is not serializers.Serializer.to_representation:
            return None
        prototype = serializer_class(context={})
        readable = [field for field in prototype.fields.values() if not field.write_only]
        if not all(output_ignores_context(field) for field in readable):
            return None
        return cls(readable, serializer_class.Meta.model)

    def represent(self, instance):
        row = {}
        for name, get_attribute, to_representation in self.readable_fields:
            try:
                attribute = get_attribute(instance)
            except SkipField:
                continue
            # As DRF: None stays None without to_representation; a relation's pk-only stand-in is None by its pk.
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            row[name] = None if check_for_none is None else to_representation(attribute)
        return row

    def represent_many(self, rows):
        rows = rows.all() if isinstance(rows, BaseManager) else rows
        return [self.represent(row) for row in rows]

    def represent_columns(self, rows):
        """Represent rows read as `values_list(*self.columns)`: what `represent_many` gives for their instances.

        A column holds what the instance's attribute would: DRF reads a concrete field through the
        model's plain descriptor, and a primary-key relation as a pk-only stand-in built from its column.
        """
        fields = self.column_fields
        return [
            {
                name: None if value is None else to_representation(PKOnlyObject(pk=value) if pk_only else value)
                for (name, to_representation, pk_only), value in zip(fields, row, strict=True)
            }
            for row in rows
        ]


def reads_plain_rows(model):
    """Whether *model*'s instances hold exactly what `values_list()` reads: nothing runs when one is made."""
    return (
        model.from_db.__func__ is Model.from_db.__func__
        and model.__init__ is Model.__init__
        and not signals.post_init.has_listeners(model)
    )


def column_of(model, field):
    """(the model column *field* reads, whether DRF reads it as a pk-only relation) or None.

    None when the field reads anything but one concrete column through the model's plain descriptor:
    a dotted source, a method or property, a many-to-many, a relation represented by more than its
    key, or a custom descriptor that could change the value on access.
    """
    if len(field.source_attrs) != 1:
        return None
    try:
        model_field = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None
    if not model_field.concrete or model_field.many_to_many:
        return None
    pk_only = isinstance(field, serializers.PrimaryKeyRelatedField) and field.use_pk_only_optimization()
    if model_field.is_relation != pk_only or (pk_only and field.pk_field is not None):
        return None
    if type(inspect.getattr_static(model, model_field.attname, None)) not in PLAIN_DESCRIPTORS:
        return None
    return model_field.attname, pk_only


def field_plan_for(serializer_class):
    """The FieldPlan build_model_serializer compiled for *serializer_class*, or None (DRF serializes it)."""
    return serializer_class.__dict__.get("field_plan")


def build_model_serializer(model, fields, *, read_only_fields=(), redacted_fields=(), base=McpModelSerializer):
    """Return a ModelSerializer class for *model* with exactly *fields*, and its FieldPlan where one applies."""
    meta_attrs = {"model": model, "fields": list(fields), "read_only_fields": list(read_only_fields)}
    attrs = {"Meta": type("Meta", (), meta_attrs)}
    for name in redacted_fields:
        field = model._meta.get_field(name)
        attrs[name] = RedactedField(help_text=f"{field.help_text or field.verbose_name} (redacted)")
    serializer_class = type(f"{model.__name__}McpSerializer", (PrebuiltFieldsMixin, base), attrs)
    serializer_class.field_plan = FieldPlan.compile(serializer_class)
    return serializer_class
