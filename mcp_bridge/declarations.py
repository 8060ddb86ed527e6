"""What a tool, prompt or resource declares about itself: its name and description, defaulted and checked."""

import re

from .exceptions import AnnotationError

#: Tool and prompt names: what clients show and models type, so snake_case and short.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def naming(func, name, description):
    """Return the declared name and description, defaulting to the function's name and docstring."""
    return {"name": name or func.__name__, "description": description or (func.__doc__ or "").strip()}


def check_name(kind, name, *, owner, example):
    """Raise AnnotationError (mcp_bridge.E103) unless *name* is snake_case; *kind* is 'Tool' or 'Prompt'."""
    if not NAME_RE.match(name):
        raise AnnotationError(
            f"{kind} name {name!r} must be snake_case: lowercase letters, digits and underscores, at most 64 characters.",
            id="mcp_bridge.E103",
            obj=owner,
            hint=f"Name it with the name= option, e.g. name={example!r}.",
        )


def check_description(subject, description, *, owner, content):
    """Raise AnnotationError (mcp_bridge.E104) if *subject* ("Tool 'x'") has no description; *content* says what one holds."""
    if not description:
        raise AnnotationError(
            f"{subject} has no description.",
            id="mcp_bridge.E104",
            obj=owner,
            hint=f"Pass description= or write a docstring: {content}.",
        )


class Declaration:
    """A function served over MCP: what tools, prompts and resources registered from a function share."""

    def __init__(self, func, *, name, title, description):
        self.func = func
        self.name = name
        self.title = title
        self.description = description
