"""OAuth 2.1 end to end: the official SDK client, authorized by a person at a real browser.

uvicorn serves config.asgi (`live_server_url`). The SDK's `OAuthClientProvider` meets the 401
challenge of /mcp, discovers the protected resource and authorization server metadata, registers
itself (dynamic client registration) and hands the authorization URL to a headless chromium
(tests/browser.py), where a demo user signs in and allows access on the consent page. The redirect to
the client's loopback callback is intercepted in the browser, as a native client's listener would
receive it, and the SDK exchanges the code for tokens. Then: tool calls in both protocol eras, a
step-up to a wider scope when a write tool is called, and a refresh with rotation.

The consent page is saved as $ARTIFACTS_DIR/oauth-consent.png (default var/artifacts/).
"""

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from oauth2_provider.models import get_access_token_model

from customers.models import SupportTicket
from mcp_bridge.conf import mcp_settings

from .browser import chromium_page
from .servers import ROOT, free_port, server_password
from .test_http import orm

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

ARTIFACTS_DIR = Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "var" / "artifacts")
USERNAME = "support_agent"  # may search customers (mcp:read) and change tickets (mcp:write)
PASSWORD = "consent-in-a-browser"
CLIENT_NAME = "Acme desktop assistant"
READ, WRITE = frozenset({"mcp:read"}), frozenset({"mcp:write"})


class MemoryTokenStorage:
    """The SDK's TokenStorage, in memory, keeping every token response it was given (newest last)."""

    def __init__(self):
        self.issued = []
        self.client_info = None

    async def get_tokens(self):
        return self.issued[-1] if self.issued else None

    async def set_tokens(self, tokens):
        self.issued.append(tokens)

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class PersonAtBrowser:
    """The user the SDK sends to the authorization server: signs in when asked, reads the consent page
    (its text is kept, and a screenshot saved), allows, and hands the redirect back to the client.

    `authorize` is the SDK's redirect_handler and `callback` its callback_handler. The redirect to the
    loopback callback URL is intercepted in the browser, so nothing needs to listen there.
    """

    def __init__(self, page, username, password, callback_url):
        self.page = page
        self.username = username
        self.password = password
        self.callback_url = callback_url
        self.sign_ins = 0
        self.consent_pages = []  # the text of each consent page, in order
        self.screenshots = []  # where each consent page was saved, in order
        self.next_screenshot = ARTIFACTS_DIR / "oauth-consent.png"
        self.result = None
        self.stylesheets = {}  # URL -> status of each stylesheet the pages loaded
        page.on("response", self.note_stylesheet)

    def note_stylesheet(self, response):
        if response.request.resource_type == "stylesheet":
            self.stylesheets[response.url] = response.status

    async def authorize(self, authorization_url):
        redirected = asyncio.get_running_loop().create_future()

        async def deliver(route):
            if not redirected.done():
                redirected.set_result(route.request.url)
            await route.fulfill(content_type="text/html", body="<p>Signed in. You may close this window.</p>")

        await self.page.route(self.is_callback, deliver)
        try:
            await self.page.goto(authorization_url)
            if await self.page.locator('input[name="password"]').count():  # not signed in yet: the login page
                await self.page.locator('input[name="username"]').fill(self.username)
                await self.page.locator('input[name="password"]').fill(self.password)
                await self.page.get_by_role("button", name="Log in").click()
                self.sign_ins += 1
            allow = self.page.get_by_role("button", name="Allow")
            await allow.wait_for()
            self.consent_pages.append(await self.page.locator("body").inner_text())
            self.next_screenshot.parent.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=self.next_screenshot, full_page=True)
            self.screenshots.append(self.next_screenshot)
            await allow.click()
            callback = urlsplit(await asyncio.wait_for(redirected, timeout=30))
        finally:
            await self.page.unroute(self.is_callback)
        params = {name: values[0] for name, values in parse_qs(callback.query).items()}
        assert "code" in params, f"the authorization server redirected without a code: {params}"
        self.result = AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    def is_callback(self, url):
        return url.startswith(f"{self.callback_url}?")

    async def callback(self):
        result, self.result = self.result, None
        return result


@orm
def set_password(user):
    user.password = server_password(PASSWORD)
    user.save(update_fields=["password"])


@orm
def open_ticket():
    return SupportTicket.objects.filter(customer__is_internal=False, status="open").order_by("pk").first()


@orm
def issued_access_tokens(client_id):
    """(resource, scope) of every access token the OAuth client *client_id* holds for a user.

    Its registration access token (RFC 7592, no user) is left out: it is for the registration endpoint.
    """
    tokens = get_access_token_model().objects.filter(application__client_id=client_id, user__isnull=False)
    return list(tokens.values_list("resource", "scope"))


