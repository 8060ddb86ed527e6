"""Inputs and outputs of the demo's business-operation tools."""

from decimal import Decimal

from rest_framework import serializers

from .models import Refund, SupportTicket


class TicketStatusInput(serializers.Serializer):
    ticket_id = serializers.IntegerField(min_value=1, help_text="Id of the support ticket to change.")
    status = serializers.ChoiceField(choices=SupportTicket.Status.choices, help_text="The new status.")
    note = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="Optional note for the ticket history, e.g. what was done. Appended to the ticket body.",
    )


class TicketStatusOutput(serializers.Serializer):
    ticket_id = serializers.IntegerField(help_text="Id of the ticket.")
    previous_status = serializers.ChoiceField(
        choices=SupportTicket.Status.choices, help_text="Status before the change."
    )
    status = serializers.ChoiceField(choices=SupportTicket.Status.choices, help_text="Status now.")


class RefundInput(serializers.Serializer):
    order_id = serializers.IntegerField(min_value=1, help_text="Id of the order to refund (see search_orders).")
    amount = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="Amount in EUR, at most what is left to refund on the order. Over 500 needs the large-refund permission.",
    )
    reason = serializers.ChoiceField(choices=Refund.Reason.choices, help_text="Why the refund is issued.")
    note = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, help_text="Optional explanation for the record."
    )


class RefundOutput(serializers.Serializer):
    refund_id = serializers.IntegerField(help_text="Id of the new refund.")
    order_id = serializers.IntegerField(help_text="Id of the refunded order.")
    amount = serializers.DecimalField(max_digits=10, decimal_places=2, help_text="Amount refunded now, in EUR.")
    order_refunded_total = serializers.DecimalField(
        max_digits=10, decimal_places=2, help_text="All refunds on the order so far."
    )
    order_remaining = serializers.DecimalField(max_digits=10, decimal_places=2, help_text="What can still be refunded.")
    order_status = serializers.CharField(help_text="The order's status after the refund.")
