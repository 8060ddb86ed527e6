"""The OAuth 2.1 authorization server (django-oauth-toolkit, configured by mcp_bridge.oauth).

Metadata (RFC 9728, RFC 8414), dynamic registration with its redirect policy and rate limit, the
authorization code flow with PKCE through the consent page, resource binding (RFC 8707), refresh
rotation, the admin and the cleanup.
"""

import base64
import hashlib
import io
import json
import logging
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.admin import site as admin_site
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)
from oauth2_provider.settings import oauth2_settings

from mcp_bridge.cache import shared_cache
from mcp_bridge.conf import mcp_settings
from mcp_bridge.oauth import admin as oauth_admin
from mcp_bridge.oauth.checks import check_authorization_server
from mcp_bridge.oauth.cleanup import clean_up
from mcp_bridge.oauth.registration import MetadataFetcher, RegistrationRateLimit

Application = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

RESOURCE = "http://testserver/mcp"
ISSUER = "http://testserver"
CALLBACK = "http://127.0.0.1:8765/callback"


@pytest.fixture(autouse=True)
def fresh_counters():
    """Registration counters of earlier tests (same client address) must not count here."""
    shared_cache().clear()


@pytest.fixture
def user(django_user_model, db):
    """A user who is not staff: OAuth is for every active user."""
    return django_user_model.objects.create_user("casey", password="correct horse battery staple")


@pytest.fixture
def application(db):
    """A public client that registered itself, with a loopback redirect URI, as MCP clients do."""
    return Application.objects.create(
        name="Desk Assistant",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=CALLBACK,
        registration_source=Application.RegistrationSource.DCR,
    )


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(application, challenge, method="S256", scope="mcp:read", **extra):
    return {
        "response_type": "code",
        "client_id": application.client_id,
        "redirect_uri": CALLBACK,
        "scope": scope,
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": method,
        **extra,
    }


def consent(client, params, allow=True, **form_overrides):
    """GET the consent page for *params*, then submit its form (Allow or Deny); return (page, redirect query)."""
    page = client.get("/o/authorize/", params)
    assert page.status_code == 200, page.content
    form_data = {key: value for key, value in page.context["form"].initial.items() if value is not None}
    form_data.update(form_overrides)
    if allow:
        form_data["allow"] = "true"
    answer = client.post("/o/authorize/", form_data)
    assert answer.status_code == 302, answer.content
    location = urlsplit(answer["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return page, {key: values[0] for key, values in parse_qs(location.query).items()}


def exchange(client, application, code, verifier):
    return client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": application.client_id,
            "code_verifier": verifier,
        },
    )


def register(client, metadata, **extra):
    return client.post("/o/register/", json.dumps(metadata), content_type="application/json", **extra)


def client_metadata(*redirect_uris):
    return {
        "client_name": "Some MCP client",
        "redirect_uris": list(redirect_uris),
        "token_endpoint_auth_method": "none",
    }


# -- metadata ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"])
def test_protected_resource_metadata_describes_the_mcp_endpoint(client, db, path):
    metadata = client.get(path).json()
    assert metadata == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": ["mcp:read", "mcp:write", "mcp:reports"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Acme support (demo)",
    }
    assert not {"offline_access", "introspection", oauth2_settings.DCR_REGISTRATION_SCOPE} & set(
        metadata["scopes_supported"]
    )


def test_authorization_server_metadata_is_at_the_issuers_well_known_uri(client, db):
    resource_metadata = client.get("/.well-known/oauth-protected-resource/mcp").json()
    issuer = resource_metadata["authorization_servers"][0]
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == issuer == ISSUER
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["client_id_metadata_document_supported"] is True
    assert metadata["registration_endpoint"] == f"{ISSUER}/o/register/"
    assert metadata["authorization_endpoint"] == f"{ISSUER}/o/authorize/"
    assert metadata["token_endpoint"] == f"{ISSUER}/o/token/"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    # No other issuer is claimed below the well-known URI.
    assert client.get("/.well-known/oauth-authorization-server/tenant").status_code == 404


