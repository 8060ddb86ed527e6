"""Admin for the authorization server's records: who authorized which application, for what, and when.

django-oauth-toolkit registers its models with the classes its *_ADMIN_CLASS settings name; point them
here (docs/oauth.md). These extend DOT's own, which never show a token or code in clear (DOT stores only
checksums) and revoke tokens through DOT's revoke path, which also revokes the bound refresh token.
"""

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from oauth2_provider import admin as dot_admin
from oauth2_provider.models import get_access_token_model
from oauth2_provider.settings import oauth2_settings


@admin.display(description="resource")
def resource_display(obj):
    return ", ".join(obj.resource or ()) or "—"


class ApplicationAdmin(dot_admin.ApplicationAdmin):
    list_display = (
        "name",
        "client_id",
        "registration_source",
        "client_type",
        "user",
        "access_token_count",
        "created",
        "updated",
    )
    list_filter = ("registration_source", "client_type", "authorization_grant_type", "skip_authorization", "created")
    search_fields = ("name", "client_id", *dot_admin.USER_SEARCH_FIELDS)
    readonly_fields = (*dot_admin.ApplicationAdmin.readonly_fields, "created", "updated")
    date_hierarchy = "created"

    def get_queryset(self, request):
        # Counted from the token side: the reverse accessor's name differs on swapped models. Registration
        # access tokens (DCR) are access tokens too, but authorize nobody, so they are not counted.
        tokens = (
            get_access_token_model()
            .objects.filter(application=OuterRef("pk"))
            .exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
            .order_by()
            .values("application")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(access_token_total=Coalesce(Subquery(tokens, output_field=IntegerField()), Value(0)))
        )

    @admin.display(description="access tokens", ordering="access_token_total")
    def access_token_count(self, obj):
        return obj.access_token_total


class AccessTokenAdmin(dot_admin.AccessTokenAdmin):
    list_display = ("pk", "user", "application", "scope", resource_display, "created", "expires", "updated")
    list_filter = ("application__registration_source", "expires", "created", "application")
    search_fields = (*dot_admin.AccessTokenAdmin.search_fields, "scope")
    date_hierarchy = "created"


class RefreshTokenAdmin(dot_admin.RefreshTokenAdmin):
    list_display = ("pk", "user", "application", resource_display, "created", "updated", "revoked")
    list_filter = ("revoked", "created", "application__registration_source", "application")
    date_hierarchy = "created"


class GrantAdmin(dot_admin.GrantAdmin):
    list_display = ("pk", "user", "application", "scope", resource_display, "created", "expires")
    list_filter = ("created", "application")
    list_select_related = ("application", "user")
    date_hierarchy = "created"


class IDTokenAdmin(dot_admin.IDTokenAdmin):
    list_display = ("jti", "user", "application", "scope", "created", "expires")
    date_hierarchy = "created"
