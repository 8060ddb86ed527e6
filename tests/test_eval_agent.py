"""The `agent` mode's plumbing, end to end: uvicorn serving MCP on the test database, the SDK client as each
task's role, and a scripted OpenAI-compatible endpoint (tests/scripted_chat.py) in place of a model.

The scripts stand for agents of known quality: one follows each task's reference plan (it must succeed),
others pick the wrong tool or none (they must fail), others answer malformed (each attempt records why).
"""

import dataclasses
import json

import pytest

from customers.models import Customer, SupportTicket
from mcp_bridge.authentication import local_principal
from mcp_bridge.evaluation.agent import GET_PROMPT, READ_RESOURCE, run_agent
from mcp_bridge.evaluation.suite import EvalTask, Suite, call, poll, prompt, read
from mcp_bridge.models import ApiKey
from mcp_bridge.permissions import prime_permissions
from mcp_bridge.requests import McpRequest
from mcp_bridge.sites import site

from . import scripted_chat
from .scripted_chat import PlanFollower, ScriptedChat, recording_setups
from .servers import free_port
from .workers import celery_worker

pytestmark = pytest.mark.subprocess

DOMAIN = "@agent-eval.example.com"
MODEL = "scripted-model"
KEY = "sk-scripted-test"


# -- a small suite of our own: a change, a fact in the answer, a resource, a prompt-----------------------------


def purge():
    Customer.objects.filter(email__endswith=DOMAIN).delete()


def customer_with_ticket():
    customer = Customer.objects.create(
        name="Zephyrine Quillfeather", email=f"zephyrine{DOMAIN}", company="Quillfeather Eval Ltd", country="FR"
    )
    ticket = SupportTicket.objects.create(
        customer=customer, subject="Invoice printer on fire", body="Smoke everywhere.", priority="high"
    )
    return {"customer_id": customer.pk, "ticket_id": ticket.pk, "email": customer.email}


def check_ticket_pending(run):
    status = SupportTicket.objects.get(pk=run.facts["ticket_id"]).status
    return [] if status == "pending" else [f"ticket {run.facts['ticket_id']} is {status!r}, expected 'pending'"]


def check_email_in_answer(run):
    return [] if run.facts["email"] in run.answer else [f"the answer does not give {run.facts['email']}"]


def check_ticket_in_answer(run):
    return [] if "Invoice printer on fire" in run.answer else ["the answer does not name the ticket"]


def check_review_in_answer(run):
    expected = f"Review the health of customer {run.facts['customer_id']}"
    return [] if expected in run.answer else ["the answer does not follow the review prompt"]


def check_churn_scored(run):
    status = run.last("get_job_status")
    if status is None or (status.structured or {}).get("status") != "completed":
        return ["the churn job was not followed until it completed"]
    return [] if "Zephyrine Quillfeather" in run.answer else ["the answer does not name the customer at risk"]


#: A report task, run in its own test with a Celery worker.
CHURN = EvalTask(
    id="churn_france",
    request="Which French customers are most likely to leave us?",
    role="analyst",
    tools=["churn_risk_report", "get_job_status"],
    plan=[call("churn_risk_report", {"country": "FR", "top": 500}), poll("churn_risk_report")],
    check=check_churn_scored,
    setup=customer_with_ticket,
)


def first_ticket_pending(run):
    return {"ticket_id": run.last("search_support_tickets").structured["items"][0]["id"], "status": "pending"}


SUITE = Suite(
    tasks=[
        EvalTask(
            id="ticket_waiting",
            request="The printer ticket from Zephyrine Quillfeather is waiting on her now, please mark it so.",
            role="support_agent",
            tools=["search_support_tickets", "update_ticket_status"],
            plan=[
                call("search_support_tickets", {"query": "printer Quillfeather"}),
                call("update_ticket_status", first_ticket_pending),
            ],
            check=check_ticket_pending,
            setup=customer_with_ticket,
        ),
        EvalTask(
            id="customer_email",
            request="What is Zephyrine Quillfeather's email address?",
            role="analyst",
            tools=["search_customers"],
            plan=[call("search_customers", {"query": "Zephyrine Quillfeather"})],
            check=check_email_in_answer,
            setup=customer_with_ticket,
        ),
        EvalTask(
            id="customer_tickets",
            request="List the support tickets of the customer Zephyrine Quillfeather.",
            role="analyst",
            tools=["resource:customers://customer/{id}/tickets"],
            plan=[read(lambda run: f"customers://customer/{run.facts['customer_id']}/tickets")],
            check=check_ticket_in_answer,
            setup=customer_with_ticket,
        ),
        EvalTask(
            id="customer_review",
            request="How is our customer Zephyrine Quillfeather doing? Give me a health review.",
            role="support_agent",
            tools=["prompt:customer_health_review"],
            plan=[prompt("customer_health_review", lambda run: {"customer_id": run.facts["customer_id"]})],
            check=check_review_in_answer,
            setup=customer_with_ticket,
        ),
    ],
    purge=purge,
)


