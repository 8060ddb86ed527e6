"""Decorators that mark ModelAdmin methods and admin actions for MCP (they only annotate)."""

from weakref import WeakSet

from .declarations import naming

#: Every function marked with @tool or @prompt. A registry build records the ones it serves, so a
#: system check (mcp_bridge.W007) can name those no registered McpAdminMixin ModelAdmin carries.
annotated_functions: WeakSet = WeakSet()


def annotate(function, attribute, options):
    """Set *options* as the function's *attribute* (as @admin.action sets its own), in both decorator forms."""

    def decorator(func):
        setattr(func, attribute, {**options, **naming(func, options["name"], options["description"])})
        annotated_functions.add(func)
        return func

    return decorator if function is None else decorator(function)


def tool(
    function=None,
    *,
    name=None,
    description=None,
    input_serializer=None,
    output_serializer=None,
    permissions=(),
    read_only=False,
    destructive=None,
    idempotent=False,
    title=None,
    context=False,
    throttle_scope=None,
    throttle_classes=None,
    oauth_scope=None,
    rules=(),
    time_budget=None,
):
    """Mark a ModelAdmin method `(self, request, data)` as an MCP tool, like @admin.action.

    `permissions` names admin permissions ('change' calls has_change_permission) or full
    'app_label.codename' permissions; all must pass, in addition to the tool's own grant.
    The method runs in one transaction with *data* validated by `input_serializer`. With
    `context=True` it also receives a `mcp_bridge.context.CallContext` (progress, log, elicit).
    `throttle_scope` names the MCP_BRIDGE['THROTTLE_RATES'] entry its calls count against (default:
    the tool's name); `throttle_classes` replaces MCP_BRIDGE['THROTTLE_CLASSES'] for this tool.
    `oauth_scope` is the OAuth scope an OAuth caller needs (default: mcp:read if `read_only`, else
    mcp:write; see mcp_bridge.scopes). `rules` are business rules checked before the method runs, as
    `validators=` on a field: mcp_bridge.rules objects (MaxResults, MustExist, ...) or callables
    `(request, arguments)` raising ValidationError. `time_budget` is the seconds a call may take
    (default: the ModelAdmin's `mcp_time_budget`, else MCP_BRIDGE['TOOL_TIME_BUDGET']); past it the
    call ends with an isError result and its writes are rolled back.
    """
    return annotate(
        function,
        "mcp_tool",
        {
            "name": name,
            "description": description,
            "input_serializer": input_serializer,
            "output_serializer": output_serializer,
            "permissions": tuple(permissions),
            "read_only": read_only,
            "destructive": destructive,
            "idempotent": idempotent,
            "title": title,
            "context": context,
            "throttle_scope": throttle_scope,
            "throttle_classes": throttle_classes,
            "oauth_scope": oauth_scope,
            "rules": rules,
            "time_budget": time_budget,
        },
    )