def test_a_configured_issuer_with_a_path_is_served_path_inserted(client, db):
    with override_settings(OAUTH2_PROVIDER={**oauth2_settings.user_settings, "OIDC_ISS_ENDPOINT": f"{ISSUER}/auth"}):
        assert client.get("/.well-known/oauth-authorization-server/auth").json()["issuer"] == f"{ISSUER}/auth"
        assert client.get("/.well-known/oauth-authorization-server").status_code == 404
        resource_metadata = client.get("/.well-known/oauth-protected-resource/mcp").json()
        assert resource_metadata["authorization_servers"] == [f"{ISSUER}/auth"]


@override_settings(
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    USE_X_FORWARDED_HOST=True,
    ALLOWED_HOSTS=["mcp.example.com", "testserver"],
)
def test_behind_a_tls_proxy_every_url_is_https(client, db):
    proxied = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "mcp.example.com"}
    resource_metadata = client.get("/.well-known/oauth-protected-resource/mcp", **proxied).json()
    assert resource_metadata["resource"] == "https://mcp.example.com/mcp"
    assert resource_metadata["authorization_servers"] == ["https://mcp.example.com"]
    metadata = client.get("/.well-known/oauth-authorization-server", **proxied).json()
    assert metadata["issuer"] == "https://mcp.example.com"
    assert metadata["authorization_endpoint"] == "https://mcp.example.com/o/authorize/"
    assert metadata["registration_endpoint"] == "https://mcp.example.com/o/register/"
    # Without the proxy's headers the same settings give the direct URL.
    assert client.get("/.well-known/oauth-authorization-server").json()["issuer"] == ISSUER


