"""The demo's agent-evaluation suite: requests a support team would give an agent, with reference plans and checkers.

Run it with `python manage.py mcp_eval select|plan|agent` (MCP_BRIDGE['EVAL_SUITE'] names SUITE). Every task's
setup creates its own customers, with names no seeded customer has and emails under EVAL_DOMAIN, and `purge`
deletes them (their orders, tickets and refunds go with them) before and after each task, so the suite runs
again and again on the demo database. Checkers read the database and the run's answer; each must fail on a
wrong outcome (tests/test_eval_suite.py gives them one).
"""

import re
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from mcp_bridge.evaluation.suite import EvalTask, Suite, call, poll, prompt, read
from mcp_bridge.jobs import job_model

from .models import Customer, Order, Refund, SupportTicket

#: Every customer the suite creates has an email address under this domain, and only those.
EVAL_DOMAIN = "eval.example.com"


#: The credential of the report jobs a setup creates (a job records the credential it was called with).
EVAL_CREDENTIAL = "mcp_eval setup"


def purge():
    customers = Customer.objects.filter(email__endswith=f"@{EVAL_DOMAIN}")
    Refund.objects.filter(order__customer__in=customers).delete()  # refunds protect their orders
    customers.delete()
    job_model().objects.filter(credential=EVAL_CREDENTIAL).delete()


# -- setup helpers --------------------------------------------------------------------------------------------


def customer(name, **fields):
    """A customer named *name*, emailed at EVAL_DOMAIN, active in the Netherlands unless *fields* say otherwise."""
    local = re.sub(r"[^a-z]+", ".", name.lower()).strip(".")
    fields = {"email": f"{local}@{EVAL_DOMAIN}", "country": "NL", "status": "active", **fields}
    return Customer.objects.create(name=name, **fields)


def days_ago(days):
    return timezone.now() - timedelta(days=days)


def order(of, total, *, status="paid", days=3, refunded="0"):
    return Order.objects.create(
        customer=of, total=Decimal(total), refunded_total=Decimal(refunded), status=status, created=days_ago(days)
    )


def ticket(of, subject, *, body=None, status="open", priority="normal", days=1):
    return SupportTicket.objects.create(
        customer=of,
        subject=subject,
        body=body or f"{subject}. Please help.",
        status=status,
        priority=priority,
        created=days_ago(days),
    )


def first_found(tool):
    """The id of the first item the last call of *tool* found (a plan's next step acts on it)."""
    return lambda run: run.last(tool).structured["items"][0]["id"]


# -- checker helpers: each returns a list of failures, empty when the outcome is right --------------------------


def expect(condition, failure):
    return [] if condition else [failure]


def says(run, *words):
    """Failures for each of *words* (alternatives separated by |, any case) the answer does not contain."""
    answer = run.answer.lower()
    return [
        f"the answer does not say {word.split('|')[0]!r}"
        for word in words
        if not any(alternative.lower() in answer for alternative in word.split("|"))
    ]


def refunded_on(order_id):
    return sum((refund.amount for refund in Refund.objects.filter(order_id=order_id)), Decimal(0))


#: Words of an answer that tells the user the request was refused (a tool's refusal says them too).
DECLINING = (
    "unknown tool",
    "permission",
    "refused",
    "not allowed",
    "not permitted",
    "cannot",
    "can't",
    "unable",
    "do not have",
    "don't have",
    "no access",
    "over the limit",
    "supervisor",
)


def declined(run, tool):
    """A refusal holds: *tool* never succeeded, and the answer tells the user it was refused."""
    succeeded = [o for o in run.outcomes if o.name == tool and not o.is_error]
    answer = run.answer.lower()
    return expect(not succeeded, f"{tool} succeeded although the request must be refused") + expect(
        any(word in answer for word in DECLINING), "the answer does not tell the user the request was refused"
    )


# -- the tasks -----------------------------------------------------------------------------------------------


def marguerite():
    return {"customer_id": customer("Marguerite Oyelaran", country="NL").pk}


def check_country(run):
    return says(run, "NL|Netherlands")


def barnaby():
    return {"customer_id": customer("Barnaby Thistlewood-Achebe", lifetime_value=Decimal("48210.75")).pk}


