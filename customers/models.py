"""A support and commerce domain: customers, their orders, support tickets and refunds."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

LARGE_REFUND_THRESHOLD = Decimal("500.00")


class Customer(models.Model):
    class Status(models.TextChoices):
        LEAD = "lead", _("Lead")
        ACTIVE = "active", _("Active")
        CHURNED = "churned", _("Churned")

    class Country(models.TextChoices):
        US = "US", _("United States")
        GB = "GB", _("United Kingdom")
        DE = "DE", _("Germany")
        FR = "FR", _("France")
        ES = "ES", _("Spain")
        NL = "NL", _("Netherlands")
        BR = "BR", _("Brazil")
        IN = "IN", _("India")
        JP = "JP", _("Japan")
        AU = "AU", _("Australia")

    name = models.CharField(_("name"), max_length=200, db_index=True, help_text=_("Full name of the customer."))
    email = models.EmailField(_("email"), unique=True, help_text=_("Primary contact email; unique per customer."))
    phone = models.CharField(_("phone"), max_length=40, blank=True, help_text=_("Contact phone number."))
    company = models.CharField(
        _("company"), max_length=200, blank=True, help_text=_("Company the customer buys for, if any.")
    )
    country = models.CharField(
        _("country"), max_length=2, choices=Country.choices, help_text=_("ISO 3166-1 country code.")
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=Status.choices,
        default=Status.LEAD,
        db_index=True,
        help_text=_("Lifecycle stage: lead (never bought), active or churned."),
    )
    lifetime_value = models.DecimalField(
        _("lifetime value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_("Total paid minus refunds, in EUR."),
    )
    is_internal = models.BooleanField(
        _("internal account"), default=False, help_text=_("Staff and test accounts; visible to superusers only.")
    )
    created = models.DateTimeField(
        _("created"), default=timezone.now, db_index=True, help_text=_("When the customer signed up.")
    )

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created", "-id"]
        indexes = [
            # Filtering by status and country and ordering by lifetime value (search_customers with
            # status, country and ordering=-lifetime_value) reads one index range, whatever the table size.
            models.Index(fields=["status", "country", "lifetime_value", "id"], name="customer_status_country_ltv"),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending payment")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Fully refunded")

    REFUNDABLE = (Status.PAID, Status.SHIPPED)

    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="orders",
        verbose_name=_("customer"),
        help_text=_("The customer who placed the order."),
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
        help_text=_("Where the order is in its lifecycle."),
    )
    total = models.DecimalField(
        _("total"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Order total in EUR."),
    )
    refunded_total = models.DecimalField(
        _("refunded total"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_("Sum of refunds issued against this order, in EUR."),
    )
    created = models.DateTimeField(
        _("created"), default=timezone.now, db_index=True, help_text=_("When the order was placed.")
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"Order #{self.pk} ({self.get_status_display()}, {self.total} EUR)"

    @property
    def refundable_amount(self):
        return max(self.total - self.refunded_total, Decimal("0.00"))


class SupportTicket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="tickets",
        verbose_name=_("customer"),
        help_text=_("The customer who raised the ticket."),
    )
    subject = models.CharField(_("subject"), max_length=200, help_text=_("One-line summary of the problem."))
    body = models.TextField(_("body"), help_text=_("The customer's description, plus notes added by agents."))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=Status.choices,
        default=Status.OPEN,
        db_index=True,
        help_text=_("open, pending (waiting on customer), resolved or closed."),
    )
    priority = models.CharField(
        _("priority"),
        max_length=10,
        choices=Priority.choices,
        default=Priority.NORMAL,
        help_text=_("How urgent the ticket is."),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
        help_text=_("Staff user working on the ticket, if any."),
    )
    created = models.DateTimeField(
        _("created"), default=timezone.now, db_index=True, help_text=_("When the ticket was opened.")
    )

    class Meta:
        verbose_name = _("support ticket")
        verbose_name_plural = _("support tickets")
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"#{self.pk} {self.subject}"


class Refund(models.Model):
    class Reason(models.TextChoices):
        DAMAGED = "damaged", _("Arrived damaged")
        NOT_RECEIVED = "not_received", _("Never arrived")
        NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
        GOODWILL = "goodwill", _("Goodwill gesture")
        OTHER = "other", _("Other")

    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        related_name="refunds",
        verbose_name=_("order"),
        help_text=_("The order refunded."),
    )
    amount = models.DecimalField(
        _("amount"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Refunded amount in EUR."),
    )
    reason = models.CharField(
        _("reason"), max_length=20, choices=Reason.choices, help_text=_("Why the refund was issued.")
    )
    note = models.TextField(_("note"), blank=True, help_text=_("Free-text explanation for the record."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
        help_text=_("Who issued the refund."),
    )
    created = models.DateTimeField(_("created"), default=timezone.now, help_text=_("When the refund was issued."))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created", "-id"]
        permissions = [("issue_large_refund", "Can issue refunds over 500 EUR")]

    def __str__(self):
        return f"Refund of {self.amount} EUR on order #{self.order_id}"