# -- dynamic client registration -----------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://claude.ai/api/mcp/auth_callback",
        "http://localhost:6274/oauth/callback",
        "http://127.0.0.1:33418/callback",
        "http://[::1]:8080/callback",
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "vscode://vscode.github-authentication/did-authenticate",
    ],
)
def test_registration_accepts_https_loopback_and_native_redirects(client, db, redirect_uri):
    answer = register(client, client_metadata(redirect_uri))
    assert answer.status_code == 201, answer.content
    registered = answer.json()
    assert registered["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in registered  # a public client
    application = Application.objects.get(client_id=registered["client_id"])
    assert application.client_type == Application.CLIENT_PUBLIC
    assert application.registration_source == Application.RegistrationSource.DCR


def test_a_cursor_registration_with_all_its_redirects_is_accepted(client, db):
    answer = register(
        client,
        client_metadata(
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:8787/callback",
        ),
    )
    assert answer.status_code == 201, answer.content


@pytest.mark.parametrize(
    ("redirect_uri", "why"),
    [
        ("http://evil.example/callback", "http is allowed only to this computer's loopback interface"),
        ("http://127.0.0.1.evil.example/callback", "http is allowed only to this computer's loopback interface"),
        ("javascript:alert(1)", "the scheme javascript:// is not allowed"),
        ("myapp://callback", "the scheme myapp:// is not allowed"),
        ("/relative/callback", "it is not an absolute URI"),
    ],
)
def test_registration_refuses_other_redirects(client, db, redirect_uri, why):
    answer = register(client, client_metadata("https://good.example/callback", redirect_uri))
    assert answer.status_code == 400
    error = answer.json()
    assert error["error"] == "invalid_redirect_uri"
    assert repr(redirect_uri) in error["error_description"]
    assert why in error["error_description"]
    assert "Allowed: https URIs, http URIs to localhost, 127.0.0.1 or [::1]" in error["error_description"]
    assert not Application.objects.filter(registration_source=Application.RegistrationSource.DCR).exists()


def test_an_update_of_a_registration_is_held_to_the_same_policy(client, db):
    registered = register(client, client_metadata(CALLBACK)).json()
    answer = client.put(
        urlsplit(registered["registration_client_uri"]).path,
        json.dumps(client_metadata("http://evil.example/callback")),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {registered['registration_access_token']}",
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_redirect_uri"
    assert Application.objects.get(client_id=registered["client_id"]).redirect_uris == CALLBACK


@pytest.fixture
def fixed_clock(monkeypatch):
    """Registrations counted at one instant, in the middle of a window."""
    monkeypatch.setattr(RegistrationRateLimit, "timer", staticmethod(lambda: 1_000_000_000.0))


def test_registrations_are_limited_per_address_at_exactly_the_rate(client, db, fixed_clock):
    with override_settings(MCP_BRIDGE={**settings.MCP_BRIDGE, "OAUTH_REGISTRATION_RATE": "3/hour"}):
        for _ in range(3):
            assert register(client, client_metadata(CALLBACK)).status_code == 201
        refused = register(client, client_metadata(CALLBACK))
        assert refused.status_code == 429
        wait = 3600 - 1_000_000_000 % 3600
        assert refused["Retry-After"] == str(wait)
        assert refused.json() == {
            "error": "too_many_requests",
            "error_description": (
                "Too many client registrations from this address: at most 3 per hour. "
                f"Try again in {wait} s, or reuse the client_id of an earlier registration."
            ),
        }
        # Another address has its own budget.
        assert register(client, client_metadata(CALLBACK), REMOTE_ADDR="192.0.2.7").status_code == 201
    assert Application.objects.count() == 4


def test_a_failing_cache_lets_registrations_through_and_says_so(client, db, caplog):
    broken = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    with (
        override_settings(CACHES={**settings.CACHES, "broken": broken}),
        override_settings(
            MCP_BRIDGE={**settings.MCP_BRIDGE, "CACHE_ALIAS": "broken", "OAUTH_REGISTRATION_RATE": "1/hour"}
        ),
        caplog.at_level(logging.WARNING, logger="mcp_bridge.oauth.registration"),
    ):
        assert register(client, client_metadata(CALLBACK)).status_code == 201
        assert register(client, client_metadata(CALLBACK)).status_code == 201
    assert "the registration rate limit is not applied" in caplog.text


# -- authorization code flow ---------------------------------------------------------------------


def test_the_consent_page_says_who_asks_for_what_and_where_the_code_goes(client, user, application):
    client.force_login(user)
    _, challenge = pkce_pair()
    page = client.get("/o/authorize/", authorize_params(application, challenge, scope="mcp:read mcp:write"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Desk Assistant" in html
    assert "registered itself (dynamic registration)" in html
    assert '<p class="redirect-host">127.0.0.1</p>' in html
    assert "only a program on your own computer will receive the code" in html
    assert mcp_settings.OAUTH_SCOPES["mcp:read"] in html
    assert mcp_settings.OAUTH_SCOPES["mcp:write"] in html
    assert f"<code>{RESOURCE}</code>" in html
    assert '<button type="submit" name="allow" value="true" class="default">Allow</button>' in html
    assert '<button type="submit">Deny</button>' in html
    assert 'href="/static/admin/css/base.css"' in html  # the admin's look


def test_the_consent_page_names_other_sources_and_omits_the_warning_for_web_redirects(client, user, db):
    application = Application.objects.create(
        name="Web Client",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://app.example.com/callback",
    )
    client.force_login(user)
    _, challenge = pkce_pair()
    params = {**authorize_params(application, challenge), "redirect_uri": "https://app.example.com/callback"}
    html = client.get("/o/authorize/", params).content.decode()
    assert "registered by an administrator" in html
    assert '<p class="redirect-host">app.example.com</p>' in html
    assert "only a program on your own computer" not in html


def test_code_flow_binds_the_canonical_resource_and_rotates_refresh_tokens(client, user, application):
    client.force_login(user)
    verifier, challenge = pkce_pair()
    _, answer = consent(client, authorize_params(application, challenge))
    assert answer["state"] == "state-123"
    assert answer["iss"] == ISSUER  # RFC 9207
    assert Grant.objects.get(application=application).resource == [RESOURCE]

    tokens = exchange(client, application, answer["code"], verifier)
    assert tokens.status_code == 200, tokens.content
    issued = tokens.json()
    assert issued["scope"] == "mcp:read"
    access_token = AccessToken.objects.get(application=application)
    assert access_token.resource == [RESOURCE]
    assert access_token.user == user
    assert access_token.token == ""  # stored as a checksum only

    refreshed = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": application.client_id},
    )
    assert refreshed.status_code == 200, refreshed.content
    rotated = refreshed.json()
    assert rotated["refresh_token"] != issued["refresh_token"]
    assert rotated["access_token"] != issued["access_token"]
    assert AccessToken.objects.get(application=application).resource == [RESOURCE]

    replayed = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": application.client_id},
    )
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


def test_a_code_for_the_canonical_resource_named_explicitly(client, user, application):
    client.force_login(user)
    verifier, challenge = pkce_pair()
    _, answer = consent(client, authorize_params(application, challenge, resource=RESOURCE))
    tokens = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": CALLBACK,
            "client_id": application.client_id,
            "code_verifier": verifier,
            "resource": RESOURCE,
        },
    )
    assert tokens.status_code == 200, tokens.content
    assert AccessToken.objects.get(application=application).resource == [RESOURCE]