def report(
    function=None,
    *,
    name=None,
    description=None,
    input_serializer=None,
    input_schema=None,
    permissions=(),
    title=None,
    soft_time_limit=None,
    time_limit=None,
    result_ttl=None,
    queue=None,
    task_support="optional",
    prepare=None,
    throttle_scope=None,
    throttle_classes=None,
    oauth_scope=None,
    rules=(),
    time_budget=None,
):
    """Mark a ModelAdmin method `(self, request, data, job)` as a report: an MCP tool run on a Celery worker.

    The call validates *data* with `input_serializer` (or `input_schema`), stores a job and answers at
    once with its id, a status URL and what to call next (an MCP task for clients of the tasks
    extension). The method then runs in a worker as the calling user (`self.get_queryset(request)`
    scopes rows as the search tools do) and returns the result; `job` is a `mcp_bridge.jobs.JobContext`
    (progress, check_cancelled, attach a CSV, ask the client).

    `permissions` work as for @tool and are checked again when the job starts. Limits, in seconds
    (defaults: MCP_BRIDGE['JOB_SOFT_TIME_LIMIT'], ['JOB_TIME_LIMIT'], ['JOB_RESULT_TTL']): past
    `soft_time_limit` the report is stopped with a message saying what to narrow, past `time_limit` its
    process is killed; the job and its result are kept `result_ttl` seconds. `queue` is the Celery
    queue (default MCP_BRIDGE['JOB_QUEUE']). Calls are limited per caller to
    MCP_BRIDGE['REPORT_THROTTLE_RATE'] (5/hour) unless THROTTLE_RATES names a rate for its scope.
    `task_support="required"` refuses clients without the MCP tasks extension; `prepare(request,
    data, context)` runs before the job is stored and may ask the client (context.elicit). OAuth
    callers need `oauth_scope` (default mcp:reports). `rules` and `time_budget` work as for @tool and
    apply to the call that starts the job (a report's own run is limited by its time limits); the
    default budget of a report call adds MCP_BRIDGE['JOB_PROGRESS_WAIT'], the time it may wait for
    its job on purpose.
    """
    return annotate(
        function,
        "mcp_report",
        {
            "name": name,
            "description": description,
            "input_serializer": input_serializer,
            "input_schema": input_schema,
            "permissions": tuple(permissions),
            "title": title,
            "soft_time_limit": soft_time_limit,
            "time_limit": time_limit,
            "result_ttl": result_ttl,
            "queue": queue,
            "task_support": task_support,
            "prepare": prepare,
            "throttle_scope": throttle_scope,
            "throttle_classes": throttle_classes,
            "oauth_scope": oauth_scope,
            "rules": rules,
            "time_budget": time_budget,
        },
    )


def prompt(
    function=None,
    *,
    name=None,
    description=None,
    title=None,
    arguments=(),
    requires_tools=(),
    complete=None,
    context=False,
):
    """Mark a ModelAdmin method `(self, request, **arguments)` as an MCP prompt.

    `arguments` is a sequence of (name, description, required) tuples. The prompt is listed only
    to callers who may call every tool in `requires_tools` (the workflow it guides).
    It returns a string (one user message) or a list of (role, text) pairs.
    """
    return annotate(
        function,
        "mcp_prompt",
        {
            "name": name,
            "description": description,
            "title": title,
            "arguments": tuple(arguments),
            "requires_tools": tuple(requires_tools),
            "complete": complete,
            "context": context,
        },
    )


def action(function=None, *, description="", destructive=True, idempotent=False, time_budget=None):
    """Say what an admin action listed in `mcp_actions` does to data, for the model that calls it.

    MCP clients read the hints to decide what to confirm with the user, so state the truth:
    `destructive=False` when the action only adds or changes data in a way that loses nothing worth
    keeping, `idempotent=True` when running it twice on the same objects changes nothing more.
    `description` is text for the calling model, appended to the generated description (the action's
    own `@admin.action(description=...)` is the tool's title); the docstring is not used, since
    an action's docstring is written for its developers. Without this annotation an action is
    described with MCP's defaults: destructive and not idempotent.

        @admin.action(description="Mark selected tickets as resolved", permissions=["change"])
        @mcp_bridge.action(destructive=False, idempotent=True)
        def mark_resolved(self, request, queryset): ...

    is equivalent to setting `mark_resolved.mcp_action = {"destructive": False, "idempotent": True}`;
    an unknown key or a value of the wrong type stops the registry build (mcp_bridge.E110, E111).
    `time_budget` (seconds; default: the ModelAdmin's `mcp_time_budget`, else
    MCP_BRIDGE['TOOL_TIME_BUDGET']) sets `mark_resolved.mcp_time_budget`. Business rules of an action
    are declared in the ModelAdmin's `mcp_rules` under the action's name.
    """

    def decorator(func):
        func.mcp_action = {"description": description, "destructive": destructive, "idempotent": idempotent}
        if time_budget is not None:
            func.mcp_time_budget = time_budget
        return func

    return decorator if function is None else decorator(function)
