"""URLs of the authorization server and of the MCP endpoint's metadata; include them at the site root:

    path("", include("mcp_bridge.oauth.urls")),

* /.well-known/oauth-protected-resource/<MCP path> and /.well-known/oauth-protected-resource: RFC 9728
  metadata of the MCP endpoint.
* /.well-known/oauth-authorization-server[/<issuer path>]: RFC 8414 metadata. The issuer is this site's
  origin (or OAUTH2_PROVIDER['OIDC_ISS_ENDPOINT'] when set), so clients find it at the origin.
* /o/authorize/, /o/token/, /o/revoke_token/, /o/introspect/, /o/register/[<client_id>/]: the endpoints.
* /accounts/login/: the sign-in page (point LOGIN_URL at "mcp_oauth_login").

DOT's endpoints keep their namespace, oauth2_provider, which DOT reverses to build its metadata; the
well-known URIs are in it too, so that DOT derives the issuer from the root metadata URI.
"""

from django.urls import include, path
from oauth2_provider import views as dot_views

from ..conf import mcp_settings
from . import views

endpoint_patterns = [
    path("authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("token/", dot_views.TokenView.as_view(), name="token"),
    path("revoke_token/", dot_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", dot_views.IntrospectTokenView.as_view(), name="introspect"),
    path("register/", views.ClientRegistrationView.as_view(), name="dcr-register"),
    path(
        "register/<str:client_id>/",
        views.ClientRegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

oauth2_provider_patterns = [
    # The MCP path is read when the URLconf loads: a change to MCP_BRIDGE['PATH'] needs a restart anyway.
    path(
        f".well-known/oauth-protected-resource/{mcp_settings.PATH.strip('/')}",
        views.ProtectedResourceMetadataView.as_view(),
        name="mcp-resource-metadata",
    ),
    path(
        ".well-known/oauth-protected-resource",
        views.ProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata",
    ),
    path(".well-known/oauth-authorization-server", views.ServerMetadataView.as_view(), name="oauth-server-metadata"),
    path(
        ".well-known/oauth-authorization-server/<path:issuer_path>",
        views.ServerMetadataView.as_view(),
        name="oauth-server-metadata-issuer",
    ),
    path("o/", include(endpoint_patterns)),
]

urlpatterns = [
    path("", include((oauth2_provider_patterns, "oauth2_provider"))),
    path("accounts/login/", views.LoginView.as_view(), name="mcp_oauth_login"),
]
