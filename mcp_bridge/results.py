"""What mcp_bridge answers, in the SDK's types: descriptions, results and the errors of each kind.

Two error channels, as MCP has them: a tool's failure the calling model can act on is an `isError`
result; a bad request, an unknown name or a server that is busy is a JSON-RPC error. Nothing here
runs Django work.
"""

import functools

from mcp import types
from mcp.shared.exceptions import MCPError

from . import budgets
from .content import blocks, is_content, resource_contents
from .context import InputRequired, MissingClientCapability
from .exceptions import ServiceUnavailable, ToolError
from .inputs import check_text
from .schemas import with_budget_keys
from .tools import json_text

#: resources/read of an unknown (or hidden) URI in the handshake era; 2026-07-28 (SEP-2164) uses INVALID_PARAMS.
RESOURCE_NOT_FOUND = -32002
#: Server-defined (JSON-RPC leaves -32000..-32099 to servers; MCP uses -32000..-32002, -32020..-32022
#: and -32042): a backing service failed or a request ran out of database time; `data.retryAfter`
#: says in how many seconds to retry. Never -32603, which says the server has a bug.
SERVER_BUSY = -32003
#: A completion answers at most this many values (the spec's limit); `total` says how many there were.
MAX_COMPLETION_VALUES = 100


# -- errors ------------------------------------------------------------------------------------------
def invalid_params(message):
    return MCPError(code=types.INVALID_PARAMS, message=message)


def resource_not_found_code(protocol_version):
    return types.INVALID_PARAMS if (protocol_version or "") >= "2026-07-28" else RESOURCE_NOT_FOUND


def resource_not_found(ctx, uri):
    return MCPError(
        code=resource_not_found_code(ctx.protocol_version), message=f"Resource not found: {uri}", data={"uri": uri}
    )


def checked_text(value, what):
    """Return *value*; raise INVALID_PARAMS if it holds text the database cannot take (see inputs.py)."""
    try:
        return check_text(value, argument=what)
    except ToolError as exc:
        raise invalid_params(exc.message) from None


async def report_busy(ctx, call_next):
    """SDK server middleware: a request that failed on a backing service gets a retryable JSON-RPC error."""
    try:
        return await call_next(ctx)
    except ServiceUnavailable as busy:
        raise MCPError(code=SERVER_BUSY, message=busy.message, data={"retryAfter": busy.retry_after}) from None


def asks_client(handler):
    """Decorate a handler whose Django work may ask the client something (a context.CallContext).

    On 2026-07-28 a question not yet answered ends the request with an InputRequiredResult; a
    client without the capability the question needs gets MISSING_REQUIRED_CLIENT_CAPABILITY.
    """

    @functools.wraps(handler)
    async def wrapper(*args, **kwargs):
        try:
            return await handler(*args, **kwargs)
        except InputRequired as needed:
            return types.InputRequiredResult(input_requests=needed.requests, request_state=needed.state)
        except MissingClientCapability as missing:
            raise MCPError(
                code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                message=str(missing),
                data={"requiredCapabilities": missing.required},
            ) from None

    return wrapper


# -- descriptions of what the registry holds ---------------------------------------------------------
def _listed(item):
    """What every listing shows of a tool, resource, template or prompt."""
    return {"name": item.name, "title": item.title, "description": item.description}


def tool_description(tool):
    """Return the SDK's Tool for an McpTool: its name, schemas and behaviour hints."""
    hints = types.ToolAnnotations(
        title=tool.title,
        read_only_hint=tool.read_only,
        destructive_hint=False if tool.read_only else tool.destructive,
        idempotent_hint=tool.idempotent,
        open_world_hint=False,
    )
    # Every object result may come back cut to fit the size limit: its schema says so (budgets.py).
    output_schema = with_budget_keys(tool.output_schema)
    return types.Tool(input_schema=tool.input_schema, output_schema=output_schema, annotations=hints, **_listed(tool))


def resource_description(resource):
    return types.Resource(uri=resource.uri, mime_type=resource.mime_type, **_listed(resource))


def resource_template_description(template):
    return types.ResourceTemplate(uri_template=template.uri_template, mime_type=template.mime_type, **_listed(template))


def prompt_description(prompt):
    arguments = [types.PromptArgument(**argument) for argument in prompt.arguments]
    return types.Prompt(arguments=arguments, **_listed(prompt))


# -- results -----------------------------------------------------------------------------------------
def text_block(text):
    return types.TextContent(type="text", text=text)


def tool_error_result(text):
    """An `isError` result: the calling model reads *text* and can act on it."""
    return types.CallToolResult(content=[text_block(text)], is_error=True)


def call_tool_result(result):
    """Return the CallToolResult of a tools.ToolResult: content blocks, or JSON text plus structured content.

    A JSON result is returned in its wire form (the SDK validates it as a CallToolResult all the
    same), so that its rows are not copied into models only to be dumped again. No result has more
    than MCP_BRIDGE['RESULT_MAX_CHARS'] characters of text: a longer one is cut (budgets.py).
    """
    budget = budgets.max_chars()
    if is_content(result.data):
        return types.CallToolResult(
            content=budgets.fit_text_blocks([block.to_mcp() for block in blocks(result.data)], budget)
        )
    if result.is_error:
        return tool_error_result(budgets.shorten_text(result.text(), budget))
    data, text = result.data, result.text()
    # Admin messages (message_user) the result does not already carry are passed on as text.
    carried = data.get("messages", []) if isinstance(data, dict) else []
    extra = [message for message in result.messages if message not in carried]
    messages = "Admin messages: " + " ".join(extra) if extra else ""
    notice = budgets.notice_of(data)
    if len(text) + len(notice) + len(messages) > budget:
        room = budget - min(len(messages), budgets.MESSAGES_ROOM, budget // 2)  # the data first, then messages
        if len(text) + len(notice) > room:
            try:
                data, notice = budgets.fit_result(data, room)
            except budgets.TooLarge:
                return tool_error_result(budgets.too_large_message(budget))
            text = data if isinstance(data, str) else json_text(data)
        messages = budgets.shorten_text(messages, budget - len(text) - len(notice))
    content = [{"type": "text", "text": text}]
    if notice:
        content.append({"type": "text", "text": notice})  # said in words too: not every client shows the JSON
    if messages:
        content.append({"type": "text", "text": messages})
    answer = {"content": content, "isError": False, "resultType": "complete"}
    if isinstance(data, dict):
        answer["structuredContent"] = data
    return answer


def read_resource_result(uri, mime_type, data):
    """Return the ReadResourceResult of what a resource returned: str, bytes or JSON-able data."""
    if not isinstance(data, (str, bytes)):
        data = json_text(data)
    return types.ReadResourceResult(contents=[resource_contents(uri, mime_type, data)])


def get_prompt_result(prompt, messages):
    """Return the GetPromptResult of a prompt's rendered [(role, text or content block)]."""
    return types.GetPromptResult(
        description=prompt.description,
        messages=[
            types.PromptMessage(role=role, content=content.to_mcp() if is_content(content) else text_block(content))
            for role, content in messages
        ],
    )


def complete_result(values):
    """Return the CompleteResult of every value found: the first MAX_COMPLETION_VALUES, and how many there were."""
    values = [str(value) for value in values]
    return types.CompleteResult(
        completion=types.Completion(
            values=values[:MAX_COMPLETION_VALUES],
            total=len(values),
            has_more=len(values) > MAX_COMPLETION_VALUES,
        )
    )
