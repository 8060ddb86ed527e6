"""The authorization server's views: django-oauth-toolkit's, with what MCP clients need added.

* `ProtectedResourceMetadataView`: RFC 9728 metadata of the MCP endpoint (its canonical resource, this
  server's scopes, the issuer as its authorization server).
* `ServerMetadataView`: RFC 8414 metadata, served only where the issuer says it lives.
* `AuthorizationView`: the consent page in the admin's look, and an early `invalid_target` for a foreign
  resource (`validators.McpOAuth2Validator` enforces it when the code is issued).
* `ClientRegistrationView` / `ClientRegistrationManagementView`: dynamic registration with the redirect
  policy and rate limit of `registration`.
* `LoginView`: the sign-in page for every active user (the admin's refuses non-staff users).
"""

import json
from urllib.parse import urlencode, urlsplit

from django.contrib.auth import views as auth_views
from django.http import Http404, JsonResponse
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.settings import oauth2_settings

from .. import scopes
from ..conf import mcp_settings
from .registration import RegistrationRateLimit, is_loopback, redirect_uris_problem
from .validators import invalid_target, same_resource

AS_METADATA_WELL_KNOWN = "/.well-known/oauth-authorization-server"


def admin_context(request):
    """The context the admin's templates expect (site header, title, links), from the first MCP admin site."""
    return mcp_settings.ADMIN_SITES[0].each_context(request)


def server_title():
    return mcp_settings.SERVER_TITLE or mcp_settings.SERVER_NAME


class ProtectedResourceMetadataView(dot_views.OAuthProtectedResourceMetadataView):
    """RFC 9728 metadata of the MCP endpoint, served at the path-inserted and the root well-known URI.

    MCP clients find it from the 401 challenge's resource_metadata, else try the path-inserted form, then
    the root form: both describe the one protected resource here, the MCP endpoint.
    """

    def get_resource(self, request):
        return scopes.canonical_resource(request)

    def get_scopes_supported(self):
        # This server's scopes only: never offline_access (the MCP spec), introspection or DOT's
        # registration scope, which a client must not ask for.
        return list(mcp_settings.OAUTH_SCOPES)

    def get_bearer_methods_supported(self):
        return ["header"]

    def get_resource_name(self):
        return server_title()


class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """RFC 8414 metadata, answered only at the well-known URI of the issuer it names.

    RFC 8414 §3: the document of issuer https://host/x lives at /.well-known/oauth-authorization-server/x,
    and a client checks that its `issuer` is the one it asked about. With the issuer derived from the
    request, DOT would answer at any path below the well-known URI and claim an issuer for each; here
    every other path is a 404.
    """

    def get(self, request, *args, **kwargs):
        # The issuer of authorization responses (RFC 9207 iss): OIDC_ISS_ENDPOINT, else this site's origin.
        issuer_path = urlsplit(oauth2_settings.oauth2_authorization_server_issuer(request)).path.rstrip("/")
        if request.path.rstrip("/") != AS_METADATA_WELL_KNOWN + issuer_path:
            raise Http404("No authorization server has its metadata here.")
        return super().get(request, *args, **kwargs)