def agent(url, chat, suite=SUITE, **options):
    """run_agent against the scripted endpoint; returns the report and the progress lines."""
    lines = []
    options = {"api_key": KEY, "progress": lines.append, **options}
    report = run_agent(suite, url, endpoint=chat.endpoint, model=MODEL, **options)
    return report, lines


def visible_tools(user):
    request = McpRequest(user, principal=local_principal(user))
    return set(site.visible_tool_names(request, prime_permissions(user)))


# -- tests ---------------------------------------------------------------------------------------------


def test_an_agent_that_follows_the_plans_succeeds(demo, live_server_url):
    suite, facts = recording_setups(SUITE)
    with ScriptedChat(PlanFollower(suite, facts)) as chat:
        report, lines = agent(live_server_url, chat, suite)

    figures = report.figures
    assert not report.failed
    assert figures["success_rate"] == 1.0, figures["failures"]
    assert figures["per_task"] == {task.id: {"runs": 1, "successes": 1, "success_rate": 1.0} for task in SUITE.tasks}
    assert figures["per_tool"]["update_ticket_status"] == {
        "calls": 1,
        "errors": 0,
        "attempts_called": 1,
        "tasks_succeeded": 1,
        "expected": 1,
        "expected_called": 1,
        "expected_succeeded": 1,
    }
    # The resource read is counted under the template the task names.
    assert figures["per_tool"]["resource:customers://customer/{id}/tickets"]["expected_succeeded"] == 1
    # Two turns for a one-step plan: the call, then the answer.
    assert figures["turns"] == pytest.approx((3 + 2 + 2 + 2) / 4)
    assert figures["per_tool"]["prompt:customer_health_review"]["expected_succeeded"] == 1
    assert json.loads(json.dumps(figures)) == figures, "the figures go into the history file as JSON"
    assert len(lines) == 4 and all(" ok " in line for line in lines)
    assert any(line.startswith("ticket_waiting") and line.endswith("1/1") for line in report.lines())
    assert not Customer.objects.filter(email__endswith=DOMAIN).exists(), "every attempt is purged"


@pytest.mark.parametrize("script", ["wrong_tool", "no_tools"])
def test_an_agent_that_picks_the_wrong_tool_or_none_fails(demo, live_server_url, script):
    chat_script = scripted_chat.wrong_tool(SUITE) if script == "wrong_tool" else scripted_chat.no_tools
    with ScriptedChat(chat_script) as chat:
        report, _ = agent(live_server_url, chat)

    figures = report.figures
    assert not report.failed, "agent success is a figure, not a gate"
    assert figures["success_rate"] == 0.0
    assert all(row["successes"] == 0 for row in figures["per_task"].values())
    assert {sample["task"] for sample in figures["failures"]} == {task.id for task in SUITE.tasks}
    assert figures["per_tool"]["update_ticket_status"]["expected_called"] == 0
    if script == "wrong_tool":
        # It searched customers or orders, never tickets: the tool it should have used shows no call.
        assert figures["per_tool"]["search_support_tickets"]["calls"] == 0
        assert sum(row["calls"] for row in figures["per_tool"].values()) == len(SUITE.tasks)


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("http_error", "the chat endpoint answered HTTP 500"),
        ("not_json", "is not a chat completion"),
        ("bad_arguments", "are not valid JSON"),
        ("unknown_tool", "the model called 'launch_rockets', which is not one of its tools"),
    ],
)
def test_malformed_replies_are_recorded_as_failures_and_the_run_goes_on(demo, live_server_url, script, reason):
    suite = SUITE.only(["customer_email"])
    with ScriptedChat(getattr(scripted_chat, script)) as chat:
        report, lines = agent(live_server_url, chat, suite, runs=2)
        received = len(chat.requests)

    figures = report.figures
    assert not report.failed
    assert received == 2, "one request per attempt, and the second attempt ran"
    assert figures["per_task"]["customer_email"] == {"runs": 2, "successes": 0, "success_rate": 0.0}
    assert [sample["attempt"] for sample in figures["failures"]] == [1, 2]
    assert all(reason in sample["reasons"][0] for sample in figures["failures"]), figures["failures"]
    assert all("FAILED" in line and reason in line for line in lines)