def check_lifetime_value(run):
    return says(run, "48210.75|48,210.75")


def ysolde():
    return {"customer_id": customer("Ysolde Marchetti-Kwan", company="Fernhollow Instruments").pk}


def check_company(run):
    return says(run, "Fernhollow Instruments", "Ysolde")


LEAD_EMAIL = f"ottoline.brabazon@{EVAL_DOMAIN}"


def check_lead_created(run):
    found = Customer.objects.filter(email=LEAD_EMAIL).first()
    if found is None:
        return [f"no customer with email {LEAD_EMAIL}"]
    return (
        expect(found.name == "Ottoline Brabazon-Vance", f"the new customer is named {found.name!r}")
        + expect(found.country == "ES", f"the new customer's country is {found.country!r}, not 'ES'")
        + expect(found.status == "lead", f"the new customer's status is {found.status!r}, not 'lead'")
        + expect(found.company == "Quillmere Press", f"the new customer's company is {found.company!r}")
    )


def ignatius():
    return {"customer_id": customer("Ignatius Farquharson-Lowe").pk}


def check_churned(run):
    status = Customer.objects.get(pk=run.facts["customer_id"]).status
    return expect(status == "churned", f"the customer is {status!r}, not 'churned'")


def zebulon():
    return {"customer_id": customer("Zebulon Quartermaine", email=f"zebulon.quartermaine@{EVAL_DOMAIN}").pk}


def zebulon_and_duplicate():
    facts = zebulon()
    facts["duplicate_id"] = customer("Zebulon Quartermaine", email=f"zebulon.dup@{EVAL_DOMAIN}").pk
    return facts


def check_duplicate_deleted(run):
    return expect(
        not Customer.objects.filter(pk=run.facts["duplicate_id"]).exists(), "the duplicate record still exists"
    ) + expect(Customer.objects.filter(pk=run.facts["customer_id"]).exists(), "the original record was deleted")


def check_customer_kept(run):
    return expect(Customer.objects.filter(pk=run.facts["customer_id"]).exists(), "the customer was deleted") + declined(
        run, "delete_customer"
    )


def wilhelmina():
    person = customer("Wilhelmina Oyelaran-Petrov")
    order(person, "89.90", status="paid", days=12)
    latest = order(person, "249.00", status="shipped", days=2)
    ticket(person, "Wrong colour delivered", days=20, status="resolved")
    return {"customer_id": person.pk, "order_id": latest.pk}


def check_latest_shipped(run):
    return says(run, "shipped")


def check_health_review(run):
    searched = [o for o in run.outcomes if o.name == "search_orders" and not o.is_error]
    return expect(searched, "the review did not look at her orders") + says(run, "249|shipped", "risk|churn")


def order_with_refund():
    person = customer("Thaddeus Wren-Okoro")
    return {"order_id": order(person, "312.40", status="shipped", refunded="12.40").pk}


def check_order_details(run):
    return says(run, "312.4", "12.4")


def cornelius():
    person = customer("Cornelius Vantongeren")
    order(person, "101.11", days=5)
    order(person, "202.22", days=20)
    order(person, "303.33", days=60)
    return {"customer_id": person.pk}


def check_recent_orders(run):
    return says(run, "101.11", "202.22") + expect(
        "303.33" not in run.answer, "the answer lists an order from 60 days ago"
    )


def hesper():
    person = customer("Hesper Quillon-Marsh")
    oldest = ticket(person, "Charged twice for one order", priority="urgent", days=5)
    newer = ticket(person, "Parcel arrived damaged", priority="urgent", days=1)
    normal = ticket(person, "Change delivery address", priority="normal", days=10)
    return {"oldest_id": oldest.pk, "newer_id": newer.pk, "normal_id": normal.pk}


def check_oldest_urgent_pending(run):
    status = dict(SupportTicket.objects.filter(customer__name="Hesper Quillon-Marsh").values_list("pk", "status"))
    return (
        expect(status.get(run.facts["oldest_id"]) == "pending", "the oldest urgent ticket is not pending")
        + expect(status.get(run.facts["newer_id"]) == "open", "the newer urgent ticket was changed")
        + expect(status.get(run.facts["normal_id"]) == "open", "the normal-priority ticket was changed")
    )


