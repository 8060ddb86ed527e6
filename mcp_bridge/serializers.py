"""DRF serializers built from a ModelAdmin's MCP annotation."""

import copy

from django.utils.text import capfirst
from rest_framework import serializers

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
    the same way), keeping context and binding per instance and per thread.
    """

    def get_fields(self):
        prototypes = type(self).__dict__.get("prebuilt_fields")
        if prototypes is None:
            prototypes = super().get_fields()
            type(self).prebuilt_fields = prototypes
        return copy.deepcopy(prototypes)


def build_model_serializer(model, fields, *, read_only_fields=(), redacted_fields=(), base=McpModelSerializer):
    """Return a ModelSerializer class for *model* with exactly *fields*."""
    meta_attrs = {"model": model, "fields": list(fields), "read_only_fields": list(read_only_fields)}
    attrs = {"Meta": type("Meta", (), meta_attrs)}
    for name in redacted_fields:
        field = model._meta.get_field(name)
        attrs[name] = RedactedField(help_text=f"{field.help_text or field.verbose_name} (redacted)")
    return type(f"{model.__name__}McpSerializer", (PrebuiltFieldsMixin, base), attrs)
