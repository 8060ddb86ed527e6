"""The MCP endpoint's side of OAuth: DOT access tokens, checked strictly for this server.

DOT verifies the token (`verify_request`: known, unexpired, application usable); on top of that a token must name this server's canonical resource (RFC 8707: DOT lets a
token without a resource through as "unrestricted"), act for an active user (client-credentials
and registration tokens act for nobody) and carry at least one of MCP_BRIDGE['OAUTH_SCOPES'].
"""

from oauth2_provider.contrib.rest_framework import OAuth2Authentication as DotOAuth2Authentication
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.www_authenticate import build_bearer_challenge

from .. import scopes
from ..authentication import McpAuthentication, Principal, bearer_token
from ..conf import mcp_settings
from ..exceptions import AuthenticationFailed

AccessToken = get_access_token_model()


class OAuth2Authentication(McpAuthentication, DotOAuth2Authentication):
    """Bearer access tokens issued by this project's authorization server (django-oauth-toolkit).

    DOT's own DRF class verifies the token; this one adds the checks above and answers with a Principal.
    """

    kind = "oauth"
    # Revoking a token deletes it, deleting an application deletes its tokens: either replaces the
    # access generation, so the next call in every process is refused. Issuing a token does not.
    credential_models = (AccessToken, get_application_model())

    def authenticate(self, request):
        if bearer_token(request) is None:
            return None
        verified = DotOAuth2Authentication.authenticate(self, request)
        if verified is None:
            error = getattr(request, "oauth2_error", None) or {}
            raise AuthenticationFailed(str(error.get("error_description") or "The access token is invalid."))
        token = verified[1]
        resource = scopes.canonical_resource(request)
        if resource not in {uri.rstrip("/") for uri in token.resource or ()}:
            raise AuthenticationFailed(
                f"The access token was not issued for this server: ask the authorization server for a token "
                f"with resource={resource}."
            )
        user = token.user
        if user is None or not user.is_active:
            raise AuthenticationFailed("The access token does not act for an active user: sign in as a user.")
        granted = scopes.known_scopes(token.scope.split())
        if not granted:
            raise AuthenticationFailed(
                f"The access token grants none of this server's scopes ({', '.join(mcp_settings.OAUTH_SCOPES)}).",
                error="insufficient_scope",
                status=403,
            )
        application = token.application
        return user, Principal(
            kind=self.kind,
            user_id=user.pk,
            credential_id=token.pk,
            # A refreshed token continues the same client's session and rate budget.
            identity=f"{token.application_id}:{user.pk}",
            label=f"{user.get_username()} via OAuth application {application.name if application else '?'!r}",
            expires_at=token.expires,
            authenticator=self,
            scopes=scopes.expand(granted),
        )

    def load_user(self, principal):
        token = AccessToken.objects.select_related("user").filter(pk=principal.credential_id).first()
        if token is None or token.is_expired():
            raise AuthenticationFailed("The access token was revoked or has expired: authorize again.")
        if token.user is None or not token.user.is_active:
            raise AuthenticationFailed("The user this token acts for is inactive.")
        return token.user

    def authenticate_header(self, request):
        error = dict(getattr(request, "oauth2_error", None) or {})
        error.setdefault("scope", " ".join(mcp_settings.OAUTH_CHALLENGE_SCOPES))
        return build_bearer_challenge(
            request, oauth2_error=error, resource_metadata_url=scopes.resource_metadata_url(request)
        )

    def insufficient_scope_header(self, request, scope, description):
        """The 403 challenge of a call that needs *scope*: every scope to ask for, granted ones kept."""
        error = {"error": "insufficient_scope", "error_description": description, "scope": scope}
        return build_bearer_challenge(
            request, oauth2_error=error, resource_metadata_url=scopes.resource_metadata_url(request)
        )