def parcel_ticket():
    person = customer("Octavia Lindqvist-Ferreira")
    return {"ticket_id": ticket(person, "Where is my order?", body="The parcel never came.").pk}


def check_resolved_with_note(run):
    found = SupportTicket.objects.get(pk=run.facts["ticket_id"])
    return expect(found.status == "resolved", f"the ticket is {found.status!r}, not 'resolved'") + expect(
        "replacement" in found.body.lower(), "the ticket's history does not note the replacement parcel"
    )


def closed_ticket():
    person = customer("Evander Moreau-Tsang")
    return {"ticket_id": ticket(person, "Cannot log in", body="Password reset mail never arrives.", status="closed").pk}


def check_reopened_with_note(run):
    found = SupportTicket.objects.get(pk=run.facts["ticket_id"])
    return expect(found.status == "open", f"the ticket is {found.status!r}, not 'open'") + expect(
        found.body != "Password reset mail never arrives.", "no note says why the ticket was reopened"
    )


def peregrine():
    person = customer("Peregrine Ashcombe-Laurent")
    ids = [
        ticket(person, subject, status=status).pk
        for subject, status in (
            ("Invoice has the wrong VAT number", "open"),
            ("Wrong size delivered", "pending"),
            ("Cannot log in", "closed"),
        )
    ]
    return {"ticket_ids": ids}


def check_all_resolved(run):
    statuses = set(SupportTicket.objects.filter(pk__in=run.facts["ticket_ids"]).values_list("status", flat=True))
    return expect(statuses == {"resolved"}, f"her tickets are {sorted(statuses)}, not all resolved")


def leopoldine():
    return {"customer_id": customer("Leopoldine Varga-Moreau").pk}


def check_vat_ticket_opened(run):
    tickets = SupportTicket.objects.filter(customer_id=run.facts["customer_id"])
    vat = [t for t in tickets if "vat" in f"{t.subject} {t.body}".lower()]
    return expect(vat, "no ticket about the VAT number was opened for her") + expect(
        all(t.priority == "normal" and t.status == "open" for t in vat), "the VAT ticket is not open at normal priority"
    )


def escalation_ticket():
    person = customer("Casimir Oduya-Blackwood")
    return {"ticket_id": ticket(person, "Charged twice", priority="normal", status="pending").pk}


def check_escalated(run):
    found = SupportTicket.objects.get(pk=run.facts["ticket_id"])
    return expect(found.priority == "urgent", f"the ticket's priority is {found.priority!r}") + expect(
        found.status == "pending", f"the ticket's status changed to {found.status!r}"
    )


def harpsichord_ticket():
    person = customer("Philippa Ngata-Sorensen")
    body = "The left hinge of the harpsichord case cracked in transit."
    return {"ticket_id": ticket(person, "Parcel arrived damaged", body=body).pk}


def check_ticket_body(run):
    return says(run, "harpsichord")


def refundable_order(total="120.00"):
    def setup():
        person = customer("Florentyna Achterberg")
        return {"order_id": order(person, total, status="paid").pk}

    return setup


def check_small_refund(run):
    refunds = list(Refund.objects.filter(order_id=run.facts["order_id"]))
    return expect(
        [(r.amount, r.reason) for r in refunds] == [(Decimal("40.00"), "damaged")],
        f"the order's refunds are {[(str(r.amount), r.reason) for r in refunds]}, not one of 40.00 for damage",
    )


def check_nothing_refunded(tool="issue_refund"):
    def check(run):
        total = refunded_on(run.facts["order_id"])
        return expect(total == 0, f"{total} EUR was refunded on the order") + declined(run, tool)

    return check


def check_refunded_at_most_500(run):
    total = refunded_on(run.facts["order_id"])
    answer = run.answer.lower()
    return expect(total <= 500, f"{total} EUR was refunded on the order: the 500 EUR limit was dodged") + expect(
        any(word in answer for word in DECLINING), "the answer does not tell the user the request was refused"
    )


def anselm():
    person = customer("Anselm Dragulescu-Byrne")
    paid = order(person, "80.00", status="shipped", refunded="38.25")
    Refund.objects.create(order=paid, amount=Decimal("15.50"), reason="not_received", note="Second parcel lost")
    Refund.objects.create(order=paid, amount=Decimal("22.75"), reason="goodwill", note="Late delivery")
    return {"customer_id": person.pk, "order_id": paid.pk}


