"""System checks of the authorization server's configuration (mcp_bridge.E2xx / W2xx).

Registered when imported (mcp_bridge's AppConfig.ready() does so when django-oauth-toolkit is installed);
they say nothing unless the project serves mcp_bridge.oauth.urls.

* E201 MCP_BRIDGE['OAUTH_REGISTRATION_RATE'] is not a rate.
* E202 a scope of MCP_BRIDGE['OAUTH_SCOPES'] is missing from OAUTH2_PROVIDER['SCOPES'] (no token can carry it).
* W201 OAUTH2_PROVIDER['OAUTH2_VALIDATOR_CLASS'] does not bind codes to this server (RFC 8707).
* W202 a native redirect scheme is not in OAUTH2_PROVIDER['ALLOWED_REDIRECT_URI_SCHEMES'].
* W203 the "plain" PKCE method is accepted (the MCP spec requires S256).
* W204 the registration endpoint is DOT's own view, without the redirect policy and rate limit.
* W205 Client ID Metadata Documents are fetched without the redirect policy.
"""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, resolve, reverse

from ..conf import mcp_settings


def serves_oauth():
    """True if the project serves this package's authorization-server URLs."""
    from .views import ServerMetadataView

    try:
        match = resolve(reverse("oauth2_provider:oauth-server-metadata"))
    except NoReverseMatch:
        return False
    return issubclass(getattr(match.func, "view_class", type(None)), ServerMetadataView)


@checks.register("mcp_bridge")
def check_authorization_server(app_configs=None, **kwargs):
    from oauth2_provider.settings import oauth2_settings

    from .registration import MetadataFetcher, registration_rate
    from .validators import McpOAuth2Validator
    from .views import ClientRegistrationView

    if not serves_oauth():
        return []
    messages = []
    try:
        registration_rate()
    except ImproperlyConfigured as error:
        messages.append(checks.Error(str(error), hint="For example '20/hour'.", id="mcp_bridge.E201"))

    missing = [scope for scope in mcp_settings.OAUTH_SCOPES if scope not in oauth2_settings.SCOPES]
    if missing:
        messages.append(
            checks.Error(
                f"OAUTH2_PROVIDER['SCOPES'] lacks {', '.join(missing)} of MCP_BRIDGE['OAUTH_SCOPES']: no client can be "
                "authorized for them.",
                hint="Set OAUTH2_PROVIDER['SCOPES'] to MCP_BRIDGE['OAUTH_SCOPES'] (the descriptions are what the "
                "consent page shows).",
                id="mcp_bridge.E202",
            )
        )

    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS
    if not issubclass(validator, McpOAuth2Validator):
        messages.append(
            checks.Warning(
                f"OAUTH2_PROVIDER['OAUTH2_VALIDATOR_CLASS'] is {validator.__module__}.{validator.__qualname__}, which "
                "does not bind authorization codes to this MCP server: a client could obtain a token for another "
                "resource, or one without a resource, which the MCP endpoint refuses.",
                hint="Set it to 'mcp_bridge.oauth.validators.McpOAuth2Validator' or a subclass.",
                obj=validator,
                id="mcp_bridge.W201",
            )
        )

    allowed = set(oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES)
    not_allowed = [scheme for scheme in mcp_settings.OAUTH_NATIVE_REDIRECT_SCHEMES if scheme not in allowed]
    if not_allowed:
        messages.append(
            checks.Warning(
                f"MCP_BRIDGE['OAUTH_NATIVE_REDIRECT_SCHEMES'] allows {', '.join(not_allowed)}, which "
                "OAUTH2_PROVIDER['ALLOWED_REDIRECT_URI_SCHEMES'] does not: django-oauth-toolkit refuses those "
                "registrations anyway.",
                hint="Add them to ALLOWED_REDIRECT_URI_SCHEMES, or remove them from OAUTH_NATIVE_REDIRECT_SCHEMES.",
                id="mcp_bridge.W202",
            )
        )

    if not oauth2_settings.COMPLIANT_BCP_RFC9700_PKCE_METHOD:
        messages.append(
            checks.Warning(
                "The 'plain' PKCE method is accepted and advertised; MCP clients require S256 only.",
                hint="Set OAUTH2_PROVIDER['COMPLIANT_BCP_RFC9700_PKCE_METHOD'] = True.",
                id="mcp_bridge.W203",
            )
        )

    if oauth2_settings.DCR_ENABLED:
        try:
            registration_view = getattr(resolve(reverse("oauth2_provider:dcr-register")).func, "view_class", None)
        except NoReverseMatch:
            registration_view = None
        if registration_view is not None and not issubclass(registration_view, ClientRegistrationView):
            messages.append(
                checks.Warning(
                    "Dynamic client registration is served by a view without mcp_bridge's redirect URI policy and "
                    "rate limit: anyone can register any http redirect URI, as often as they like.",
                    hint="Serve mcp_bridge.oauth.urls instead of oauth2_provider.urls' registration URLs.",
                    obj=registration_view,
                    id="mcp_bridge.W204",
                )
            )
    fetcher = oauth2_settings.CIMD_METADATA_FETCHER
    if oauth2_settings.CIMD_ENABLED and not issubclass(fetcher, MetadataFetcher):
        messages.append(
            checks.Warning(
                "Client ID Metadata Documents are fetched without mcp_bridge's redirect URI policy: a document "
                "may name any http redirect URI.",
                hint="Set OAUTH2_PROVIDER['CIMD_METADATA_FETCHER'] to "
                "'mcp_bridge.oauth.registration.MetadataFetcher' or a subclass.",
                obj=fetcher,
                id="mcp_bridge.W205",
            )
        )
    return messages
