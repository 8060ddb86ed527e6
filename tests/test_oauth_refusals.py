"""OAuth access tokens the MCP endpoint refuses, over real HTTP (uvicorn serving config.asgi).

Every refusal is checked as a client meets it: the status code, the Bearer challenge in
WWW-Authenticate (error, scope, and resource_metadata pointing at the path-inserted protected resource
metadata of /mcp, RFC 9728) and the JSON body. Tokens are made with django-oauth-toolkit's models
(tests/oauth_tokens.py), except the registration access token, which /o/register/ issues.
"""

import re
from datetime import timedelta

import httpx2
import pytest
from django.contrib.auth import get_user_model

from mcp_bridge.models import ApiKey

from .oauth_tokens import REDIRECT_URI, issue_token, make_application, mcp_resource
from .test_http import INITIALIZE, legacy_headers, modern_headers, modern_request, rpc_result

pytestmark = pytest.mark.subprocess

#: One auth-param of a challenge: name="quoted value" (RFC 9110 section 11.2), then a comma or the end.
AUTH_PARAM = re.compile(r'\s*(?P<name>[A-Za-z_]+)="(?P<value>(?:[^"\\]|\\.)*)"\s*(?:,|$)')


# -- helpers shared with test_oauth_scopes ---------------------------------------------------------


def call_mcp(base_url, token, method="tools/list", params=None, *, name=None, query=None, request_id=1):
    """POST one 2026-07-28 request to /mcp with bearer *token* (None: no Authorization header)."""
    headers = modern_headers(token, method, **({"Mcp-Name": name} if name is not None else {}))
    return httpx2.post(
        f"{base_url}/mcp",
        json=modern_request(method, params, request_id),
        headers=headers,
        params=query,
    )


def challenge_params(response):
    """The auth-params of the response's `WWW-Authenticate: Bearer ...` challenge, unescaped."""
    header = response.headers.get("www-authenticate", "")
    scheme, _, rest = header.partition(" ")
    assert scheme == "Bearer", f"not a Bearer challenge: {header!r}"
    assert AUTH_PARAM.sub("", rest) == "", f"challenge does not parse as auth-params: {header!r}"
    return {match["name"]: re.sub(r"\\(.)", r"\1", match["value"]) for match in AUTH_PARAM.finditer(rest)}


def resource_metadata_url(base_url):
    return f"{base_url}/.well-known/oauth-protected-resource/mcp"


def assert_refused(response, base_url, *, status, error, scope="mcp:read"):
    """Assert *response* refuses the credential with *status* and *error* (None: no error=, RFC 6750
    section 3.1, for a request without credentials); return (JSON body, challenge params)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    params = challenge_params(response)
    assert params["resource_metadata"] == resource_metadata_url(base_url), params
    assert params["scope"] == scope, params
    assert body["error_description"], body
    if error is None:
        assert "error" not in params and "error_description" not in params, params
        assert body["error"] == "unauthorized", body
    else:
        assert params["error"] == body["error"] == error, (params, body)
        assert params["error_description"] == body["error_description"], (params, body)
    return body, params


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def client_app(demo):
    return make_application("Refusal test client")


@pytest.fixture
def user(demo):
    return demo["support_agent"]


def working_token(base_url, application, user, **kwargs):
    """A token of *user* for this server, shown to work before a test changes something about it."""
    kwargs.setdefault("resource", [mcp_resource(base_url)])
    token, raw = issue_token(application, user, **kwargs)
    assert rpc_result(call_mcp(base_url, raw))["tools"], "the control token should list tools"
    return token, raw


# -- no or unusable credentials --------------------------------------------------------------------


def test_no_credentials_is_401_without_an_error_code(demo, live_server_url):
    body, _ = assert_refused(call_mcp(live_server_url, None), live_server_url, status=401, error=None)
    assert "Authorization: Bearer" in body["error_description"]
    # the 2025-11-25 handshake gets the same challenge
    opened = httpx2.post(
        f"{live_server_url}/mcp",
        json=INITIALIZE,
        headers={"Accept": "application/json, text/event-stream", "Content-Type": "application/json"},
    )
    assert_refused(opened, live_server_url, status=401, error=None)


def test_garbage_token_is_401_invalid_token(demo, live_server_url):
    assert_refused(
        call_mcp(live_server_url, "not-a-token-this-server-issued"), live_server_url, status=401, error="invalid_token"
    )


def test_expired_token_is_401_invalid_token(client_app, user, live_server_url):
    _, raw = issue_token(client_app, user, resource=[mcp_resource(live_server_url)], expires_in=-timedelta(minutes=1))
    assert_refused(call_mcp(live_server_url, raw), live_server_url, status=401, error="invalid_token")


def test_token_revoked_after_use_is_refused_at_once(client_app, user, live_server_url):
    """The server remembers a verified credential for a few seconds; revoking it still applies at once,
    and as MCP authorization asks of an invalid token: 401 with the challenge, so the client authorizes
    again (a JSON-RPC error would leave it stuck with the dead token)."""
    token, raw = working_token(live_server_url, client_app, user)
    token.revoke()
    assert not type(token).objects.filter(pk=token.pk).exists()
    assert_refused(call_mcp(live_server_url, raw), live_server_url, status=401, error="invalid_token")
    call = call_mcp(
        live_server_url, raw, "tools/call", {"name": "search_customers", "arguments": {}}, name="search_customers"
    )
    assert_refused(call, live_server_url, status=401, error="invalid_token")


def test_token_revoked_during_a_handshake_session_is_refused_at_once(client_app, user, live_server_url):
    """The 2025-11-25 era: the session the token opened does not outlive the token."""
    token, raw = issue_token(client_app, user, resource=[mcp_resource(live_server_url)])
    url = f"{live_server_url}/mcp"
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    with httpx2.Client() as http:
        opened = http.post(url, headers=legacy_headers(raw), json=INITIALIZE)
        assert opened.status_code == 200, opened.text
        session_id = opened.headers["mcp-session-id"]
        assert rpc_result(http.post(url, headers=legacy_headers(raw, session_id), json=tools_list), 2)["tools"]
        token.revoke()
        refused = http.post(url, headers=legacy_headers(raw, session_id), json={**tools_list, "id": 3})
    assert_refused(refused, live_server_url, status=401, error="invalid_token")


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param(["https://other.example/mcp"], id="another-server"),
        pytest.param([], id="no-resource"),
        pytest.param(["{base}/mcp-other"], id="path-prefix-of-another"),
        pytest.param(["{base}/"], id="server-root"),
        pytest.param(["{base}"], id="server-origin"),
    ],
)
def test_token_for_another_resource_is_401(client_app, user, live_server_url, resource):
    """RFC 8707 audience: the token must name this endpoint exactly (DOT alone lets a resource-less
    token through, and matches resources as URL prefixes of the request)."""
    _, raw = issue_token(client_app, user, resource=[uri.format(base=live_server_url) for uri in resource])
    assert_refused(call_mcp(live_server_url, raw), live_server_url, status=401, error="invalid_token")
    # the same client and user with a token naming this endpoint are served
    working_token(live_server_url, client_app, user)


def test_client_credentials_token_is_401(demo, live_server_url):
    """A client-credentials token acts for no user: nothing on the MCP endpoint can be allowed to it."""
    application = make_application("Machine client", client_credentials=True)
    _, raw = issue_token(application, None, resource=[mcp_resource(live_server_url)])
    body, _ = assert_refused(call_mcp(live_server_url, raw), live_server_url, status=401, error="invalid_token")
    assert "active user" in body["error_description"]


def test_registration_access_token_is_401(demo, live_server_url):
    """The token dynamic client registration returns manages the client's registration, nothing else."""
    registered = httpx2.post(
        f"{live_server_url}/o/register/",
        json={
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "client_name": "t",
        },
    )
    assert registered.status_code == 201, (registered.status_code, registered.text)
    raw = registered.json()["registration_access_token"]
    assert_refused(call_mcp(live_server_url, raw), live_server_url, status=401, error="invalid_token")


