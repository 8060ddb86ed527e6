"""DRF serializers built from a ModelAdmin's MCP annotation."""

import copy

from rest_framework import serializers


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

    Without this a caller could attach a record to a parent they are not allowed to see.
    """

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        admin_site = self.context.get("admin_site")
        if request is None or admin_site is None:
            return queryset
        related_admin = admin_site._registry.get(queryset.model)
        if related_admin is None:
            return queryset
        return related_admin.get_queryset(request)


class McpModelSerializer(serializers.ModelSerializer):
    serializer_related_field = ScopedPrimaryKeyRelatedField


class PrebuiltFieldsMixin:
    """Build a generated serializer's fields once per class, not on every instantiation.

    ModelSerializer.get_fields() introspects the model and builds every field on each
    instantiation, which costs more than serializing a page of rows. A generated serializer's
    fields depend only on its class (model, field names, read-only and redacted fields), so the
    first build is kept and each instance gets fresh, unbound copies (DRF copies declared fields
    the same way), keeping context and binding per instance and per thread.
    """

    def get_fields(self):
        prototypes = type(self).__dict__.get("_prebuilt_fields")
        if prototypes is None:
            prototypes = super().get_fields()
            type(self)._prebuilt_fields = prototypes
        return copy.deepcopy(prototypes)


def build_model_serializer(model, fields, *, read_only_fields=(), redacted_fields=(), base=McpModelSerializer):
    """Return a ModelSerializer class for *model* with exactly *fields*."""
    meta_attrs = {"model": model, "fields": list(fields), "read_only_fields": list(read_only_fields)}
    attrs = {"Meta": type("Meta", (), meta_attrs)}
    for name in redacted_fields:
        field = model._meta.get_field(name)
        attrs[name] = RedactedField(help_text=f"{field.help_text or field.verbose_name} (redacted)")
    return type(f"{model.__name__}McpSerializer", (PrebuiltFieldsMixin, base), attrs)
