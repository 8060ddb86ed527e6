"""CORS for browser-based MCP clients, over real HTTP (uvicorn serving config.asgi).

The MCP endpoint, report job URLs, the well-known metadata and the OAuth endpoints a client calls
answer preflights and expose exactly WWW-Authenticate and Mcp-Session-Id; nothing allows credentials
(cookies). Pages a person uses (the admin, the consent page) answer no CORS at all, and the MCP endpoint
still refuses an Origin outside ALLOWED_HOSTS.
"""

import httpx2
import pytest

from .test_http import modern_headers, modern_request

pytestmark = pytest.mark.subprocess

BROWSER_ORIGIN = "https://inspector.example"
EXPOSED = {"www-authenticate", "mcp-session-id"}


def header_set(response, name):
    """The comma-separated values of header *name*, lowercased."""
    return {value.strip().lower() for value in response.headers.get(name, "").split(",") if value.strip()}


def preflight(base_url, path, method="POST", headers="authorization, mcp-protocol-version", origin=BROWSER_ORIGIN):
    return httpx2.options(
        f"{base_url}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def assert_no_cors(response):
    cors = [name for name in response.headers if name.lower().startswith("access-control-")]
    assert not cors, (response.status_code, cors)


@pytest.mark.parametrize(
    "path",
    [
        "/mcp",
        "/mcp/jobs/no-such-job",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/o/token/",
        "/o/revoke_token/",
        "/o/register/",
    ],
)
def test_preflight_is_answered(live_server_url, path):
    response = preflight(live_server_url, path)
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["access-control-allow-origin"] == "*"
    assert {"authorization", "mcp-protocol-version"} <= header_set(response, "access-control-allow-headers")
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


def test_preflight_refuses_headers_mcp_does_not_use(live_server_url):
    response = preflight(live_server_url, "/mcp", headers="authorization, x-forwarded-user")
    assert response.status_code == 400, (response.status_code, response.text)
    assert "x-forwarded-user" not in header_set(response, "access-control-allow-headers")


def test_mcp_response_exposes_only_the_challenge_and_session_headers(api_keys, live_server_url):
    origin = {"Origin": live_server_url}  # the server's own origin: its host is in ALLOWED_HOSTS
    refused = httpx2.post(
        f"{live_server_url}/mcp", json=modern_request("tools/list"), headers={**modern_headers(), **origin}
    )
    served = httpx2.post(
        f"{live_server_url}/mcp",
        json=modern_request("tools/list"),
        headers={**modern_headers(api_keys["analyst"]), **origin},
    )
    assert (refused.status_code, served.status_code) == (401, 200), (refused.text, served.text)
    for response in (refused, served):
        assert response.headers["access-control-allow-origin"] == "*"
        assert header_set(response, "access-control-expose-headers") == EXPOSED
        assert "access-control-allow-credentials" not in response.headers
    assert refused.headers["www-authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(
    "path",
    [
        "/mcp/jobs/no-such-job",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
    ],
)
def test_django_responses_for_clients_expose_the_same_headers(api_keys, live_server_url, path):
    response = httpx2.get(
        f"{live_server_url}{path}",
        headers={"Origin": BROWSER_ORIGIN, "Authorization": f"Bearer {api_keys['analyst']}"},
    )
    assert response.status_code in (200, 404), (response.status_code, response.text)
    # exactly one Access-Control-Allow-Origin, even where the view sets its own (DOT's metadata views
    # do): browsers refuse a response that carries two
    assert response.headers.get_list("access-control-allow-origin") == ["*"]
    assert header_set(response, "access-control-expose-headers") == EXPOSED
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("path", ["/admin/", "/admin/login/", "/o/authorize/"])
def test_pages_for_people_answer_no_cors(live_server_url, path):
    assert_no_cors(preflight(live_server_url, path, method="GET"))
    assert_no_cors(httpx2.get(f"{live_server_url}{path}", headers={"Origin": BROWSER_ORIGIN}))


@pytest.mark.parametrize("origin", ["https://evil.example", BROWSER_ORIGIN])
def test_mcp_endpoint_still_refuses_an_untrusted_origin(api_keys, live_server_url, origin):
    """A preflight is answered for any origin (bearer tokens are not ambient), but the request itself
    from an Origin outside ALLOWED_HOSTS is refused: DNS rebinding protection."""
    assert preflight(live_server_url, "/mcp", origin=origin).status_code == 200
    response = httpx2.post(
        f"{live_server_url}/mcp",
        json=modern_request("tools/list"),
        headers={**modern_headers(api_keys["admin"]), "Origin": origin},
    )
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.json()["error"] == "invalid_origin"
    assert "tools" not in response.text
