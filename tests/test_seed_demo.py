"""seed_demo: rows that pass their model's validation, no dates in the future, the same ids on every run."""

import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from customers.models import Customer, Order, Refund, SupportTicket

pytestmark = pytest.mark.django_db

CUSTOMERS = 300
DEMO_MODELS = (Customer, Order, SupportTicket, Refund)


def seed():
    call_command("seed_demo", customers=CUSTOMERS, stdout=io.StringIO())


def test_every_seeded_object_passes_full_clean():
    seed()
    invalid = {}
    for model in (*DEMO_MODELS, get_user_model(), Group):
        for obj in model.objects.all():
            try:
                obj.full_clean()
            except ValidationError as exc:
                invalid[f"{model.__name__} {obj.pk}"] = exc.message_dict
    assert invalid == {}
    names = list(Customer.objects.values_list("name", flat=True))
    assert len(names) == CUSTOMERS
    assert any(not name.isascii() for name in names), "the demo keeps names such as Chloé and Müller"


def test_no_seeded_date_lies_in_the_future():
    seed()
    now = timezone.now()
    for model in (Customer, Order, SupportTicket):
        assert model.objects.exists()
        assert list(model.objects.filter(created__gt=now).values_list("pk", "created")) == []
    for order in Order.objects.select_related("customer"):
        assert order.created > order.customer.created
    for ticket in SupportTicket.objects.select_related("customer"):
        assert ticket.created > ticket.customer.created


def _rows():
    """Every demo row with every field but its creation time (seeding counts back from now)."""
    return {
        model.__name__: list(
            model.objects.order_by("pk").values_list(
                *[field.attname for field in model._meta.concrete_fields if field.name != "created"]
            )
        )
        for model in DEMO_MODELS
    }


def _next_ids():
    """The ids the next customer and the next refund get (seeding deletes them again)."""
    customer = Customer.objects.create(name="Next Customer", email="next.customer@example.com", country="GB")
    refund = Refund.objects.create(order=Order.objects.earliest("pk"), amount=Decimal("1.00"), reason="goodwill")
    return customer.pk, refund.pk


def test_the_same_arguments_give_the_same_ids_on_every_run():
    # Ids handed out before seeding (here, the next ones after it) must not shift the seeded ones.
    seed()
    first = _rows()
    assert [row[0] for row in first["Customer"]] == list(range(1, CUSTOMERS + 1))
    assert [row[0] for row in first["Order"]] == list(range(1, len(first["Order"]) + 1))
    assert [row[0] for row in first["SupportTicket"]] == list(range(1, len(first["SupportTicket"]) + 1))
    after_first = _next_ids()
    assert after_first == (CUSTOMERS + 1, 1)  # new rows continue after the seeded ones

    seed()
    assert _rows() == first
    assert _next_ids() == after_first
