"""How evaluation reaches the server: the SDK's client over Streamable HTTP, as a role, with a temporary API key."""

import contextlib
import json

import httpx2
from django.contrib.auth import get_user_model
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from mcp_bridge.models import ApiKey

from .suite import Outcome

KEY_NAME = "mcp_eval"


@contextlib.contextmanager
def role_keys(usernames):
    """Issue an API key for each username; yield {username: raw key}; revoke them all afterwards.

    An unknown or inactive username is an error that names it: the task could not run as its role.
    """
    User = get_user_model()
    users = {user.get_username(): user for user in User._default_manager.filter(username__in=set(usernames))}
    missing = sorted(set(usernames) - {name for name, user in users.items() if user.is_active})
    if missing:
        raise ValueError(f"No active user {', '.join(map(repr, missing))}: create the role's user first.")
    issued = {name: ApiKey.issue(user, f"{KEY_NAME} ({name})") for name, user in users.items()}
    try:
        yield {name: raw for name, (_, raw) in issued.items()}
    finally:
        for api_key, _ in issued.values():
            api_key.revoke()


@contextlib.asynccontextmanager
async def connect(url, key, mode="auto", timeout=60):
    """An SDK client on `<url>/mcp` with `Authorization: Bearer <key>` ('auto' speaks 2026-07-28)."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        transport = streamable_http_client(f"{url.rstrip('/')}/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


async def perform(client, kind, name, arguments=None):
    """Run one action (kind "tool", "resource" or "prompt") and return its Outcome; errors are outcomes too."""
    arguments = dict(arguments or {})
    try:
        if kind == "tool":
            result = await client.call_tool(name, arguments)
            text = "\n".join(block.text for block in result.content if getattr(block, "text", None) is not None)
            return Outcome(kind, name, arguments, bool(result.is_error), text, result.structured_content)
        if kind == "resource":
            result = await client.read_resource(name)
            text = "\n".join(item.text for item in result.contents if getattr(item, "text", None) is not None)
            return Outcome(kind, name, arguments, False, text, _json_or_none(text))
        if kind == "prompt":
            result = await client.get_prompt(name, {key: str(value) for key, value in arguments.items()})
            text = "\n".join(
                message.content.text for message in result.messages if getattr(message.content, "text", None)
            )
            return Outcome(kind, name, arguments, False, text)
    except MCPError as error:
        return Outcome(kind, name, arguments, True, f"MCP error {error.code}: {error.message}")
    raise ValueError(f"Unknown action kind {kind!r}: use tool, resource or prompt.")


async def list_all(list_page, field):
    """Every item of a paginated listing (`list_all(mcp.list_tools, "tools")`)."""
    items, cursor = [], None
    while True:
        page = await list_page(cursor=cursor)
        items += getattr(page, field)
        cursor = page.next_cursor
        if not cursor:
            return items


def _json_or_none(text):
    try:
        return json.loads(text)
    except ValueError:
        return None