def tool_names(listed):
    return {tool.name for tool in listed.tools}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_authorizes_in_a_browser_steps_up_and_refreshes(demo, live_server_url, mode):
    await set_password(demo[USERNAME])
    endpoint = f"{live_server_url}/mcp"
    # A native client's loopback listener; localhost, so that the consent page's redirect host is told
    # apart from the server's (127.0.0.1).
    callback_url = f"http://localhost:{free_port()}/callback"
    ticket = await open_ticket()
    storage = MemoryTokenStorage()
    ARTIFACTS_DIR.joinpath("oauth-consent.png").unlink(missing_ok=True)

    async with chromium_page() as page:
        person = PersonAtBrowser(page, USERNAME, PASSWORD, callback_url)
        provider = OAuthClientProvider(
            server_url=endpoint,
            client_metadata=OAuthClientMetadata(
                client_name=CLIENT_NAME,
                redirect_uris=[callback_url],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=storage,
            redirect_handler=person.authorize,
            callback_handler=person.callback,
        )
        async with (
            httpx2.AsyncClient(auth=provider) as http,
            Client(streamable_http_client(endpoint, http_client=http), mode=mode) as client,
        ):
            # The first request meets the 401 challenge; the person allows mcp:read.
            listed = tool_names(await client.list_tools())
            assert len(person.consent_pages) == 1
            assert "search_customers" in listed and "update_ticket_status" not in listed, listed
            assert set(storage.issued[-1].scope.split()) == READ
            found = await client.call_tool("search_customers", {"status": "active", "page_size": 2})
            assert not found.is_error, found.content[0].text
            assert len(found.structured_content["items"]) == 2

            # Step-up: a write tool the user may call, with a read-only token: 403 insufficient_scope,
            # the person consents to the wider scope, and the SDK retries the call.
            person.next_screenshot = ARTIFACTS_DIR / "oauth-consent-step-up.png"
            changed = await client.call_tool(
                "update_ticket_status", {"ticket_id": ticket.pk, "status": "pending", "note": "after step-up"}
            )
            assert not changed.is_error, changed.content[0].text
            assert changed.structured_content == {
                "ticket_id": ticket.pk,
                "previous_status": "open",
                "status": "pending",
            }
            assert len(person.consent_pages) == 2 and person.sign_ins == 1  # still signed in: consent only
            assert set(storage.issued[-1].scope.split()) == READ | WRITE
            assert "update_ticket_status" in tool_names(await client.list_tools())

            # Refresh with rotation. The SDK keeps the expiry time in its context (it computes it from
            # expires_in when a token arrives), not in the storage: moving it into the past is what a
            # token outliving its lifetime looks like to the client.
            before = storage.issued[-1]
            provider.context.token_expiry_time = time.time() - 1
            found = await client.call_tool("search_customers", {"page_size": 1})
            assert not found.is_error, found.content[0].text
            after = storage.issued[-1]
            assert after is not before and len(person.consent_pages) == 2  # refreshed, not re-authorized
            assert after.access_token != before.access_token
            assert after.refresh_token and after.refresh_token != before.refresh_token
            assert set(after.scope.split()) == READ | WRITE
            token_endpoint = str(provider.context.oauth_metadata.token_endpoint)

        # Every token the server issued to this client is bound to this server's MCP endpoint (RFC 8707).
        issued = await issued_access_tokens(storage.client_info.client_id)
        assert {frozenset(scope.split()) for _, scope in issued} == {READ, READ | WRITE}, issued
        assert all(resource == [endpoint] for resource, _ in issued), issued

        # The rotated-out refresh token is spent.
        async with httpx2.AsyncClient() as http:
            reused = await http.post(
                token_endpoint,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": before.refresh_token,
                    "client_id": storage.client_info.client_id,
                    "resource": endpoint,
                },
            )
        assert reused.status_code == 400, (reused.status_code, reused.text)
        assert reused.json()["error"] == "invalid_grant"

    # What the person saw before allowing: who asks, where the answer goes, what for, and for which server.
    first, step_up = person.consent_pages
    read_words, write_words = mcp_settings.OAUTH_SCOPES["mcp:read"], mcp_settings.OAUTH_SCOPES["mcp:write"]
    for text in (first, step_up):
        assert CLIENT_NAME in text and "localhost" in text and endpoint in text, text
        assert read_words in text, text
    assert write_words not in first and write_words in step_up, (first, step_up)
    assert person.screenshots[0] == ARTIFACTS_DIR / "oauth-consent.png"
    assert person.screenshots[0].stat().st_size > 0
    # in the project's look: the admin's stylesheets, served by the app server itself (DEBUG off)
    assert person.stylesheets and set(person.stylesheets.values()) == {200}, person.stylesheets