def test_token_without_mcp_scopes_is_403_insufficient_scope(client_app, user, live_server_url):
    _, raw = issue_token(client_app, user, scope="read write openid", resource=[mcp_resource(live_server_url)])
    body, _ = assert_refused(call_mcp(live_server_url, raw), live_server_url, status=403, error="insufficient_scope")
    assert "mcp:read" in body["error_description"]


def test_token_of_inactive_user_is_401(client_app, live_server_url):
    inactive = get_user_model().objects.create_user("former_agent", "former@example.com", "x", is_active=False)
    _, raw = issue_token(client_app, inactive, resource=[mcp_resource(live_server_url)])
    assert_refused(call_mcp(live_server_url, raw), live_server_url, status=401, error="invalid_token")


def test_token_of_user_deactivated_after_use_is_refused(client_app, user, live_server_url):
    _, raw = working_token(live_server_url, client_app, user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = call_mcp(live_server_url, raw)
    assert_refused(response, live_server_url, status=401, error="invalid_token")


# -- the token in the URL --------------------------------------------------------------------------


@pytest.mark.parametrize("with_header", [False, True], ids=["query-only", "query-and-header"])
def test_access_token_in_query_string_is_400_invalid_request(client_app, user, live_server_url, with_header):
    """RFC 6750 section 5.3 and RFC 9700: a token in the URL ends up in logs, so it is refused even when
    a valid Authorization header comes with it (and the header's token is not used)."""
    _, raw = working_token(live_server_url, client_app, user)
    response = call_mcp(live_server_url, raw if with_header else None, query={"access_token": raw})
    body, _ = assert_refused(response, live_server_url, status=400, error="invalid_request")
    assert "Authorization header" in body["error_description"]
    assert "tools" not in response.text


# -- API keys beside OAuth -------------------------------------------------------------------------


def test_api_keys_still_work_beside_oauth(api_keys, live_server_url):
    response = call_mcp(live_server_url, api_keys["support_agent"])
    assert response.status_code == 200, response.text
    assert {tool["name"] for tool in rpc_result(response)["tools"]} >= {"search_customers", "issue_refund"}


def test_bad_api_key_is_401_with_the_api_key_message(api_keys, live_server_url):
    """A refused key is answered by the class that knows keys, in the endpoint's one challenge."""
    real = api_keys["support_agent"]
    prefix = ApiKey.parse_prefix(real)
    wrong_secret = f"mcpb_{prefix}_{'x' * 32}"
    body, _ = assert_refused(
        call_mcp(live_server_url, wrong_secret), live_server_url, status=401, error="invalid_token"
    )
    assert body["error_description"] == "The API key is not valid."
