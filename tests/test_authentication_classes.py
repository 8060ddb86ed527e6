"""Authentication classes plug in as DRF's do: a project's own class beside API keys, through the real ASGI app."""

import hashlib
import hmac

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from mcp_bridge import scopes
from mcp_bridge.authentication import McpAuthentication, Principal, bearer_challenge, forget_credentials
from mcp_bridge.exceptions import AuthenticationFailed

from .test_tools_list import running_app

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
LIST = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/list",
    "params": {
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    },
}


def gateway_signature(username):
    return hmac.new(django_settings.SECRET_KEY.encode(), username.encode(), hashlib.sha256).hexdigest()


class GatewayAuthentication(McpAuthentication):
    """A gateway in front of the server signs the user it authenticated: X-Gateway-User and X-Gateway-Signature."""

    kind = "gateway"
    remember_by_authorization = False  # the credential is not in the Authorization header
    seen = 0

    def authenticate(self, request):
        username = request.headers.get("X-Gateway-User")
        if username is None:
            return None
        type(self).seen += 1
        if not hmac.compare_digest(request.headers.get("X-Gateway-Signature", ""), gateway_signature(username)):
            raise AuthenticationFailed("The gateway signature does not match.")
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise AuthenticationFailed("The gateway's user does not exist here.")
        return user, Principal(kind=self.kind, user_id=user.pk, credential_id=username, authenticator=self)

    def authenticate_header(self, request):
        return bearer_challenge({"realm": "gateway", **getattr(request, "oauth2_error", {})})


@pytest.fixture
def gateway_first(settings):
    settings.MCP_BRIDGE = {
        **settings.MCP_BRIDGE,
        "FREEZE_GC_AT_STARTUP": False,
        "AUTHENTICATION_CLASSES": [
            "tests.test_authentication_classes.GatewayAuthentication",
            "mcp_bridge.authentication.ApiKeyAuthentication",
        ],
    }
    forget_credentials()
    yield
    forget_credentials()


def headers(**extra):
    return {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/list",
        **extra,
    }


async def listed(http, **extra):
    response = await http.post("/mcp", json=LIST, headers=headers(**extra))
    return response, [tool["name"] for tool in response.json().get("result", {}).get("tools", [])]


async def test_a_project_class_authenticates_beside_api_keys(demo, api_keys, gateway_first):
    async with running_app() as (app, http):
        user = {"X-Gateway-User": "support_agent", "X-Gateway-Signature": gateway_signature("support_agent")}
        by_gateway, gateway_tools = await listed(http, **user)
        by_key, key_tools = await listed(http, Authorization=f"Bearer {api_keys['support_agent']}")
        assert by_gateway.status_code == by_key.status_code == 200
        assert gateway_tools == key_tools and "search_customers" in gateway_tools

        forged = {"X-Gateway-User": "admin", "X-Gateway-Signature": gateway_signature("support_agent")}
        refused, _ = await listed(http, **forged)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == (
            'Bearer realm="gateway", error="invalid_token", error_description="The gateway signature does not match."'
        )

        nothing, _ = await listed(http)
        assert nothing.status_code == 401
        assert nothing.headers["www-authenticate"] == 'Bearer realm="gateway"'  # the first class's challenge
        assert nothing.json()["error"] == "unauthorized"


async def test_a_class_that_reads_other_headers_is_asked_on_every_request(demo, gateway_first):
    """Nothing is remembered under an Authorization header it did not read: a forged user cannot ride on it."""
    async with running_app() as (app, http):
        GatewayAuthentication.seen = 0
        user = {"X-Gateway-User": "analyst", "X-Gateway-Signature": gateway_signature("analyst")}
        for _ in range(3):
            response, _ = await listed(http, Authorization="Bearer shared-by-all", **user)
            assert response.status_code == 200
        assert GatewayAuthentication.seen == 3
        forged = {"X-Gateway-User": "admin", "X-Gateway-Signature": "0" * 64}
        response, _ = await listed(http, Authorization="Bearer shared-by-all", **forged)
        assert response.status_code == 401


def test_scope_hierarchy_and_step_up():
    assert scopes.expand(["mcp:write"]) == {"mcp:write", "mcp:read"}
    assert scopes.expand(["mcp:reports", "mcp:write"]) == {"mcp:reports", "mcp:write", "mcp:read"}
    assert scopes.expand(["other"]) == {"other"}
    # Everything already granted is asked for again, with what the operation needs, in the settings' order.
    assert scopes.step_up_scopes(scopes.expand(["mcp:read"]), "mcp:write") == "mcp:read mcp:write"
    assert scopes.step_up_scopes(scopes.expand(["mcp:reports"]), "mcp:write") == "mcp:read mcp:write mcp:reports"


def test_challenge_values_cannot_break_out_of_their_quotes():
    header = bearer_challenge({"realm": "mcp", "error_description": 'bad "token"\r\nX-Injected: 1'})
    assert header == 'Bearer realm="mcp", error_description="bad \\"token\\"  X-Injected: 1"'
    assert "\r" not in header and "\n" not in header
