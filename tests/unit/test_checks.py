"""checks.py: each ModelAdmin option mistake is one Error or Warning with its id, hint and the admin class.

The ModelAdmins are built here on Django's auth models and a throwaway AdminSite, and checked directly.
"""

from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.core import checks

from mcp_bridge import McpAdminMixin
from mcp_bridge.checks import check_model_admin

USER_FIELDS = (
    "id, password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, "
    "date_joined, groups, user_permissions"
)


def model_admin(model=User, **attrs):
    attrs.setdefault("search_fields", ("username",))
    admin_class = type("UnitAdmin", (McpAdminMixin, admin.ModelAdmin), {"__module__": __name__, **attrs})
    return admin_class(model, admin.AdminSite(name="unit"))


def test_an_admin_with_the_defaults_is_clean():
    assert check_model_admin(model_admin()) == []
    assert (
        check_model_admin(
            model_admin(
                Group,
                search_fields=("name",),
                mcp_operations=("search", "get", "create"),
                mcp_fields=("id", "name", "permissions"),
            )
        )
        == []
    )


def test_operations_must_be_a_list_or_tuple():
    checked = model_admin(mcp_operations="search")
    assert check_model_admin(checked) == [
        checks.Error("The value of 'mcp_operations' must be a list or tuple.", obj=type(checked), id="mcp_bridge.E001"),
    ]


def test_every_operation_must_be_known():
    checked = model_admin(mcp_operations=("get", "list", "delete"))
    assert check_model_admin(checked) == [
        checks.Error(
            "The value of 'mcp_operations' contains 'list', which is not an operation.",
            hint="Use any of search, get, create, update, delete.",
            obj=type(checked),
            id="mcp_bridge.E002",
        ),
    ]


def test_every_field_option_entry_must_be_a_field():
    checked = model_admin(
        mcp_fields=("id", "username", "emial"),
        mcp_write_fields=("username", "full_name"),
        mcp_redacted_fields=("pasword",),
    )
    assert check_model_admin(checked) == [
        checks.Error(
            f"The value of '{option}' refers to {name!r}, which is not a field of 'auth.User'.",
            hint=f"Fields of auth.User: {USER_FIELDS}.",
            obj=type(checked),
            id="mcp_bridge.E003",
        )
        for option, name in (
            ("mcp_fields[2]", "emial"),
            ("mcp_write_fields[1]", "full_name"),
            ("mcp_redacted_fields[0]", "pasword"),
        )
    ]


@admin.action(description="Deactivate the selected users")
def deactivate(modeladmin, request, queryset):
    queryset.update(is_active=False)


def test_every_exposed_action_must_be_an_admin_action():
    # Named as the admin names them: a method of the ModelAdmin, or an action of the whole admin site.
    assert (
        check_model_admin(model_admin(actions=["deactivate"], deactivate=deactivate, mcp_actions=("deactivate",))) == []
    )
    assert check_model_admin(model_admin(mcp_actions=("delete_selected",))) == []
    checked = model_admin(actions=["deactivate"], deactivate=deactivate, mcp_actions=("deactivate", "ban"))
    assert check_model_admin(checked) == [
        checks.Error(
            "The value of 'mcp_actions' contains 'ban', which is not an action of UnitAdmin.",
            hint="List the action in the ModelAdmin's `actions` first.",
            obj=type(checked),
            id="mcp_bridge.E004",
        ),
    ]


def test_hooks_that_shape_schemas_take_no_request():
    def get_mcp_operations(self, request):
        return ("search",)

    def get_mcp_write_fields(self, request, obj=None):
        return ()

    checked = model_admin(get_mcp_operations=get_mcp_operations, get_mcp_write_fields=get_mcp_write_fields)
    hint = (
        "Remove the parameter from {}(); narrow what a caller sees or may do per request in "
        "get_mcp_queryset(request) or the has_*_permission(request) methods."
    )
    assert check_model_admin(checked) == [
        checks.Error(
            "UnitAdmin.get_mcp_operations() takes 'request', but it is called once at start-up, without a "
            "request: the tool schemas it shapes are the same for every caller.",
            hint=hint.format("get_mcp_operations"),
            obj=type(checked),
            id="mcp_bridge.E011",
        ),
        checks.Error(
            "UnitAdmin.get_mcp_write_fields() takes 'request', 'obj', but it is called once at start-up, "
            "without a request: the tool schemas it shapes are the same for every caller.",
            hint=hint.format("get_mcp_write_fields"),
            obj=type(checked),
            id="mcp_bridge.E011",
        ),
    ]


def test_a_hook_that_takes_no_request_is_clean():
    def get_mcp_fields(self):
        return ("id", "username") if self.model is User else ("id",)

    def get_mcp_queryset(self, request):  # per request by design
        return super(type(self), self).get_mcp_queryset(request).filter(is_active=True)

    assert check_model_admin(model_admin(get_mcp_fields=get_mcp_fields, get_mcp_queryset=get_mcp_queryset)) == []


def test_search_without_anything_to_search_by_is_a_warning():
    checked = model_admin(search_fields=())
    assert check_model_admin(checked) == [
        checks.Warning(
            "UnitAdmin exposes 'search' without search_fields or list_filter, so callers can only page.",
            hint="Add search_fields and/or list_filter to the ModelAdmin.",
            obj=type(checked),
            id="mcp_bridge.W002",
        ),
    ]
    assert check_model_admin(model_admin(search_fields=(), list_filter=("is_staff",))) == []
    assert check_model_admin(model_admin(search_fields=(), mcp_operations=("get",))) == []
