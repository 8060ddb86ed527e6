"""Inputs and outputs of the demo's business-operation tools and reports."""

import datetime
from decimal import Decimal

from django.core.validators import RegexValidator
from rest_framework import serializers

from .models import Customer, Refund, SupportTicket


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


MAX_REPORT_MONTHS = 24


def months_apart(start, end):
    """Return how many months lie from *start*'s month to *end*'s, both counted."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


class MonthField(serializers.CharField):
    """A calendar month written "YYYY-MM" (a full date "YYYY-MM-DD" names its month); a date in Python."""

    default_error_messages = {"invalid_month": 'Write a month as "YYYY-MM", e.g. "2026-01".'}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 10)
        super().__init__(**kwargs)
        # Shown as the schema's pattern, so a model writes the right shape before calling.
        self.validators.append(
            RegexValidator(r"^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$", message=self.error_messages["invalid_month"])
        )

    def run_validation(self, data=serializers.empty):
        if isinstance(data, datetime.date) and not isinstance(data, datetime.datetime):
            data = data.isoformat()
        text = super().run_validation(data)  # a string of the right shape, or an error
        try:
            # Parse the full date when one is given, so "2026-02-30" is rejected rather than read as February.
            day = datetime.date.fromisoformat(text if len(text) == len("YYYY-MM-DD") else f"{text}-01")
        except ValueError:
            self.fail("invalid_month")
        return day.replace(day=1)

    def to_representation(self, value):
        return f"{value:%Y-%m}" if isinstance(value, datetime.date) else str(value)


class RevenueReportInput(serializers.Serializer):
    start_month = MonthField(help_text='First month of the report, "YYYY-MM" (UTC calendar months).')
    end_month = MonthField(
        help_text=f'Last month of the report, "YYYY-MM", included; a report spans at most {MAX_REPORT_MONTHS} months.'
    )

    def validate(self, attrs):
        start, end = attrs["start_month"], attrs["end_month"]
        if end < start:
            raise serializers.ValidationError(
                {
                    "end_month": f"end_month ({end:%Y-%m}) is before start_month ({start:%Y-%m}). "
                    f"Set end_month to {start:%Y-%m} or later, or swap the two."
                }
            )
        span = months_apart(start, end)
        if span > MAX_REPORT_MONTHS:
            year, month = divmod(end.year * 12 + end.month - MAX_REPORT_MONTHS, 12)
            earliest = datetime.date(year, month + 1, 1)
            raise serializers.ValidationError(
                {
                    "end_month": f"{start:%Y-%m} to {end:%Y-%m} spans {span} months; a report covers at most "
                    f"{MAX_REPORT_MONTHS}. Move start_month to {earliest:%Y-%m} or later, or split the range "
                    "into several reports."
                }
            )
        return attrs


class ChurnRiskReportInput(serializers.Serializer):
    top = serializers.IntegerField(
        min_value=1, max_value=500, default=50, help_text="How many of the riskiest customers to return (1-500)."
    )
    country = serializers.ChoiceField(
        choices=Customer.Country.choices,
        required=False,
        help_text="Only score customers of this country (ISO 3166-1 code); all countries if omitted.",
    )
    min_score = serializers.IntegerField(
        min_value=0,
        max_value=100,
        default=0,
        help_text="Leave out customers scoring below this (0-100) from the list and the CSV; bands count everyone.",
    )
