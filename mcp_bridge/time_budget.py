"""The time budget of a tool call: past it the call ends with an isError result and nothing is changed.

A tool's budget is, first found: its `time_budget=` option (@mcp_bridge.tool, @mcp_bridge.report,
@mcp_bridge.action), its ModelAdmin's `get_mcp_time_budget(operation)` (`mcp_time_budget`), then
MCP_BRIDGE['TOOL_TIME_BUDGET']. None means no budget.

Python code cannot be interrupted safely, so the budget is enforced in two places:

- in the database: no statement runs past the call's deadline (database.call_deadline: PostgreSQL
  statements are cancelled, SQLite's are interrupted by its progress handler);
- when the tool returns: a call that returns after its deadline raises inside its transaction, so
  whatever it wrote is rolled back, and the caller is told so.

A report's call also waits up to MCP_BRIDGE['JOB_PROGRESS_WAIT'] for its job on purpose (relaying
progress to 2025-era clients): that wait is added to the default budget of reports.
"""

import contextlib
import time

from django.core import checks

from .conf import mcp_settings
from .database import CallTimeout, call_deadline
from .exceptions import ToolError


def is_seconds(value):
    """True for a positive number of seconds (None, meaning no budget, is checked apart)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def declared_time_budget(tool):
    """Return (seconds, where it was declared) from the tool's own option or its ModelAdmin, or (None, None)."""
    own = getattr(tool, "time_budget", None)
    if own is None:
        func = getattr(tool, "func", None)  # an admin action's @mcp_bridge.action(time_budget=...)
        own = getattr(func, "mcp_time_budget", None)
    if own is not None:
        return own, "time_budget"
    model_admin = getattr(tool, "model_admin", None)
    hook = getattr(model_admin, "get_mcp_time_budget", None)
    if hook is not None:
        seconds = hook(operation_of(tool))
        if seconds is not None:
            return seconds, "mcp_time_budget"
    return None, None


def operation_of(tool):
    """What a ModelAdmin's per-operation options key a tool by: the operation ('search', 'create', ...),
    the admin action's name, or the tool's name for a @mcp_bridge.tool/@mcp_bridge.report method."""
    action_name = getattr(tool, "action_name", None)
    if action_name is not None:
        return action_name
    if hasattr(tool, "exposure"):
        return tool.kind
    return tool.name


def time_budget_of(tool):
    """Return the seconds a call of *tool* may take, or None for no limit."""
    seconds, _ = declared_time_budget(tool)
    if seconds is not None:
        return seconds if is_seconds(seconds) else None  # a wrong value is reported by check mcp_bridge.E138
    seconds = mcp_settings.TOOL_TIME_BUDGET
    if not is_seconds(seconds):
        return None
    if tool.kind == "report":
        seconds += mcp_settings.JOB_PROGRESS_WAIT or 0
    return seconds


class CallBudget:
    """The running call's budget: `check()` raises once it is spent."""

    def __init__(self, tool, seconds):
        self.tool = tool
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds if seconds is not None else None

    def check(self):
        """Raise ToolError if the call is past its budget; call it inside the transaction, before it commits."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise self.exceeded()

    def exceeded(self):
        return ToolError(
            f"{self.tool.name} took longer than its {self.seconds:g} s time budget and was stopped; nothing was "
            f"changed. {self.tool.narrowing_hint()} For work that takes longer, use a report if one fits."
        )


@contextlib.contextmanager
def limit(tool):
    """Run a call of *tool* within its time budget; yield its CallBudget.

    A database statement stopped for the budget becomes the same ToolError as `CallBudget.check()`.
    """
    budget = CallBudget(tool, time_budget_of(tool))
    if budget.seconds is None:
        yield budget
        return
    try:
        with call_deadline(budget.seconds):
            yield budget
    except CallTimeout:
        raise budget.exceeded() from None


def check_time_budgets(registry):
    """E138: MCP_BRIDGE['TOOL_TIME_BUDGET'] and every tool's declared budget are positive seconds or None."""
    errors = []
    setting = mcp_settings.TOOL_TIME_BUDGET
    if setting is not None and not is_seconds(setting):
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['TOOL_TIME_BUDGET'] must be a number of seconds above 0, or None; it is {setting!r}.",
                hint="E.g. 30; None lets tool calls run as long as they like.",
                id="mcp_bridge.E138",
            )
        )
    for tool in registry.tools.values() if registry is not None else ():
        seconds, option = declared_time_budget(tool)
        if seconds is not None and not is_seconds(seconds):
            errors.append(
                checks.Error(
                    f"The {option} of tool {tool.name!r} must be a number of seconds above 0, or None; it is "
                    f"{seconds!r}.",
                    hint="E.g. time_budget=60 for a tool that needs longer than MCP_BRIDGE['TOOL_TIME_BUDGET'].",
                    obj=registry.tool_owners.get(tool.name),
                    id="mcp_bridge.E138",
                )
            )
    return errors
