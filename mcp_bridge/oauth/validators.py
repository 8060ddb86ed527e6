"""The authorization server's validator: authorization codes are for this MCP server and no other.

RFC 8707 lets a client name the resource a token is for; django-oauth-toolkit stores any absolute URI it
is given and lets a code without one become an "unrestricted" token. Here a code is always bound to the
canonical resource of the MCP endpoint (MCP_BRIDGE['OAUTH_RESOURCE'], or derived from the request and
MCP_BRIDGE['PATH']): a client that names none gets it, and one that names another gets `invalid_target`.
Token and refresh requests then inherit the binding (DOT lets them narrow it, never widen it).
"""

from django.http import HttpRequest
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from ..conf import mcp_settings

# The header django-oauth-toolkit adds to the oauthlib request when the Django request is secure
# (HTTPS, or SECURE_PROXY_SSL_HEADER says a proxy received it over HTTPS).
SECURE_REQUEST_HEADER = "X_DJANGO_OAUTH_TOOLKIT_SECURE"


def same_resource(requested, canonical):
    """True if the resource URI *requested* names *canonical* (a trailing slash is not a different resource)."""
    return requested.rstrip("/") == canonical


def invalid_target(resource, canonical, request=None, state=None):
    """The RFC 8707 error for a resource that is not this server."""
    return CustomOAuth2Error(
        error="invalid_target",
        description=(
            f"This authorization server issues tokens only for the MCP server {canonical}; "
            f"it cannot issue one for {resource!r}. Send resource={canonical}, or no resource."
        ),
        request=request,
        state=state,
    )


class McpOAuth2Validator(OAuth2Validator):
    """django-oauth-toolkit's validator, with every authorization code bound to this MCP server."""

    def canonical_resource(self, request):
        """The canonical resource URI, for the oauthlib *request* of an authorization.

        Matches `mcp_bridge.scopes.canonical_resource()` of the same Django request. The validator sees only
        oauthlib's request, which carries the path, the headers and DOT's secure flag, so the URI is built from
        those: the headers are the original request's META, so a Django request over them gets the same host
        from `get_host()` (ALLOWED_HOSTS and USE_X_FORWARDED_HOST applied).
        """
        configured = mcp_settings.OAUTH_RESOURCE
        if configured:
            return configured.rstrip("/")
        scheme = "https" if request.headers.get(SECURE_REQUEST_HEADER) else "http"
        original = HttpRequest()
        original.META = request.headers
        return f"{scheme}://{original.get_host()}/{mcp_settings.PATH.strip('/')}"

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        canonical = self.canonical_resource(request)
        requested = getattr(request, "resource", None) or []
        if isinstance(requested, str):
            requested = requested.split()
        for resource in requested:
            if not same_resource(resource, canonical):
                raise invalid_target(resource, canonical, request=request, state=request.state)
        request.resource = requested or [canonical]
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
