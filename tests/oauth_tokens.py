"""OAuth clients and access tokens for tests, made through django-oauth-toolkit's public model API.

A token made here is what the authorization server would have issued: DOT derives the lookup checksum
from the raw value (and stores the raw value only if COMPLIANT_BCP_RFC9700_TOKEN_STORAGE is off), so
the raw token returned authenticates like one from /o/token/.
"""

import secrets
from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value

#: A loopback redirect URI that nothing listens on: tests never follow the redirect.
REDIRECT_URI = "http://127.0.0.1:9/cb"


def make_application(name="test client", *, client_credentials=False):
    """A registered OAuth client: public with the authorization code grant (as MCP clients are), or
    confidential with the client credentials grant, whose tokens act for no user."""
    Application = get_application_model()
    if client_credentials:
        return Application.objects.create(
            name=name,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        )
    return Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
    )


def issue_token(application, user, *, scope="mcp:read", resource=(), expires_in=timedelta(hours=1)):
    """Issue an access token of *application* for *user* (None: acts for nobody); return (token, raw value).

    *resource* is the RFC 8707 resource indicators the token was issued for (empty: none named).
    """
    token = get_access_token_model()(
        user=user,
        application=application,
        scope=scope,
        expires=timezone.now() + expires_in,
        resource=list(resource),
    )
    raw = secrets.token_urlsafe(32)
    set_token_value(token, raw)
    token.save()
    return token, raw


def mcp_resource(base_url):
    """The canonical resource URI of the MCP endpoint served at *base_url*: what its tokens must name."""
    return f"{base_url}/mcp"