def test_another_resource_is_refused_before_consent(client, user, application):
    client.force_login(user)
    _, challenge = pkce_pair()
    params = authorize_params(application, challenge, resource="https://other.example/mcp")
    answer = client.get("/o/authorize/", params)
    assert answer.status_code == 302
    location = urlsplit(answer["Location"])
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert query["error"] == "invalid_target"
    assert "https://other.example/mcp" in query["error_description"]
    assert query["state"] == "state-123"
    assert query["iss"] == ISSUER
    assert not Grant.objects.exists()


def test_another_resource_slipped_into_the_consent_form_is_refused(client, user, application):
    client.force_login(user)
    _, challenge = pkce_pair()
    _, answer = consent(client, authorize_params(application, challenge), resource="https://other.example/mcp")
    assert answer["error"] == "invalid_target"
    assert "code" not in answer
    assert not Grant.objects.exists()


def test_plain_pkce_is_refused(client, user, application):
    client.force_login(user)
    verifier, _ = pkce_pair()
    _, answer = consent(client, authorize_params(application, verifier, method="plain"))
    assert answer["error"] == "invalid_request"
    assert "S256" in answer["error_description"]
    assert "code" not in answer


def test_a_wrong_verifier_gets_no_token(client, user, application):
    client.force_login(user)
    _, challenge = pkce_pair()
    _, answer = consent(client, authorize_params(application, challenge))
    other_verifier, _ = pkce_pair()
    refused = exchange(client, application, answer["code"], other_verifier)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_deny_sends_access_denied_with_the_issuer(client, user, application):
    client.force_login(user)
    _, challenge = pkce_pair()
    _, answer = consent(client, authorize_params(application, challenge), allow=False)
    assert answer["error"] == "access_denied"
    assert answer["iss"] == ISSUER


def test_users_who_are_not_staff_sign_in_on_the_login_page(client, user, application):
    _, challenge = pkce_pair()
    authorize = client.get("/o/authorize/", authorize_params(application, challenge))
    assert authorize.status_code == 302
    login_url = urlsplit(authorize["Location"])
    assert login_url.path == "/accounts/login/"
    next_url = parse_qs(login_url.query)["next"][0]
    page = client.get(authorize["Location"])
    assert page.status_code == 200
    assert 'value="Log in"' in page.content.decode()
    signed_in = client.post(
        "/accounts/login/", {"username": "casey", "password": "correct horse battery staple", "next": next_url}
    )
    assert signed_in.status_code == 302
    assert signed_in["Location"] == next_url
    assert client.get(next_url).status_code == 200  # the consent page


# -- admin ---------------------------------------------------------------------------------------


@pytest.fixture
def issued_token(client, user, application):
    client.force_login(user)
    verifier, challenge = pkce_pair()
    _, answer = consent(client, authorize_params(application, challenge))
    assert exchange(client, application, answer["code"], verifier).status_code == 200
    consent(client, authorize_params(application, challenge))  # a code not exchanged (yet)
    client.logout()
    return AccessToken.objects.get(application=application)