class AuthorizationView(dot_views.AuthorizationView):
    """The authorization endpoint and its consent page.

    The page says who is asking (the client's name and how it was registered), where the code goes (the
    redirect URI's host, with a warning when only a program on the user's computer can receive it), what
    is asked for (the scopes in words) and for which server (the resource).
    """

    template_name = "mcp_bridge/oauth/authorize.html"

    def validate_authorization_request(self, request):
        scopes_, credentials = super().validate_authorization_request(request)
        # Refuse a foreign resource before the user is asked; oauthlib has checked the redirect URI by now,
        # so the error goes back to the client. The validator refuses it again when the code is issued.
        canonical = scopes.canonical_resource(request)
        for resource in request.GET.getlist("resource"):
            if not same_resource(resource, canonical):
                raise OAuthToolkitError(
                    error=invalid_target(resource, canonical, state=credentials.get("state")),
                    redirect_uri=credentials.get("redirect_uri"),
                )
        return scopes_, credentials

    def error_response(self, error, application, **kwargs):
        # RFC 9207: the issuer goes on error redirects too, as it does on success; a client that was told
        # to expect it (authorization_response_iss_parameter_supported) rejects a response without it.
        oauthlib_error = error.oauthlib_error
        if (
            oauth2_settings.COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS
            and oauthlib_error.redirect_uri
            and not isinstance(error, FatalClientError)
        ):
            separator = "&" if "?" in oauthlib_error.redirect_uri else "?"
            issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
            oauthlib_error.redirect_uri += separator + urlencode({"iss": issuer})
        return super().error_response(error, application, **kwargs)

    def render_to_response(self, context, **response_kwargs):
        # Both the consent page and DOT's error page (which is rendered without get_context_data).
        context = {**admin_context(self.request), "title": "Authorization failed", **context}
        return super().render_to_response(context, **response_kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        application = context["application"]
        redirect_uri = context.get("redirect_uri") or ""
        registered = application.redirect_uris.split()
        return {
            **context,
            "title": f"Authorize {application.name or 'an unnamed application'}?",
            "client_source": self.client_source(application),
            "redirect_host": urlsplit(redirect_uri).hostname or redirect_uri,
            "loopback_only": bool(registered) and all(is_loopback(uri) for uri in registered),
            "requested_scopes": self.describe_scopes(context.get("scopes") or []),
            "resource_uris": (context.get("resource") or "").split() or [scopes.canonical_resource(self.request)],
            "server_title": server_title(),
        }

    @staticmethod
    def client_source(application):
        """Where the client came from, in words."""
        source = application.registration_source
        if source == application.RegistrationSource.CIMD:
            return f"described by its metadata document at {application.client_id}"
        if source == application.RegistrationSource.DCR:
            return "registered itself (dynamic registration)"
        return "registered by an administrator"

    @staticmethod
    def describe_scopes(requested):
        """[{'name', 'description', 'includes': [descriptions of the scopes it implies]}] for *requested*."""
        descriptions = {**oauth2_settings.SCOPES, **mcp_settings.OAUTH_SCOPES}
        return [
            {
                "name": scope,
                "description": descriptions.get(scope, scope),
                "includes": [
                    descriptions.get(implied, implied)
                    for implied in sorted(scopes.expand([scope]) - {scope} - set(requested))
                ],
            }
            for scope in requested
        ]


def registration_error(error, description, status=400, headers=None):
    """An RFC 7591 §3.2.2 error response."""
    return JsonResponse({"error": error, "error_description": description}, status=status, headers=headers)


class RedirectPolicyMixin:
    """Refuse redirect URIs outside `registration.redirect_uri_problem()`'s policy (RFC 7591 invalid_redirect_uri)."""

    def redirect_uri_error(self, request):
        try:
            metadata = json.loads(request.body)
        except ValueError:
            return None  # DOT explains what a registration body must be
        problem = redirect_uris_problem(metadata.get("redirect_uris")) if isinstance(metadata, dict) else None
        return registration_error("invalid_redirect_uri", problem) if problem else None


class ClientRegistrationView(RedirectPolicyMixin, dot_views.DynamicClientRegistrationView):
    """RFC 7591 registration, open to MCP clients: limited per client IP address, and to safe redirect URIs."""

    rate_limit_class = RegistrationRateLimit

    def post(self, request, *args, **kwargs):
        limit = self.rate_limit_class()
        if not limit.allow_request(request):
            return registration_error(
                "too_many_requests", limit.get_message(), status=429, headers={"Retry-After": str(limit.wait())}
            )
        return self.redirect_uri_error(request) or super().post(request, *args, **kwargs)


class ClientRegistrationManagementView(RedirectPolicyMixin, dot_views.DynamicClientRegistrationManagementView):
    """RFC 7592 management of a registration; an update is held to the same redirect policy."""

    def put(self, request, *args, **kwargs):
        return self.redirect_uri_error(request) or super().put(request, *args, **kwargs)


class LoginView(auth_views.LoginView):
    """Sign-in for authorizing applications, in the admin's look, open to every active user."""

    template_name = "mcp_bridge/oauth/login.html"

    def get_context_data(self, **kwargs):
        return {
            **admin_context(self.request),
            **super().get_context_data(**kwargs),
            "title": "Log in",
            "server_title": server_title(),
        }
