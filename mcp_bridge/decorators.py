"""Decorators that mark ModelAdmin methods as MCP tools or prompts (they only annotate)."""

from weakref import WeakSet

#: Every function marked with @tool or @prompt. A registry build records the ones it serves, so a
#: system check (mcp_bridge.W007) can name those no registered McpAdminMixin ModelAdmin carries.
annotated_functions = WeakSet()


def tool(function=None, *, name=None, description=None, input_serializer=None, output_serializer=None,
         permissions=(), read_only=False, destructive=None, idempotent=False, title=None, context=False):
    """Mark a ModelAdmin method `(self, request, data)` as an MCP tool, like @admin.action.

    `permissions` names admin permissions ('change' calls has_change_permission) or full
    'app_label.codename' permissions; all must pass, in addition to the tool's own grant.
    The method runs in one transaction with *data* validated by `input_serializer`. With
    `context=True` it also receives a `mcp_bridge.context.CallContext` (progress, log, elicit).
    """

    def decorator(func):
        func.mcp_tool = {
            "name": name or func.__name__,
            "description": description or (func.__doc__ or "").strip(),
            "input_serializer": input_serializer,
            "output_serializer": output_serializer,
            "permissions": tuple(permissions),
            "read_only": read_only,
            "destructive": destructive,
            "idempotent": idempotent,
            "title": title,
            "context": context,
        }
        annotated_functions.add(func)
        return func

    return decorator if function is None else decorator(function)


def prompt(function=None, *, name=None, description=None, title=None, arguments=(), requires_tools=(), complete=None,
           context=False):
    """Mark a ModelAdmin method `(self, request, **arguments)` as an MCP prompt.

    `arguments` is a sequence of (name, description, required) tuples. The prompt is listed only
    to callers who may call every tool in `requires_tools` (the workflow it guides).
    It returns a string (one user message) or a list of (role, text) pairs.
    """

    def decorator(func):
        func.mcp_prompt = {
            "name": name or func.__name__,
            "description": description or (func.__doc__ or "").strip(),
            "title": title,
            "arguments": tuple(arguments),
            "requires_tools": tuple(requires_tools),
            "complete": complete,
            "context": context,
        }
        annotated_functions.add(func)
        return func

    return decorator if function is None else decorator(function)


def action_description(text):
    """Attach extra MCP description text to an admin action (shown after the generated text)."""

    def decorator(func):
        func.mcp_description = text
        return func

    return decorator
