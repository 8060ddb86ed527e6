"""options.py: what an McpAdminMixin ModelAdmin exposes when it declares nothing but the admin's own options."""

from django.contrib import admin
from django.contrib.auth.models import Group, User

from mcp_bridge import McpAdminMixin


def model_admin(model=User, **attrs):
    admin_class = type("UnitAdmin", (McpAdminMixin, admin.ModelAdmin), {"__module__": __name__, **attrs})
    return admin_class(model, admin.AdminSite(name="unit"))


def full_name(user):
    return user.get_full_name()


def test_reads_only_by_default():
    assert model_admin().get_mcp_operations() == ("search", "get")
    assert model_admin(mcp_operations=["get", "update"]).get_mcp_operations() == ("get", "update")


def test_fields_default_to_the_primary_key_and_the_model_fields_of_list_display():
    listed = model_admin(list_display=("username", "__str__", full_name, "full_name_method", "email", "groups", "id"))
    assert listed.get_mcp_fields() == ("id", "username", "email", "groups")
    assert model_admin().get_mcp_fields() == ("id",)  # the admin's default list_display is ("__str__",)
    assert model_admin(mcp_fields=["username"]).get_mcp_fields() == ("username",)


def test_write_fields_default_to_the_shown_fields_the_admin_lets_you_edit():
    editable = model_admin(
        mcp_fields=("id", "username", "email", "last_login", "date_joined", "is_staff"),
        readonly_fields=("last_login",),
        mcp_redacted_fields=("email",),
    )
    assert editable.get_mcp_write_fields() == ("username", "date_joined", "is_staff")
    declared = model_admin(mcp_fields=("id", "username", "is_staff"), fields=("username",))
    assert declared.get_mcp_write_fields() == ("username",)  # a field the admin's form leaves out stays read-only
    assert model_admin(Group, mcp_fields=("id", "name"), mcp_write_fields=()).get_mcp_write_fields() == ()
