"""Prompts: named, parameterised message templates that guide a workflow."""

import inspect

from .declarations import Declaration, check_description, check_name
from .exceptions import ToolError


class McpPrompt(Declaration):
    """A prompt from a function `(request, **arguments)` (see decorators.prompt for the options)."""

    def __init__(
        self, func, *, name, description, title=None, arguments=(), requires_tools=(), complete=None, context=False
    ):
        owner = type(func.__self__) if inspect.ismethod(func) else func  # a ModelAdmin class, or the function
        check_name("Prompt", name, owner=owner, example="customer_review")
        check_description(
            f"Prompt {name!r}", description, owner=owner, content="what the prompt guides the model to do"
        )
        super().__init__(func, name=name, title=title, description=description)
        self.arguments = [
            {"name": a[0], "description": a[1] if len(a) > 1 else "", "required": bool(a[2]) if len(a) > 2 else True}
            for a in arguments
        ]
        self.requires_tools = tuple(requires_tools)
        self.completer = complete
        self.context = context

    def __repr__(self):
        return f"<McpPrompt {self.name!r}>"

    def is_visible(self, visible_tool_names):
        return all(name in visible_tool_names for name in self.requires_tools)

    def complete(self, request, argument, value):
        """Suggest values for one argument (the `complete` option: `f(request, argument, value)`)."""
        return list(self.completer(request, argument, value)) if self.completer else []

    def render(self, request, arguments):
        """Return [(role, text or content block), ...]; missing required arguments are a ToolError."""
        arguments = dict(arguments or {})
        known = {a["name"] for a in self.arguments}
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise ToolError(
                f"Unknown argument(s) {', '.join(unknown)} for prompt {self.name}; it takes: {', '.join(sorted(known)) or 'none'}."
            )
        missing = [a["name"] for a in self.arguments if a["required"] and not arguments.get(a["name"])]
        if missing:
            raise ToolError(f"Prompt {self.name} needs argument(s): {', '.join(missing)}.")
        result = self.func(request, request.mcp_call, **arguments) if self.context else self.func(request, **arguments)
        if isinstance(result, str):
            return [("user", result)]
        return [(role, content) for role, content in result]
