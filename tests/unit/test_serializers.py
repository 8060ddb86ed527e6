"""serializers.py: generated ModelSerializers, masked fields, and relations scoped by the related ModelAdmin."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import RequestFactory

from mcp_bridge.serializers import build_model_serializer, mask


@pytest.mark.parametrize(
    "value, masked",
    [
        ("jane@example.com", "j***@example.com"),
        ("Jane Doe", "J***"),
        (12345, "1***"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_keeps_only_a_hint(value, masked):
    assert mask(value) == masked


def test_generated_serializer_has_exactly_the_given_fields():
    serializer_class = build_model_serializer(
        User, ["id", "username", "email"], read_only_fields=["username"], redacted_fields=["email"]
    )
    assert serializer_class.__name__ == "UserMcpSerializer"
    user = User(id=7, username="jane", email="jane@example.com", password="secret")
    assert serializer_class(user).data == {"id": 7, "username": "jane", "email": "j***@example.com"}
    fields = serializer_class().fields
    assert fields["username"].read_only and fields["email"].read_only  # a masked value cannot be written back
    assert str(fields["email"].help_text) == "email address (redacted)"


def test_each_instance_gets_its_own_fields():
    serializer_class = build_model_serializer(User, ["id", "username"])
    first, second = serializer_class(), serializer_class(context={"who": "second"})
    assert first.fields["username"] is not second.fields["username"]
    assert first.fields["username"].parent is first and second.fields["username"].parent is second
    assert second.fields["username"].context == {"who": "second"}


class GroupAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        return super().get_queryset(request).filter(name__startswith="public")


@pytest.fixture
def user_serializer():
    """A serializer that lets callers set a user's groups, and a request from a caller."""
    serializer_class = build_model_serializer(User, ["id", "username", "groups"])
    return serializer_class, RequestFactory().post("/mcp")


@pytest.mark.django_db
def test_a_relation_accepts_only_rows_the_related_admin_shows(user_serializer):
    serializer_class, request = user_serializer
    public, private = Group.objects.create(name="public help"), Group.objects.create(name="staff only")
    admin_site = admin.AdminSite(name="unit")
    admin_site.register(Group, GroupAdmin)
    context = {"request": request, "admin_site": admin_site}

    allowed = serializer_class(data={"username": "jane", "groups": [public.pk]}, context=context)
    assert allowed.is_valid(), allowed.errors
    assert allowed.validated_data["groups"] == [public]
    hidden = serializer_class(data={"username": "jane", "groups": [private.pk]}, context=context)
    assert not hidden.is_valid()
    assert hidden.errors["groups"] == [f'Invalid pk "{private.pk}" - object does not exist.']  # as if it did not exist


@pytest.mark.django_db
def test_a_relation_to_a_model_the_admin_site_does_not_register_accepts_nothing(user_serializer):
    serializer_class, request = user_serializer
    group = Group.objects.create(name="public help")
    serializer = serializer_class(
        data={"username": "jane", "groups": [group.pk]},
        context={"request": request, "admin_site": admin.AdminSite(name="unit")},
    )
    assert not serializer.is_valid()
    assert serializer.errors["groups"] == [
        "Groups cannot be chosen here: the admin does not manage them, so none is visible to you."
    ]