def test_the_model_is_offered_exactly_the_tools_of_the_task_role(demo, live_server_url):
    suite = SUITE.only(["ticket_waiting", "customer_email"])
    with ScriptedChat(scripted_chat.no_tools) as chat:
        agent(live_server_url, chat, suite)
        requests = chat.requests

    assert [request.path for request in requests] == ["/v1/chat/completions"] * 2
    offered = {
        request.body["messages"][1]["content"]: {tool["function"]["name"] for tool in request.body["tools"]}
        for request in requests
    }
    for task in suite.tasks:
        expected = visible_tools(demo[task.role]) | {READ_RESOURCE, GET_PROMPT}
        assert offered[task.request] == expected, task.role
    assert "update_ticket_status" in offered[suite.tasks[0].request]
    assert "update_ticket_status" not in offered[suite.tasks[1].request], "an analyst may not change tickets"

    support, analyst = requests
    assert support.headers["authorization"] == f"Bearer {KEY}"
    assert support.body["model"] == MODEL
    system = support.body["messages"][0]
    assert system["role"] == "system" and "You act for support_agent" in system["content"]
    assert "search_customers" in system["content"], "the server's instructions come first"
    assert "You act for analyst" in analyst.body["messages"][0]["content"]
    tools = {tool["function"]["name"]: tool["function"] for tool in support.body["tools"]}
    assert tools["update_ticket_status"]["parameters"]["required"] == ["ticket_id", "status"]
    assert "customers://customer/{id}/tickets" in tools[READ_RESOURCE]["description"]
    assert tools[GET_PROMPT]["parameters"]["properties"]["name"]["enum"] == ["customer_health_review"]


def test_without_an_api_key_no_authorization_is_sent(demo, live_server_url):
    with ScriptedChat(scripted_chat.no_tools) as chat:
        agent(live_server_url, chat, SUITE.only(["customer_email"]), api_key=None)
        (request,) = chat.requests
    assert "authorization" not in request.headers


def test_runs_gives_that_many_attempts_per_task(demo, live_server_url):
    suite, facts = recording_setups(SUITE.only(["customer_email", "customer_tickets"]))
    with ScriptedChat(PlanFollower(suite, facts)) as chat:
        report, lines = agent(live_server_url, chat, suite, runs=3)
        conversations = sum(len(request.body["messages"]) == 2 for request in chat.requests)

    assert conversations == 6
    assert report.figures["attempts"] == 6
    assert report.figures["per_task"]["customer_tickets"] == {"runs": 3, "successes": 3, "success_rate": 1.0}
    assert report.figures["per_tool"]["search_customers"]["calls"] == 3
    assert [line.split(" ok")[0] for line in lines] == [
        f"{task} [{n}/3]" for task in ("customer_email", "customer_tickets") for n in (1, 2, 3)
    ]


def test_max_turns_ends_an_attempt_that_never_answers(demo, live_server_url):
    def searches_forever(body):
        return {"content": None, "tool_calls": [scripted_chat.tool_call("search_customers", {"query": "Zephyrine"})]}

    with ScriptedChat(searches_forever) as chat:
        report, _ = agent(live_server_url, chat, SUITE.only(["customer_email"]), max_turns=3)
        assert len(chat.requests) == 3
    (sample,) = report.figures["failures"]
    assert sample["reasons"][0] == "no final answer after 3 turns: the model was still calling tools"


