"""What an evaluation task is: a request as a user types it, the role it runs as, the tools a good agent
calls, a reference plan and a checker of the outcome.

A project lists its tasks in a `Suite`, named by MCP_BRIDGE['EVAL_SUITE'] (a dotted path) or by
`mcp_eval --suite`. Each task's `setup` creates the rows it needs, and `Suite.purge` removes every row the
suite's tasks create, before and after each run, so a suite runs again and again on the same database.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

#: A report's job has finished in one of these statuses (get_job_status).
FINISHED = frozenset({"completed", "failed", "cancelled"})

#: Arguments of a step: a dict, or a function of the run so far (facts from setup, earlier results).
Arguments = Mapping[str, Any] | Callable[["Run"], Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class Step:
    """One action of a reference plan.

    kind is "tool" (call the tool *name*), "resource" (read the URI *name*, or `uri(run)`), "prompt"
    (get the prompt *name*) or "poll" (call get_job_status with the job_id the last result of tool
    *name* returned, until the job has finished). `expect_error` marks a step that must be refused
    (isError, or a JSON-RPC error): the plan fails if it succeeds.
    """

    kind: str
    name: str
    arguments: Arguments = dataclasses.field(default_factory=dict)
    uri: Callable[["Run"], str] | None = None
    expect_error: bool = False

    def resolve_arguments(self, run):
        return dict(self.arguments(run) if callable(self.arguments) else self.arguments)

    def resolve_uri(self, run):
        return self.uri(run) if self.uri is not None else self.name


def call(tool, arguments=None, *, expect_error=False):
    return Step("tool", tool, arguments if arguments is not None else {}, expect_error=expect_error)


def read(uri):
    """Read a resource: *uri* is a string or a function of the run (`lambda run: f"customers://customer/{...}"`)."""
    if callable(uri):
        return Step("resource", "", uri=uri)
    return Step("resource", uri)


def prompt(name, arguments=None):
    return Step("prompt", name, arguments if arguments is not None else {})


def poll(report_tool):
    """Poll get_job_status for the job the last call of *report_tool* started, until it has finished."""
    return Step("poll", report_tool)


@dataclasses.dataclass
class Outcome:
    """What one action returned: kind and name as in Step, the arguments sent, and the answer."""

    kind: str
    name: str
    arguments: dict
    is_error: bool
    text: str
    structured: Any = None


@dataclasses.dataclass
class Run:
    """One attempt at a task: the facts its setup returned, every action's outcome, the final answer.

    In `plan` mode the answer is the text of every outcome; in `agent` mode it is the model's last
    message. Checkers read it and the database.
    """

    task: "EvalTask"
    facts: dict
    outcomes: list[Outcome] = dataclasses.field(default_factory=list)
    answer: str = ""

    def last(self, name):
        """The last outcome of the tool (or prompt, or resource URI) *name*, or None."""
        return next((o for o in reversed(self.outcomes) if o.name == name), None)

    def called(self, name):
        return any(o.name == name for o in self.outcomes)

    def refused(self, name):
        """True if every call of *name* was refused (and there was at least one)."""
        calls = [o for o in self.outcomes if o.name == name]
        return bool(calls) and all(o.is_error for o in calls)


@dataclasses.dataclass(frozen=True)
class EvalTask:
    """A task a user could give an agent, and how to tell whether it was done.

    - id: a short slug, unique in the suite.
    - request: the request as the user would type it. It may name facts of the setup in braces
      ("Refund 40 EUR on order {order_id}"); `text(facts)` fills them in.
    - role: the username it runs as.
    - tools: the tools a good agent calls, first the one that does what is asked (`select` ranks for
      that one; a search that only finds its id comes after it). A name may be `prompt:<name>` or
      `resource:<uri template>`.
    - plan: the reference plan.
    - check: returns the failures of a run (empty when the outcome is right); it reads the database and
      run.answer. It must fail on a wrong outcome: tests give it one.
    - setup: creates the rows the task needs and returns facts about them (ids, names) for the plan
      and the checker.
    - refusal: the task must be refused for its role; the checker asserts that nothing changed.
    """

    id: str
    request: str
    role: str
    tools: Sequence[str]
    plan: Sequence[Step]
    check: Callable[[Run], list[str]]
    setup: Callable[[], dict] | None = None
    refusal: bool = False

    def prepare(self):
        return dict(self.setup() if self.setup is not None else {})

    def text(self, facts=None):
        """The request with its facts filled in; without facts (`select`, offline) each reads as a sample id."""
        return self.request.format_map(facts if facts is not None else _SampleFacts())


class _SampleFacts(dict):
    """What `select` reads in place of a setup's facts: every one is an id, as in "order 1042"."""

    def __missing__(self, key):
        return SAMPLE_ID


#: The id a request's fact reads as when no setup ran.
SAMPLE_ID = "1042"


@dataclasses.dataclass(frozen=True)
class Suite:
    """The tasks of a project, how to remove what they created, and the floor `select` must reach."""

    tasks: Sequence[EvalTask]
    purge: Callable[[], None] = lambda: None
    #: `mcp_eval select` fails when overall top-1 accuracy falls below this (recorded from the surface).
    select_floor: float = 0.0

    def __post_init__(self):
        seen = set()
        for task in self.tasks:
            if task.id in seen:
                raise ImproperlyConfigured(f"Two evaluation tasks are named {task.id!r}: ids must be unique.")
            seen.add(task.id)

    def only(self, ids):
        """This suite with only the tasks *ids* (all if empty); an unknown id is an error."""
        if not ids:
            return self
        known = {task.id: task for task in self.tasks}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValueError(f"No task {', '.join(map(repr, unknown))}; tasks: {', '.join(known)}.")
        return dataclasses.replace(self, tasks=[known[i] for i in ids])


def load_suite(path):
    """The Suite at dotted *path* (a module attribute)."""
    try:
        suite = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"Cannot import the evaluation suite {path!r}: {error}") from error
    if not isinstance(suite, Suite):
        raise ImproperlyConfigured(f"{path!r} is a {type(suite).__name__}, not an mcp_bridge.evaluation.suite.Suite.")
    return suite
