"""What a tool sees of its call over real HTTP: the request Django would build, and the caller's own log level.

uvicorn serves config.asgi with tests.probe_settings (tests.probe_app's tools, SECURE_PROXY_SSL_HEADER
set as behind a TLS proxy) and MCP_STATELESS_HTTP=1, on the test database.
"""

import contextlib

import httpx2
import pytest
from asgiref.sync import sync_to_async
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_bridge.models import ApiKey

from .servers import uvicorn_server

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]


@pytest.fixture(scope="module")
def probe_url(django_db_setup, django_db_blocker):
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.probe_settings",
        "MCP_STATELESS_HTTP": "1",
        # The SDK's deprecation of logging is an error in this server, except for mcp_bridge's own
        # calls made for 2025-era clients (see mcp_bridge.context): a tool that logs must still work.
        "PYTHONWARNINGS": "error:The logging capability is deprecated",
    }
    with django_db_blocker.unblock(), uvicorn_server(extra_env=env) as url:
        yield url


@contextlib.asynccontextmanager
async def http_client(base_url, key, mode="auto", headers=None, logging_callback=None):
    """The SDK's Streamable HTTP client, authenticated with API key *key*, sending *headers* too."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}", **(headers or {})}) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, mode=mode, logging_callback=logging_callback) as client:
            yield client


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tool_sees_the_scheme_host_and_port_of_plain_http(api_keys, probe_url, mode):
    async with http_client(probe_url, api_keys["admin"], mode) as client:
        result = await client.call_tool("probe_request", {})
    assert result.structured_content == {"absolute_uri": f"{probe_url}/mcp", "scheme": "http", "is_secure": False}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tool_sees_https_when_the_trusted_proxy_says_so(api_keys, probe_url, mode):
    async with http_client(probe_url, api_keys["admin"], mode, headers={"X-Forwarded-Proto": "https"}) as client:
        result = await client.call_tool("probe_request", {})
    secure_url = probe_url.replace("http://", "https://")
    assert result.structured_content == {"absolute_uri": f"{secure_url}/mcp", "scheme": "https", "is_secure": True}


# logging/setLevel is deprecated in 2026-07-28, yet handshake-era clients still send it.
@pytest.mark.filterwarnings("ignore:The logging capability is deprecated:mcp.shared.exceptions.MCPDeprecationWarning")
async def test_one_stateless_clients_log_level_leaves_other_credentials_alone(demo, probe_url):
    issue = sync_to_async(lambda label: ApiKey.issue(demo["admin"], label)[1])
    quiet_key, loud_key = await issue("quiet client"), await issue("loud client")
    received = {"quiet": [], "loud": []}

    def collect(name):
        async def callback(params):
            received[name].append((params.level, params.data))

        return callback

    async with (
        http_client(probe_url, quiet_key, "legacy", logging_callback=collect("quiet")) as quiet,
        http_client(probe_url, loud_key, "legacy", logging_callback=collect("loud")) as loud,
    ):
        await quiet.set_logging_level("error")
        assert (await loud.call_tool("probe_logging", {})).content[0].text == "logged"
        assert (await quiet.call_tool("probe_logging", {})).content[0].text == "logged"
    assert received == {
        "quiet": [("error", "probe error")],
        "loud": [("info", "probe info"), ("error", "probe error")],
    }