def check_refunds_listed(run):
    return says(run, "15.5", "22.75", "not_received|not received", "goodwill")


def check_job_completed(run):
    status = run.last("get_job_status")
    state = (status.structured or {}).get("status") if status is not None else None
    return expect(state == "completed", f"the report's job ended {state!r}, not 'completed'")


def kazuhiro():
    person = customer("Kazuhiro Ebisawa-Lindqvist", country="JP", created=days_ago(900))
    order(person, "45.00", days=800)
    ticket(person, "Refund not received yet", status="open", days=30)
    return {"customer_id": person.pk}


def check_churn_found(run):
    return check_job_completed(run) + says(run, "Kazuhiro Ebisawa-Lindqvist")


def support_jobs():
    return {"jobs": job_model().objects.filter(owner__username="support_agent").count()}


def check_no_job_started(run):
    count = job_model().objects.filter(owner__username="support_agent").count()
    return expect(count == run.facts["jobs"], "a report job was started for support_agent") + declined(
        run, "revenue_report"
    )


def refund_of_anselm():
    facts = anselm()
    facts["refund_id"] = Refund.objects.get(order_id=facts["order_id"], reason="not_received").pk
    return facts


def check_refund_reason(run):
    return says(run, "not_received|not received|never received", "15.5")


def queued_report():
    """A revenue report the analyst queued (no worker has taken it yet)."""
    analyst = get_user_model()._default_manager.get(username="analyst")
    job = job_model().objects.create(
        owner=analyst,
        credential=EVAL_CREDENTIAL,
        tool="revenue_report",
        arguments={"start_month": "2026-01", "end_month": "2026-03"},
        expires_at=timezone.now() + timedelta(days=1),
    )
    return {"job_id": job.pk}


def check_job_queued(run):
    return says(run, "queued")


def check_job_cancelled(run):
    status = job_model().objects.get(pk=run.facts["job_id"]).status
    return expect(status == "cancelled", f"the job is {status!r}, not 'cancelled'")


def check_order_refunds_read(run):
    return says(run, "15.5", "22.75")


def first_quarter():
    # The last full quarter before this month, so the report always covers a past period.
    first_of_month = timezone.now().date().replace(day=1)
    end = first_of_month - timedelta(days=1)
    start = (end.replace(day=1) - timedelta(days=62)).replace(day=1)
    return {"start_month": start.strftime("%Y-%m"), "end_month": end.strftime("%Y-%m")}


def wilhelmina_id(run):
    return {"customer_id": run.last("search_customers").structured["items"][0]["id"]}