@pytest.mark.parametrize(
    ("model", "admin_class"),
    [
        (Application, oauth_admin.ApplicationAdmin),
        (AccessToken, oauth_admin.AccessTokenAdmin),
        (RefreshToken, oauth_admin.RefreshTokenAdmin),
        (Grant, oauth_admin.GrantAdmin),
    ],
)
def test_admin_changelists_render_without_secrets(client, admin_user, issued_token, model, admin_class):
    assert isinstance(admin_site.get_model_admin(model), admin_class)
    client.force_login(admin_user)
    page = client.get(f"/admin/oauth2_provider/{model._meta.model_name}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Desk Assistant" in html
    if model is AccessToken:
        assert RESOURCE in html and "mcp:read" in html and "casey" in html
    assert issued_token.token_checksum not in html


def test_the_application_changelist_counts_tokens_but_not_registration_tokens(client, admin_user, issued_token):
    registered = register(client, client_metadata(CALLBACK)).json()
    client.force_login(admin_user)
    changelist = client.get("/admin/oauth2_provider/application/").context["cl"]
    counts = {application.name: application.access_token_total for application in changelist.result_list}
    assert counts == {"Desk Assistant": 1, registered["client_name"]: 0}


def test_the_admin_revokes_selected_tokens(client, admin_user, issued_token):
    client.force_login(admin_user)
    answer = client.post(
        "/admin/oauth2_provider/accesstoken/",
        {"action": "revoke_tokens", "_selected_action": [issued_token.pk]},
    )
    assert answer.status_code == 302
    assert not AccessToken.objects.filter(pk=issued_token.pk).exists()
    assert RefreshToken.objects.get(application=issued_token.application).revoked is not None


# -- cleanup -------------------------------------------------------------------------------------


def make_application(name, source, age_days):
    application = Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=CALLBACK,
        registration_source=source,
    )
    Application.objects.filter(pk=application.pk).update(created=timezone.now() - timedelta(days=age_days))
    return application


def make_token(user, application, expires):
    token = AccessToken(user=user, application=application, expires=expires, scope="mcp:read")
    set_token_value(token, secrets.token_urlsafe(32))
    token.save()
    return token


def test_cleanup_deletes_only_abandoned_dynamic_registrations(client, user, db):
    days = mcp_settings.OAUTH_ABANDONED_REGISTRATION_DAYS
    dcr, manual = Application.RegistrationSource.DCR, Application.RegistrationSource.MANUAL
    abandoned = make_application("abandoned", dcr, days + 1)
    recent = make_application("recent", dcr, days - 1)
    administered = make_application("administered", manual, days + 30)
    used = make_application("used", dcr, days + 1)
    make_token(user, used, expires=timezone.now() + timedelta(hours=1))
    # A registration through the endpoint, backdated: its registration access token does not make it used.
    registered = register(client, client_metadata(CALLBACK)).json()
    Application.objects.filter(client_id=registered["client_id"]).update(
        created=timezone.now() - timedelta(days=days + 1)
    )
    # An expired access token of the administered application: cleartokens deletes it.
    make_token(user, administered, expires=timezone.now() - timedelta(days=1))

    counts = clean_up()

    assert counts["abandoned_registrations"] == 2
    assert counts["access_tokens"] == 1  # the expired one (cleartokens runs first)
    assert set(Application.objects.values_list("name", flat=True)) == {"recent", "administered", "used"}
    assert not Application.objects.filter(pk=abandoned.pk).exists()
    assert Application.objects.filter(pk=recent.pk).exists()


def test_the_cleanup_command_reports_counts(db):
    make_application(
        "abandoned", Application.RegistrationSource.DCR, mcp_settings.OAUTH_ABANDONED_REGISTRATION_DAYS + 1
    )
    out = io.StringIO()
    call_command("mcp_oauth_cleanup", stdout=out)
    assert "Deleted 1 dynamically registered applications never used." in out.getvalue()
    assert "Deleted 0 expired access tokens." in out.getvalue()


# -- system checks -------------------------------------------------------------------------------