def test_an_unreachable_endpoint_stops_the_run_with_one_error(demo, live_server_url):
    lines = []
    endpoint = f"http://127.0.0.1:{free_port()}/v1"
    report = run_agent(SUITE, live_server_url, endpoint=endpoint, model=MODEL, api_key=KEY, progress=lines.append)

    assert report.failed
    assert report.figures["attempts"] == 0
    assert len(lines) == 1 and lines[0].startswith(f"Stopped: no chat endpoint answers at {endpoint}/chat/completions")
    assert report.lines() == lines
    assert not Customer.objects.filter(email__endswith=DOMAIN).exists(), "the interrupted attempt is purged"


def test_an_unreachable_mcp_server_stops_the_run_with_one_error(demo):
    url = f"http://127.0.0.1:{free_port()}"
    with ScriptedChat(scripted_chat.no_tools) as chat:
        report, _ = agent(url, chat)
        assert chat.requests == []
    assert report.failed
    assert report.error.startswith(f"no MCP server at {url}")


def test_with_no_endpoint_configured_nothing_is_called(demo):
    keys_before = ApiKey.objects.count()
    for endpoint, model in ((None, MODEL), ("", MODEL), ("http://127.0.0.1:1/v1", None)):
        with pytest.raises(ValueError, match="No chat endpoint to evaluate"):
            run_agent(SUITE, "http://127.0.0.1:1", endpoint=endpoint, model=model, api_key=None)
    assert ApiKey.objects.count() == keys_before, "no key was issued: nothing ran"


def test_a_refused_call_reaches_the_model_as_an_error_and_counts_as_one(demo, live_server_url):
    suite, facts = recording_setups(SUITE.only(["ticket_waiting"]))

    def bad_status(body):
        if body["messages"][-1]["role"] == "tool":
            return {"content": "It did not work."}
        arguments = {"ticket_id": facts["ticket_waiting"]["ticket_id"], "status": "on_fire"}
        return {"content": None, "tool_calls": [scripted_chat.tool_call("update_ticket_status", arguments)]}

    with ScriptedChat(bad_status) as chat:
        report, _ = agent(live_server_url, chat, suite)
        reply = chat.requests[-1].body["messages"][-1]

    assert reply["role"] == "tool" and reply["content"].startswith("Error: ")
    assert "on_fire" in reply["content"]
    assert reply["tool_call_id"] == chat.requests[-1].body["messages"][-2]["tool_calls"][0]["id"]
    assert report.figures["per_tool"]["update_ticket_status"]["errors"] == 1
    (sample,) = report.figures["failures"]
    assert sample["reasons"] == [f"ticket {facts['ticket_waiting']['ticket_id']} is 'open', expected 'pending'"]


def test_an_attempt_whose_setup_fails_is_a_failure_and_the_next_task_runs(demo, live_server_url):
    def broken_setup():
        raise LookupError("the demo has no customer named Quillfeather")

    broken = dataclasses.replace(SUITE.tasks[1], id="broken", setup=broken_setup)
    suite = dataclasses.replace(SUITE, tasks=[broken, SUITE.tasks[2]])
    suite, facts = recording_setups(suite)
    with ScriptedChat(PlanFollower(suite, facts)) as chat:
        report, _ = agent(live_server_url, chat, suite)

    assert report.figures["per_task"]["broken"]["successes"] == 0
    assert report.figures["per_task"]["customer_tickets"]["successes"] == 1
    (sample,) = report.figures["failures"]
    assert sample["reasons"] == ["LookupError: the demo has no customer named Quillfeather"]


def test_a_report_task_is_followed_until_its_job_completes(demo, live_server_url):
    suite, facts = recording_setups(dataclasses.replace(SUITE, tasks=[CHURN]))
    with celery_worker(name="agent-eval"), ScriptedChat(PlanFollower(suite, facts, poll_interval=0.3)) as chat:
        report, _ = agent(live_server_url, chat, suite)

    assert report.figures["success_rate"] == 1.0, report.figures["failures"]
    assert report.figures["per_tool"]["churn_risk_report"]["calls"] == 1
    assert report.figures["per_tool"]["get_job_status"]["calls"] >= 1
    assert report.figures["turns"] == 2 + report.figures["per_tool"]["get_job_status"]["calls"]