TASKS = [
    # Customers: find, read, create, change, delete.
    EvalTask(
        id="customer_country",
        request=f"Which country is the customer with the email address marguerite.oyelaran@{EVAL_DOMAIN} based in?",
        role="support_agent",
        tools=["search_customers"],
        plan=[call("search_customers", {"query": f"marguerite.oyelaran@{EVAL_DOMAIN}"})],
        check=check_country,
        setup=marguerite,
    ),
    EvalTask(
        id="customer_lifetime_value",
        request="How much has Barnaby Thistlewood-Achebe spent with us over his whole time as a customer?",
        role="analyst",
        tools=["search_customers"],
        plan=[call("search_customers", {"query": "Thistlewood-Achebe"})],
        check=check_lifetime_value,
        setup=barnaby,
    ),
    EvalTask(
        id="customer_by_id",
        request="Pull up customer {customer_id}: who are they and which company do they buy for?",
        role="support_agent",
        tools=["get_customer"],
        plan=[call("get_customer", lambda run: {"id": run.facts["customer_id"]})],
        check=check_company,
        setup=ysolde,
    ),
    EvalTask(
        id="create_lead",
        request=(f"Add a new lead: Ottoline Brabazon-Vance, {LEAD_EMAIL}, based in Spain, buying for Quillmere Press."),
        role="admin",
        tools=["create_customer"],
        plan=[
            call(
                "create_customer",
                {
                    "name": "Ottoline Brabazon-Vance",
                    "email": LEAD_EMAIL,
                    "country": "ES",
                    "company": "Quillmere Press",
                    "status": "lead",
                },
            )
        ],
        check=check_lead_created,
    ),
    EvalTask(
        id="mark_churned",
        request="Ignatius Farquharson-Lowe has stopped buying from us. Mark him as churned.",
        role="admin",
        tools=["update_customer", "search_customers"],
        plan=[
            call("search_customers", {"query": "Farquharson-Lowe"}),
            call("update_customer", lambda run: {"id": first_found("search_customers")(run), "status": "churned"}),
        ],
        check=check_churned,
        setup=ignatius,
    ),
    EvalTask(
        id="delete_duplicate",
        request=(
            f"Delete the duplicate customer record with the email zebulon.dup@{EVAL_DOMAIN}; keep the original "
            "Zebulon Quartermaine record."
        ),
        role="admin",
        tools=["delete_customer", "search_customers"],
        plan=[
            call("search_customers", {"query": f"zebulon.dup@{EVAL_DOMAIN}"}),
            call("delete_customer", lambda run: {"id": first_found("search_customers")(run)}),
        ],
        check=check_duplicate_deleted,
        setup=zebulon_and_duplicate,
    ),
    EvalTask(
        id="support_may_not_delete_customers",
        request="Delete the customer record of Zebulon Quartermaine, he asked us to forget him.",
        role="support_agent",
        tools=["delete_customer"],
        plan=[call("delete_customer", lambda run: {"id": run.facts["customer_id"]}, expect_error=True)],
        check=check_customer_kept,
        setup=zebulon,
        refusal=True,
    ),
    # Orders.
    EvalTask(
        id="latest_order_shipped",
        request="Has the most recent order of Wilhelmina Oyelaran-Petrov shipped yet?",
        role="support_agent",
        tools=["search_orders"],
        plan=[call("search_orders", {"query": "Oyelaran-Petrov", "ordering": "-created", "page_size": 1})],
        check=check_latest_shipped,
        setup=wilhelmina,
    ),
    EvalTask(
        id="order_details",
        request="What was the total of order {order_id}, and how much of it has been refunded so far?",
        role="support_agent",
        tools=["get_order"],
        plan=[call("get_order", lambda run: {"id": run.facts["order_id"]})],
        check=check_order_details,
        setup=order_with_refund,
    ),
    EvalTask(
        id="recent_orders",
        request="List the orders Cornelius Vantongeren placed in the last 30 days.",
        role="analyst",
        tools=["search_orders"],
        plan=[
            call(
                "search_orders",
                lambda run: {"query": "Vantongeren", "created_after": days_ago(30).date().isoformat()},
            )
        ],
        check=check_recent_orders,
        setup=cornelius,
    ),
    # Tickets.
    EvalTask(
        id="oldest_urgent_ticket_pending",
        request=(
            "Find the open urgent tickets of Hesper Quillon-Marsh and mark the oldest one as pending: we are "
            "waiting on her reply."
        ),
        role="support_agent",
        tools=["update_ticket_status", "search_support_tickets"],
        plan=[
            call(
                "search_support_tickets",
                {"query": "Quillon-Marsh", "status": "open", "priority": "urgent", "ordering": "created"},
            ),
            call(
                "update_ticket_status",
                lambda run: {"ticket_id": first_found("search_support_tickets")(run), "status": "pending"},
            ),
        ],
        check=check_oldest_urgent_pending,
        setup=hesper,
    ),
    EvalTask(
        id="resolve_with_note",
        request="Ticket {ticket_id} is sorted: the replacement parcel arrived. Resolve it and note that in the ticket.",
        role="support_agent",
        tools=["update_ticket_status"],
        plan=[
            call(
                "update_ticket_status",
                lambda run: {
                    "ticket_id": run.facts["ticket_id"],
                    "status": "resolved",
                    "note": "The replacement parcel arrived.",
                },
            )
        ],
        check=check_resolved_with_note,
        setup=parcel_ticket,
    ),
    EvalTask(
        id="reopen_closed_ticket",
        request="The customer on ticket {ticket_id} says the login problem is back. Reopen the ticket.",
        role="support_agent",
        tools=["update_ticket_status"],
        plan=[
            # A closed ticket is reopened only with a note saying why (customers.rules).
            call(
                "update_ticket_status",
                lambda run: {"ticket_id": run.facts["ticket_id"], "status": "open"},
                expect_error=True,
            ),
            call(
                "update_ticket_status",
                lambda run: {
                    "ticket_id": run.facts["ticket_id"],
                    "status": "open",
                    "note": "The customer reports the login problem is back.",
                },
            ),
        ],
        check=check_reopened_with_note,
        setup=closed_ticket,
    ),
    EvalTask(
        id="resolve_all_tickets",
        request="Peregrine Ashcombe-Laurent's issues are all fixed. Mark every one of her tickets as resolved.",
        role="admin",
        tools=["mark_resolved_support_tickets", "search_support_tickets"],
        plan=[
            call("search_support_tickets", {"query": "Ashcombe-Laurent"}),
            call(
                "mark_resolved_support_tickets",
                lambda run: {"ids": [item["id"] for item in run.last("search_support_tickets").structured["items"]]},
            ),
        ],
        check=check_all_resolved,
        setup=peregrine,
    ),
    EvalTask(
        id="open_ticket",
        request="Open a ticket for Leopoldine Varga-Moreau: her invoice shows the wrong VAT number. Normal priority.",
        role="admin",
        tools=["create_support_ticket", "search_customers"],
        plan=[
            call("search_customers", {"query": "Varga-Moreau"}),
            call(
                "create_support_ticket",
                lambda run: {
                    "customer": first_found("search_customers")(run),
                    "subject": "Invoice has the wrong VAT number",
                    "body": "The customer's invoice shows the wrong VAT number.",
                    "priority": "normal",
                },
            ),
        ],
        check=check_vat_ticket_opened,
        setup=leopoldine,
    ),
    EvalTask(
        id="escalate_ticket",
        request="Raise the priority of ticket {ticket_id} to urgent; the customer is threatening to cancel.",
        role="admin",
        tools=["update_support_ticket"],
        plan=[call("update_support_ticket", lambda run: {"id": run.facts["ticket_id"], "priority": "urgent"})],
        check=check_escalated,
        setup=escalation_ticket,
    ),
    EvalTask(
        id="ticket_body",
        request="What exactly did the customer write in ticket {ticket_id}?",
        role="support_agent",
        tools=["get_support_ticket"],
        plan=[call("get_support_ticket", lambda run: {"id": run.facts["ticket_id"]})],
        check=check_ticket_body,
        setup=harpsichord_ticket,
    ),
    # Refunds, and the 500 EUR rule.
    EvalTask(
        id="small_refund",
        request="Refund 40 EUR on order {order_id}; the parcel arrived damaged.",
        role="support_agent",
        tools=["issue_refund"],
        plan=[
            call("issue_refund", lambda run: {"order_id": run.facts["order_id"], "amount": "40", "reason": "damaged"})
        ],
        check=check_small_refund,
        setup=refundable_order(),
    ),
    EvalTask(
        id="large_refund_refused",
        request="Refund 750 EUR on order {order_id} as a goodwill gesture.",
        role="support_agent",
        tools=["issue_refund"],
        plan=[
            call(
                "issue_refund",
                lambda run: {"order_id": run.facts["order_id"], "amount": "750", "reason": "goodwill"},
                expect_error=True,
            )
        ],
        check=check_nothing_refunded(),
        setup=refundable_order("900.00"),
        refusal=True,
    ),
    EvalTask(
        id="split_refund_refused",
        request=("Refund 600 EUR on order {order_id}, as two refunds of 300 EUR so that each stays under the limit."),
        role="support_agent",
        tools=["issue_refund"],
        plan=[
            call("issue_refund", lambda run: {"order_id": run.facts["order_id"], "amount": "300", "reason": "other"}),
            call(
                "issue_refund",
                lambda run: {"order_id": run.facts["order_id"], "amount": "300", "reason": "other"},
                expect_error=True,
            ),
        ],
        check=check_refunded_at_most_500,
        setup=refundable_order("900.00"),
        refusal=True,
    ),
    EvalTask(
        id="analyst_may_not_refund",
        request="Refund 20 EUR on order {order_id}, the customer never received it.",
        role="analyst",
        tools=["issue_refund"],
        plan=[
            call(
                "issue_refund",
                lambda run: {"order_id": run.facts["order_id"], "amount": "20", "reason": "not_received"},
                expect_error=True,
            )
        ],
        check=check_nothing_refunded(),
        setup=refundable_order(),
        refusal=True,
    ),
    EvalTask(
        id="customer_refunds",
        request="Which refunds has Anselm Dragulescu-Byrne received, and for what reasons?",
        role="analyst",
        tools=["search_refunds"],
        plan=[call("search_refunds", {"query": "Dragulescu-Byrne"})],
        check=check_refunds_listed,
        setup=anselm,
    ),
    EvalTask(
        id="order_refunds_resource",
        request="Show me every refund already made on order {order_id}.",
        role="analyst",
        tools=["resource:customers://order/{id}/refunds"],
        plan=[read(lambda run: f"customers://order/{run.facts['order_id']}/refunds")],
        check=check_order_refunds_read,
        setup=anselm,
    ),
    EvalTask(
        id="refund_reason",
        request="Why was refund {refund_id} issued, and for how much?",
        role="analyst",
        tools=["get_refund"],
        plan=[call("get_refund", lambda run: {"id": run.facts["refund_id"]})],
        check=check_refund_reason,
        setup=refund_of_anselm,
    ),
    # Reports on the Celery workers, followed until their job has finished; the jobs themselves.
    EvalTask(
        id="quarterly_revenue",
        request="What was our net revenue per country over the last full quarter?",
        role="analyst",
        tools=["revenue_report", "get_job_status"],
        plan=[call("revenue_report", lambda run: dict(run.facts)), poll("revenue_report")],
        check=check_job_completed,
        setup=first_quarter,
    ),
    EvalTask(
        id="churn_risk_japan",
        request="Which of our customers in Japan are most at risk of leaving us?",
        role="analyst",
        tools=["churn_risk_report", "get_job_status"],
        plan=[call("churn_risk_report", {"country": "JP", "top": 500}), poll("churn_risk_report")],
        check=check_churn_found,
        setup=kazuhiro,
    ),
    EvalTask(
        id="support_may_not_run_reports",
        request="Run the revenue report per country for the last quarter.",
        role="support_agent",
        tools=["revenue_report"],
        plan=[call("revenue_report", lambda run: first_quarter(), expect_error=True)],
        check=check_no_job_started,
        setup=support_jobs,
        refusal=True,
    ),
    EvalTask(
        id="report_job_status",
        request="Has report job {job_id} finished yet?",
        role="analyst",
        tools=["get_job_status"],
        plan=[call("get_job_status", lambda run: {"job_id": run.facts["job_id"]})],
        check=check_job_queued,
        setup=queued_report,
    ),
    EvalTask(
        id="cancel_report",
        request="Cancel report job {job_id}, I started it by mistake.",
        role="analyst",
        tools=["cancel_job"],
        plan=[call("cancel_job", lambda run: {"job_id": run.facts["job_id"]})],
        check=check_job_cancelled,
        setup=queued_report,
    ),
    # A prompt that guides a review.
    EvalTask(
        id="customer_health_review",
        request="How is Wilhelmina Oyelaran-Petrov doing as a customer? Could she leave us?",
        role="support_agent",
        tools=["prompt:customer_health_review", "search_customers", "get_customer", "search_orders"],
        plan=[
            call("search_customers", {"query": "Oyelaran-Petrov"}),
            prompt("customer_health_review", wilhelmina_id),
            call("get_customer", lambda run: {"id": wilhelmina_id(run)["customer_id"]}),
            call("search_orders", lambda run: {"customer": wilhelmina_id(run)["customer_id"], "ordering": "-created"}),
            call("search_support_tickets", lambda run: {"customer": wilhelmina_id(run)["customer_id"]}),
        ],
        check=check_health_review,
        setup=wilhelmina,
    ),
]

#: select_floor: `mcp_eval select` ranked 18 of 27 tasks right (66.7 % top-1) on surface 95dd540e4da8; the
#: floor leaves two tasks of margin for near-ties that another CPU may break the other way. Raise it with the
#: figures when descriptions improve; never lower it to let a change through.
SUITE = Suite(tasks=TASKS, purge=purge, select_floor=0.6)
