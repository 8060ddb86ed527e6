"""Limits that add up: what one user may do in total, over many actions, not only in one.

A per-action limit ("at most 500 EUR per refund") is dodged by repeating the action (ten refunds of
100 EUR). A `CumulativeLimit` bounds the *sum* of a user's rows in a scope (one order, one day)
instead, and says in its refusal how much is left and what to do about it.

Checks are race-free only inside a transaction that holds the lock of `lock_user()`: two concurrent
actions of one user then run one after the other, and the second one's sum includes the first.
"""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from .models import LARGE_REFUND_THRESHOLD, Refund


class LimitExceeded(PermissionDenied):
    """An action that would take a user's total in a scope over its limit; the message says what is left."""

    def __init__(self, message, *, limit, used, remaining):
        super().__init__(message)
        self.limit, self.used, self.remaining = limit, used, remaining


def lock_user(user):
    """Lock *user*'s row until the current transaction ends, so that one user's limited actions serialize.

    PostgreSQL, MySQL and Oracle lock the row (SELECT ... FOR UPDATE); SQLite serializes every writing
    transaction anyway (the demo opens them IMMEDIATE). Actions of different users do not wait on each other.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_user() needs a transaction: wrap the action in transaction.atomic().")
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))


class CumulativeLimit:
    """At most `limit` in total of `amount_field` over the `model` rows a user made in a scope.

    Subclasses say which rows share the scope (`scope_filter()`) and how to name it (`scope_text()`).
    Users with `exempt_permission` are not limited. `check()` raises LimitExceeded.
    """

    model = None
    amount_field = "amount"
    user_field = "created_by"
    limit = Decimal("0")
    unit = "EUR"
    exempt_permission = None
    #: What the limit is per, and the action in words, for the refusal: "per order", "refund", "refunded".
    per = ""
    action, done = "use", "used"

    def __init__(self, limit=None, exempt_permission=None):
        if limit is not None:
            self.limit = Decimal(limit)
        if exempt_permission is not None:
            self.exempt_permission = exempt_permission

    def scope_filter(self, **scope):
        """Return the filter (a dict of lookups) of the rows in *scope*."""
        raise NotImplementedError(".scope_filter() must be overridden")  # pragma: no cover

    def scope_text(self, **scope):
        """Return the scope in words, as in 'you have used 400 EUR <scope_text>': 'on order 12', 'today'."""
        raise NotImplementedError(".scope_text() must be overridden")  # pragma: no cover

    def is_exempt(self, user):
        return self.exempt_permission is not None and user.has_perm(self.exempt_permission)

    def used(self, user, **scope):
        """Return what *user* has used in *scope* so far."""
        # `_default_manager`: Django's documented route to any model's manager (topics/db/managers, "Default managers").
        rows = self.model._default_manager.filter(**{self.user_field: user}, **self.scope_filter(**scope))
        total = rows.aggregate(total=Sum(self.amount_field))["total"] or Decimal("0")
        places = self.model._meta.get_field(self.amount_field).decimal_places
        return total.quantize(Decimal(1).scaleb(-places))  # SQLite's sum of 100.00s is 400, not 400.00

    def check(self, user, amount, **scope):
        """Raise LimitExceeded if *amount* more would take *user*'s total in *scope* over the limit."""
        if self.is_exempt(user):
            return
        used = self.used(user, **scope)
        if used + amount <= self.limit:
            return
        remaining = max(self.limit - used, Decimal("0"))
        raise LimitExceeded(
            self.message(user, amount, used, remaining, **scope), limit=self.limit, used=used, remaining=remaining
        )

    def message(self, user, amount, used, remaining, **scope):
        where = self.scope_text(**scope)
        left = (
            f"You can {self.action} at most {remaining} {self.unit} more {where}."
            if remaining
            else f"You can {self.action} nothing more {where}."
        )
        return (
            f"Refused: {amount} {self.unit} more would take what you have {self.done} {where} over the limit. You have "
            f"{self.done} {used} {self.unit} {where}; without the '{self.permission_name()}' permission a user may "
            f"{self.action} at most {self.limit} {self.unit} {self.per} in total. {left} For more, ask a supervisor (a "
            "user with that permission) to do it."
        )

    def permission_name(self):
        from django.contrib.auth.models import Permission

        app_label, _, codename = (self.exempt_permission or "").partition(".")
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        return permission.name if permission is not None else self.exempt_permission


class RefundsPerOrder(CumulativeLimit):
    """A user's refunds on one order."""

    model = Refund
    per = "per order"
    action, done = "refund", "refunded"

    def scope_filter(self, *, order, **scope):
        return {"order": order}

    def scope_text(self, *, order, **scope):
        return f"on order {order.pk}"


class RefundsPerDay(CumulativeLimit):
    """A user's refunds on all orders in one calendar day of the project's TIME_ZONE."""

    model = Refund
    per = "per day"
    action, done = "refund", "refunded"

    @staticmethod
    def day_bounds(day):
        """The first instant of *day* and of the next, in the project's TIME_ZONE."""
        start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        end = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))
        return start, end

    def scope_filter(self, *, day=None, **scope):
        start, end = self.day_bounds(day or timezone.localdate())
        return {"created__gte": start, "created__lt": end}

    def scope_text(self, *, day=None, **scope):
        if day is None or day == timezone.localdate():
            return f"today ({timezone.get_current_timezone_name()} day)"
        return f"on {day.isoformat()}"


#: The demo's rule: without the large-refund permission, a user refunds at most 500 EUR in total on any
#: one order, and at most 500 EUR in total per day over all orders.
REFUND_LIMITS = (
    RefundsPerOrder(LARGE_REFUND_THRESHOLD, "customers.issue_large_refund"),
    RefundsPerDay(LARGE_REFUND_THRESHOLD, "customers.issue_large_refund"),
)