def check_ids():
    return [message.id for message in check_authorization_server()]


def test_the_demo_configuration_passes_the_checks(db):
    assert check_authorization_server() == []


@pytest.mark.parametrize(
    ("mcp_bridge", "oauth2_provider", "expected"),
    [
        ({"OAUTH_REGISTRATION_RATE": "20/fortnight"}, {}, "mcp_bridge.E201"),
        ({}, {"SCOPES": {"mcp:read": "Read"}}, "mcp_bridge.E202"),
        ({}, {"OAUTH2_VALIDATOR_CLASS": "oauth2_provider.oauth2_validators.OAuth2Validator"}, "mcp_bridge.W201"),
        ({"OAUTH_NATIVE_REDIRECT_SCHEMES": ["cursor", "zed"]}, {}, "mcp_bridge.W202"),
        ({}, {"COMPLIANT_BCP_RFC9700_PKCE_METHOD": False}, "mcp_bridge.W203"),
        ({}, {"CIMD_METADATA_FETCHER": "oauth2_provider.cimd.SafeMetadataFetcher"}, "mcp_bridge.W205"),
    ],
)
def test_checks_name_each_misconfiguration(db, mcp_bridge, oauth2_provider, expected):
    with override_settings(
        MCP_BRIDGE={**settings.MCP_BRIDGE, **mcp_bridge},
        OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, **oauth2_provider},
    ):
        assert check_ids() == [expected]


# -- Client ID Metadata Documents ---------------------------------------------------------------

CIMD_CLIENT_ID = "https://client.example/oauth/metadata.json"
CIMD_DOCUMENTS = {}  # client_id URL -> the document that URL serves, for DocumentServer


class DocumentServer(SafeMetadataFetcher):
    """Stands in for the network only: serves CIMD_DOCUMENTS instead of fetching over HTTPS."""

    def fetch(self, client_id):
        return CIMD_DOCUMENTS[client_id], 300


class LocalMetadataFetcher(MetadataFetcher, DocumentServer):
    """mcp_bridge's fetcher, whose download (super().fetch) is DocumentServer's."""


@pytest.fixture
def cimd_document(db):
    CIMD_DOCUMENTS.clear()
    fetcher = f"{__name__}.LocalMetadataFetcher"
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "CIMD_METADATA_FETCHER": fetcher}):
        yield CIMD_DOCUMENTS


@pytest.mark.parametrize(
    ("redirect_uri", "accepted"),
    [
        ("https://client.example/callback", True),
        ("http://127.0.0.1:9000/callback", True),
        ("http://client.example/callback", False),
        ("javascript:alert(1)", False),
    ],
)
def test_a_metadata_document_is_held_to_the_redirect_policy(client, user, cimd_document, redirect_uri, accepted):
    # A URL of its own per case: DOT backs off from a URL whose document it refused.
    client_id = f"https://client.example/{hashlib.sha256(redirect_uri.encode()).hexdigest()[:12]}/metadata.json"
    cimd_document[client_id] = {
        "client_id": client_id,
        "client_name": "Document client",
        "redirect_uris": ["https://client.example/callback", redirect_uri],
        "token_endpoint_auth_method": "none",
    }
    client.force_login(user)
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "https://client.example/callback",
        "scope": "mcp:read",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
    }
    page = client.get("/o/authorize/", params)
    known = Application.objects.filter(client_id=client_id, registration_source="cimd").exists()
    assert known is accepted
    if accepted:
        assert page.status_code == 200 and "Document client" in page.content.decode()
    else:
        assert page.status_code == 400, page.status_code
        assert "Document client" not in page.content.decode()


def test_the_fetcher_says_which_redirect_uri_it_refused(cimd_document):
    cimd_document[CIMD_CLIENT_ID] = {"client_id": CIMD_CLIENT_ID, "redirect_uris": ["http://evil.example/cb"]}
    with pytest.raises(CIMDError, match="'http://evil.example/cb' cannot be registered: http is allowed only"):
        LocalMetadataFetcher().fetch(CIMD_CLIENT_ID)
