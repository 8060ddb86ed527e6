"""Admin for the demo domain, annotated for MCP: the admin is the single source of truth."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils import timezone

import mcp_bridge
from mcp_bridge import McpAdminMixin, ToolError
from mcp_bridge.rules import MaxDateRange, MustExist

from .limits import REFUND_LIMITS, lock_user
from .models import LARGE_REFUND_THRESHOLD, Customer, Order, Refund, SupportTicket
from .reports import HIGH_RISK, MEDIUM_RISK, churn_risk, months_between, revenue_by_country_month, revenue_csv
from .rules import reopening_needs_a_note
from .serializers import (
    MAX_REPORT_MONTHS,
    ChurnRiskReportInput,
    RefundInput,
    RefundOutput,
    RevenueReportInput,
    TicketStatusInput,
    TicketStatusOutput,
)


class HideInternalCustomersMixin:
    """Internal and test accounts are visible to superusers only, in the admin and over MCP."""

    customer_path = "customer"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.customer_path}is_internal": False})


@admin.register(Customer)
class CustomerAdmin(HideInternalCustomersMixin, McpAdminMixin, admin.ModelAdmin):
    customer_path = ""
    list_display = ("name", "email", "company", "country", "status", "lifetime_value", "created")
    list_filter = ("status", "country", "created")
    search_fields = ("name", "email", "company")
    readonly_fields = ("lifetime_value", "created")
    ordering = ("-created", "-id")

    mcp_operations = ("search", "get", "create", "update", "delete")
    mcp_fields = ("id", "name", "email", "phone", "company", "country", "status", "lifetime_value", "created")
    mcp_redacted_fields = ("phone",)
    mcp_related_resources = ("orders", "tickets")
    mcp_description = "Amounts are in EUR."
    mcp_tool_descriptions = {
        "update": "Mark a customer churned when they stop buying from us, or active when they buy again.",
    }

    @mcp_bridge.prompt(
        name="customer_health_review",
        title="Customer health review",
        description=(
            "How is a customer doing, and could they leave us? Review one customer's health: orders, refunds and "
            "open tickets, ending with a churn risk rating and next steps. Use it when asked how a customer is doing "
            "or whether they may churn."
        ),
        arguments=[("customer_id", "Id of the customer to review (see search_customers).", True)],
        requires_tools=("get_customer", "search_orders", "search_support_tickets"),
    )
    def customer_health_review(self, request, customer_id):
        return (
            f"Review the health of customer {customer_id}.\n"
            f"1. Call get_customer with id {customer_id} for status and lifetime value.\n"
            f"2. Call search_orders with customer={customer_id} and ordering='-created' for recent orders; note cancelled "
            "and refunded ones.\n"
            f"3. Call search_support_tickets with customer={customer_id} to find open or urgent tickets.\n"
            "4. Summarise in five bullet points, rate churn risk as low, medium or high with the reason, and propose "
            "at most three next steps. Do not change any data."
        )

    @mcp_bridge.report(
        description=(
            "Revenue per customer country and calendar month (UTC) over a range of months: orders placed, revenue "
            "(paid, shipped and later refunded orders), refunds and net revenue, in EUR. Use it for sales trends or "
            "a country comparison; use search_orders for individual orders. Starts a background job and returns "
            "its job_id at once: poll get_job_status until it is completed. The result has `rows` (month, country, "
            "orders, revenue, refunds, net; amounts as decimal strings), `totals` and `months`, and a revenue.csv "
            f"file. At most {MAX_REPORT_MONTHS} months per report; refunds count in the month of the order refunded."
        ),
        input_serializer=RevenueReportInput,
        permissions=("view", "customers.view_order"),
        soft_time_limit=120,
        time_limit=150,
    )
    def revenue_report(self, request, data, job):
        orders = self.admin_site.get_model_admin(Order).get_queryset(request)
        start, end = data["start_month"], data["end_month"]
        rows, totals = revenue_by_country_month(orders, start, end, progress=job.progress)
        job.attach("revenue.csv", revenue_csv(rows), "text/csv")
        return {"rows": rows, "totals": totals, "months": months_between(start, end)}

    @mcp_bridge.report(
        description=(
            "Which customers are most at risk of leaving us, overall or in one country? Score every customer you "
            "can see for churn risk, 0 (healthy) to 100, from days since their last order "
            "(or since sign-up without orders), how often they order, the share of their spend refunded and their "
            "open or pending tickets; each score comes with its reasons in words. Use it to find customers to "
            "contact before they leave; then use the customer_health_review prompt on one of them. Starts a "
            "background job (a few seconds for 100,000 customers) and returns its job_id at once: poll "
            "get_job_status until it is completed. The result has `top` (the riskiest customers, highest score "
            f"first, at most 500), `bands` (how many customers score low, below {MEDIUM_RISK}; medium, {MEDIUM_RISK}-"
            f"{HIGH_RISK - 1}; high, {HIGH_RISK} and above) and `scored` (how many were scored), and a churn_risk.csv "
            "file with every customer at or above min_score."
        ),
        input_serializer=ChurnRiskReportInput,
        permissions=("view", "customers.view_order", "customers.view_supportticket"),
        soft_time_limit=120,
        time_limit=150,
    )
    def churn_risk_report(self, request, data, job):
        customers = self.get_queryset(request)
        orders = self.admin_site.get_model_admin(Order).get_queryset(request)
        tickets = self.admin_site.get_model_admin(SupportTicket).get_queryset(request)
        if data.get("country"):
            customers = customers.filter(country=data["country"])
            orders = orders.filter(customer__country=data["country"])
            tickets = tickets.filter(customer__country=data["country"])
        top, csv_text, bands = churn_risk(
            customers, orders, tickets, timezone.now(), data["top"], progress=job.progress, min_score=data["min_score"]
        )
        job.attach("churn_risk.csv", csv_text, "text/csv")
        return {"top": top, "bands": bands, "scored": sum(bands.values())}


@admin.register(Order)
class OrderAdmin(HideInternalCustomersMixin, McpAdminMixin, admin.ModelAdmin):
    customer_path = "customer__"
    list_display = ("id", "customer", "status", "total", "refunded_total", "created")
    list_filter = ("status", "created", "customer")
    search_fields = ("customer__name", "customer__email")
    readonly_fields = ("refunded_total",)
    raw_id_fields = ("customer",)
    ordering = ("-created", "-id")

    mcp_fields = ("id", "customer", "status", "total", "refunded_total", "created")
    # A search by date reads at most a quarter of orders at once: longer periods go through revenue_report.
    mcp_rules = {"search": [MaxDateRange("created", days=90)]}
    mcp_related_resources = ("refunds",)
    mcp_description = "Amounts are in EUR."


@admin.register(SupportTicket)
class SupportTicketAdmin(HideInternalCustomersMixin, McpAdminMixin, admin.ModelAdmin):
    customer_path = "customer__"
    list_display = ("subject", "customer", "status", "priority", "assignee", "created")
    list_filter = ("status", "priority", "assignee", "created", "customer")
    search_fields = ("subject", "body", "customer__name")
    raw_id_fields = ("customer",)
    ordering = ("-created", "-id")
    actions = ("mark_resolved",)

    mcp_operations = ("search", "get", "create", "update")
    mcp_fields = ("id", "customer", "subject", "body", "status", "priority", "assignee", "created")
    mcp_actions = ("mark_resolved",)
    mcp_tool_descriptions = {
        "create": "Open a new ticket when a customer reports a problem, such as a wrong invoice or a damaged parcel.",
        "get": "Read what the customer wrote: the body holds their message, then the notes agents added.",
        "update": "Use it to raise or lower a ticket's priority, assign it, or correct its subject or body; change "
        "its status with update_ticket_status.",
    }
    mcp_rules = {
        "create": [MustExist("customer"), MustExist("assignee")],
        "update": [MustExist("customer"), MustExist("assignee"), reopening_needs_a_note],
    }

    @admin.action(description="Mark selected tickets as resolved", permissions=["change"])
    @mcp_bridge.action(
        description="Every chosen ticket ends resolved, closed ones included; resolved ones are left as they are.",
        destructive=False,
        idempotent=True,
    )
    def mark_resolved(self, request, queryset):
        count = queryset.exclude(status=SupportTicket.Status.RESOLVED).update(status=SupportTicket.Status.RESOLVED)
        self.message_user(request, f"{count} ticket(s) marked as resolved.", messages.SUCCESS)

    @mcp_bridge.tool(
        name="update_ticket_status",
        title="Change a ticket's status",
        description=(
            "Mark one support ticket as open, pending, resolved or closed, optionally adding a note to its "
            "history: resolve a ticket once it is handled, set it pending while waiting on the customer's reply, "
            "reopen or close it. Returns the previous and new status. Changes only the status and note; use "
            "update_support_ticket for other fields."
        ),
        input_serializer=TicketStatusInput,
        output_serializer=TicketStatusOutput,
        permissions=("change",),
        destructive=False,
        idempotent=True,
        rules=[reopening_needs_a_note],
    )
    def update_ticket_status(self, request, data):
        ticket = self.get_queryset(request).select_for_update().filter(pk=data["ticket_id"]).first()
        if ticket is None:
            raise ToolError(
                f"No support ticket with id {data['ticket_id']} exists, or you may not see it. "
                "Use search_support_tickets to find it."
            )
        if not self.has_change_permission(request, ticket):
            raise PermissionDenied("You may not change this ticket.")
        previous = ticket.status
        ticket.status = data["status"]
        if data.get("note"):
            ticket.body = f"{ticket.body}\n\n[{request.user.get_username()}] {data['note']}"
        ticket.full_clean()
        self.save_model(request, ticket, None, True)
        changed = (["Status"] if ticket.status != previous else []) + (["Body"] if data.get("note") else [])
        if changed:
            self.log_change(request, ticket, [{"changed": {"fields": changed}}])
        return {"ticket_id": ticket.pk, "previous_status": previous, "status": ticket.status}


@admin.register(Refund)
class RefundAdmin(McpAdminMixin, admin.ModelAdmin):
    list_display = ("id", "order", "amount", "reason", "created_by", "created")
    list_filter = ("reason", "created")
    search_fields = ("order__customer__name", "note")
    raw_id_fields = ("order",)
    readonly_fields = ("created_by", "created")

    mcp_fields = ("id", "order", "amount", "reason", "note", "created_by", "created")
    mcp_tool_descriptions = {"get": "Why a refund was issued (its reason and note), for how much, and by whom."}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(order__customer__is_internal=False)

    @mcp_bridge.tool(
        name="issue_refund",
        title="Refund an order",
        description=(
            "Refund part or all of a paid or shipped order, in one step: validates the order and the amount against "
            "what is left to refund, records the refund and updates the order (fully refunded orders become "
            "'refunded'). Use it when a customer is owed money back. Amounts over 500 EUR need the large-refund "
            "permission. Returns the refund id and the order's new refunded total and remaining amount."
        ),
        input_serializer=RefundInput,
        output_serializer=RefundOutput,
        permissions=("add",),
        destructive=False,
    )
    def issue_refund(self, request, data):
        amount = data["amount"]
        if amount > LARGE_REFUND_THRESHOLD and not request.user.has_perm("customers.issue_large_refund"):
            raise PermissionDenied(
                f"Refunds over {LARGE_REFUND_THRESHOLD} EUR need the 'Can issue refunds over 500 EUR' permission. "
                f"Refund at most {LARGE_REFUND_THRESHOLD} EUR, or ask a supervisor."
            )
        order_admin = self.admin_site.get_model_admin(Order)
        # Lock the user, then the order: two refunds by one user run one after the other (so each sees the
        # other in its totals), and two refunds cannot both spend the same remaining amount of an order.
        lock_user(request.user)
        order = order_admin.get_queryset(request).select_for_update().filter(pk=data["order_id"]).first()
        if order is None:
            raise ToolError(
                f"No order with id {data['order_id']} exists, or you may not see it. Use search_orders to find it."
            )
        if order.status not in Order.REFUNDABLE:
            raise ToolError(f"Order {order.pk} is {order.status}; only paid or shipped orders can be refunded.")
        if amount > order.refundable_amount:
            raise ToolError(
                f"Order {order.pk} has only {order.refundable_amount} EUR left to refund (total {order.total}, "
                f"already refunded {order.refunded_total}). Refund at most {order.refundable_amount} EUR."
            )
        for limit in REFUND_LIMITS:  # what this user has refunded on the order, and today, adds up
            limit.check(request.user, amount, order=order)
        refund = Refund(
            order=order, amount=amount, reason=data["reason"], note=data.get("note", ""), created_by=request.user
        )
        refund.full_clean()
        self.save_model(request, refund, None, False)
        self.log_addition(request, refund, [{"added": {}}])
        order.refunded_total += amount
        if order.refundable_amount == 0:
            order.status = Order.Status.REFUNDED
        order.save(update_fields=["refunded_total", "status"])
        order_admin.log_change(
            request,
            order,
            [
                {
                    "changed": {
                        "fields": ["Refunded total", "Status"]
                        if order.status == Order.Status.REFUNDED
                        else ["Refunded total"]
                    }
                }
            ],
        )
        return RefundOutput(
            {
                "refund_id": refund.pk,
                "order_id": order.pk,
                "amount": amount,
                "order_refunded_total": order.refunded_total,
                "order_remaining": order.refundable_amount,
                "order_status": order.status,
            }
        )

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
