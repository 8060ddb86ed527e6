"""serializers.FieldPlan: generated serializers' output without a serializer per call, byte for byte DRF's."""

import datetime
import json
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.test import RequestFactory
from django.utils import timezone
from rest_framework import serializers
from rest_framework.utils.encoders import JSONEncoder

from customers.models import Customer, Order, Refund, SupportTicket
from mcp_bridge import McpAdminMixin
from mcp_bridge.model_tools import ModelExposure
from mcp_bridge.serializers import FieldPlan, ScopedPrimaryKeyRelatedField, build_model_serializer, field_plan_for
from mcp_bridge.sites import site

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def as_json(data):
    """The JSON text a tool result carries; key order counts."""
    return json.dumps(data, cls=JSONEncoder, ensure_ascii=False, sort_keys=False)


def drf_output(exposure, request, obj, many=False):
    return exposure.serializer_class(obj, many=many, context=exposure.context(request)).data


@pytest.fixture
def http_request():
    return RequestFactory().post("/mcp")


def demo_rows():
    """Rows of every demo model, with every field set, empty or None where the model allows it."""
    agent = User.objects.create_user("agent", "agent@example.com")
    full = Customer.objects.create(
        name="Ana Almeida",
        email="ana@example.com",
        phone="+49 30 1234567",
        company="Almeida GmbH",
        country=Customer.Country.DE,
        status=Customer.Status.ACTIVE,
        lifetime_value=Decimal("1234.50"),
        created=datetime.datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=BERLIN),
    )
    bare = Customer.objects.create(name="Ben", email="b@example.com", country=Customer.Country.US)
    # In memory, not read back: an unquantized Decimal and a datetime in another zone than the current one.
    unsaved = Customer(
        id=999,
        name="Chloé",
        email="chloe@example.com",
        country=Customer.Country.FR,
        lifetime_value=Decimal("7"),
        created=datetime.datetime(2024, 12, 31, 23, 59, tzinfo=BERLIN),
    )
    orders = [
        Order.objects.create(customer=full, status=Order.Status.PAID, total=Decimal("99.90")),
        Order.objects.create(customer=full, total=Decimal("0"), refunded_total=Decimal("0.00")),
    ]
    tickets = [
        SupportTicket.objects.create(
            customer=full, subject="Broken", body="Line one\nline two", priority="urgent", assignee=agent
        ),
        SupportTicket.objects.create(customer=bare, subject="Question", body=""),
    ]
    refunds = [
        Refund.objects.create(order=orders[0], amount=Decimal("10.05"), reason="damaged", note="ok", created_by=agent),
        Refund.objects.create(order=orders[0], amount=Decimal("1"), reason="other"),
    ]
    return {
        Customer: [Customer.objects.get(pk=full.pk), Customer.objects.get(pk=bare.pk), unsaved],
        Order: [Order.objects.get(pk=order.pk) for order in orders],
        SupportTicket: [SupportTicket.objects.get(pk=ticket.pk) for ticket in tickets],
        Refund: [Refund.objects.get(pk=refund.pk) for refund in refunds],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("current_timezone", ["UTC", "Asia/Tokyo"])
def test_every_demo_exposure_serializes_exactly_as_drf(http_request, current_timezone):
    exposures = site.registry.exposures
    rows = demo_rows()
    assert set(exposures) == set(rows)  # a model added to the demo needs rows here
    with timezone.override(current_timezone):
        for model, exposure in exposures.items():
            assert field_plan_for(exposure.serializer_class) is not None, model  # the fast path is the one tested
            for obj in rows[model]:
                fast = exposure.serialize(http_request, obj)
                assert type(fast) is dict
                assert as_json(fast) == as_json(drf_output(exposure, http_request, obj))
            fast_page = exposure.serialize(http_request, rows[model], many=True)
            assert as_json(fast_page) == as_json(drf_output(exposure, http_request, rows[model], many=True))
            queryset = exposure.model._default_manager.order_by("pk")
            assert as_json(exposure.serialize(http_request, queryset, many=True)) == as_json(
                drf_output(exposure, http_request, queryset, many=True)
            )


@pytest.mark.django_db
def test_a_related_manager_is_read_as_drf_reads_it(http_request):
    orders = site.registry.exposures[Order]
    customer = demo_rows()[Customer][0]
    fast = orders.serialize(http_request, customer.orders, many=True)
    assert len(fast) == 2
    assert as_json(fast) == as_json(drf_output(orders, http_request, customer.orders, many=True))


def unit_exposure(model, **admin_attrs):
    admin_class = type("UnitAdmin", (McpAdminMixin, admin.ModelAdmin), {"__module__": __name__, **admin_attrs})
    admin_site = admin.AdminSite(name="unit")
    return ModelExposure(admin_class(model, admin_site), admin_site)


@pytest.mark.django_db
def test_many_to_many_dates_and_redacted_values_serialize_exactly_as_drf(http_request):
    users = unit_exposure(
        User,
        mcp_fields=("id", "username", "email", "groups", "user_permissions", "is_staff", "last_login", "date_joined"),
        mcp_redacted_fields=("email",),
    )
    assert field_plan_for(users.serializer_class) is not None
    support, billing = Group.objects.create(name="support"), Group.objects.create(name="billing")
    jane = User.objects.create_user("jane", "jane@example.com", is_staff=True, last_login=timezone.now())
    jane.groups.set([billing, support])
    jane.user_permissions.set(Permission.objects.order_by("pk")[:3])
    never_logged_in = User.objects.create_user("joe", "")
    unsaved = User(username="new")  # no pk: many-to-many fields are empty
    rows = [jane, never_logged_in, unsaved]

    for user in rows:
        assert as_json(users.serialize(http_request, user)) == as_json(drf_output(users, http_request, user))
    assert users.serialize(http_request, jane)["groups"] == sorted([support.pk, billing.pk])
    assert users.serialize(http_request, jane)["email"] == "j***@example.com"
    assert as_json(users.serialize(http_request, rows, many=True)) == as_json(
        drf_output(users, http_request, rows, many=True)
    )


class ShoutingSerializer(serializers.ModelSerializer):
    """A project's serializer that changes the output in to_representation."""

    class Meta:
        model = Group
        fields = ["id", "name"]

    def to_representation(self, instance):
        return {**super().to_representation(instance), "name": instance.name.upper()}


class CallerSerializer(serializers.ModelSerializer):
    """A project's serializer whose output depends on the request."""

    seen_by = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ["id", "name", "seen_by"]

    def get_seen_by(self, group):
        return self.context["request"].user.username


@pytest.mark.django_db
def test_a_projects_serializer_class_keeps_drfs_path(http_request):
    group = Group.objects.create(name="support")
    http_request.user = User(username="agent")

    shouting = unit_exposure(Group, mcp_fields=("id", "name"), mcp_serializer_class=ShoutingSerializer)
    assert field_plan_for(shouting.serializer_class) is None
    assert shouting.serialize(http_request, group) == {"id": group.pk, "name": "SUPPORT"}
    assert shouting.serialize(http_request, [group], many=True) == [{"id": group.pk, "name": "SUPPORT"}]

    caller = unit_exposure(Group, mcp_fields=("id", "name"), mcp_serializer_class=CallerSerializer)
    assert field_plan_for(caller.serializer_class) is None
    assert caller.serialize(http_request, group) == {"id": group.pk, "name": "support", "seen_by": "agent"}


class ShoutingBase(serializers.ModelSerializer):
    def to_representation(self, instance):
        return {key: str(value).upper() for key, value in super().to_representation(instance).items()}


class CallerBase(serializers.ModelSerializer):
    seen_by = serializers.SerializerMethodField()

    def get_seen_by(self, group):
        return self.context["request"].user.username


class EditorBase(serializers.ModelSerializer):
    editor = serializers.CharField(source="last_editor", read_only=True, default=serializers.CurrentUserDefault())


class HyperlinkedRelationsBase(serializers.ModelSerializer):
    serializer_related_field = serializers.HyperlinkedRelatedField


@pytest.mark.django_db
def test_a_generated_serializer_whose_output_may_differ_keeps_drfs_path(http_request):
    group = Group.objects.create(name="support")
    http_request.user = User(username="agent")
    context = {"request": http_request}

    overridden = build_model_serializer(Group, ["id", "name"], base=ShoutingBase)
    assert field_plan_for(overridden) is None
    assert overridden(group, context=context).data == {"id": str(group.pk), "name": "SUPPORT"}

    reads_request = build_model_serializer(Group, ["id", "name", "seen_by"], base=CallerBase)
    assert field_plan_for(reads_request) is None
    assert reads_request(group, context=context).data["seen_by"] == "agent"

    # A value the row lacks, filled from the request.
    defaulted = build_model_serializer(Group, ["id", "editor"], base=EditorBase)
    assert field_plan_for(defaulted) is None
    assert defaulted(group, context=context).data == {"id": group.pk, "editor": "agent"}

    # Links to related rows are built from the request, here inside the many-to-many field.
    linked = build_model_serializer(User, ["id", "groups"], base=HyperlinkedRelationsBase)
    assert type(linked().fields["groups"].child_relation) is serializers.HyperlinkedRelatedField
    assert field_plan_for(linked) is None

    # A subclass of a generated serializer is the project's own: it has no plan, even when it changes nothing.
    subclass = type("GroupSubclass", (build_model_serializer(Group, ["id", "name"]),), {})
    assert field_plan_for(subclass) is None


@pytest.mark.django_db
def test_a_plan_is_compiled_once_per_class_not_per_call(http_request, monkeypatch):
    compiled, instantiated = [], []
    compile_plan = FieldPlan.compile.__func__

    def counting_compile(cls, serializer_class):
        compiled.append(serializer_class)
        return compile_plan(cls, serializer_class)

    monkeypatch.setattr(FieldPlan, "compile", classmethod(counting_compile))
    groups = unit_exposure(Group, mcp_fields=("id", "name"), mcp_operations=("search", "get", "create"))
    assert compiled == [groups.serializer_class, groups.write_serializer_class]  # when the classes are built
    plan = field_plan_for(groups.serializer_class)

    serializer_init = groups.serializer_class.__init__

    def counting_init(self, *args, **kwargs):
        instantiated.append(self)
        serializer_init(self, *args, **kwargs)

    monkeypatch.setattr(groups.serializer_class, "__init__", counting_init)
    group = Group.objects.create(name="support")
    for _ in range(3):
        assert groups.serialize(http_request, group) == {"id": group.pk, "name": "support"}
        assert groups.serialize(http_request, [group, group], many=True) == [{"id": group.pk, "name": "support"}] * 2
    assert len(compiled) == 2 and instantiated == []
    assert field_plan_for(groups.serializer_class) is plan


class TextIdRelationsBase(serializers.ModelSerializer):
    """Relations written as text ids: a pk_field, which must not turn a missing relation into 'None'."""

    serializer_related_field = ScopedPrimaryKeyRelatedField

    def build_relational_field(self, field_name, relation_info):
        field_class, field_kwargs = super().build_relational_field(field_name, relation_info)
        return field_class, {**field_kwargs, "pk_field": serializers.CharField()}


@pytest.mark.django_db
def test_a_missing_relation_stays_none_when_its_pk_has_a_field(http_request):
    ticket_serializer = build_model_serializer(
        SupportTicket,
        ["id", "customer", "assignee"],
        read_only_fields=["customer", "assignee"],
        base=TextIdRelationsBase,
    )
    plan = field_plan_for(ticket_serializer)
    assert plan is not None
    tickets = demo_rows()[SupportTicket]
    assert [plan.represent(ticket)["assignee"] for ticket in tickets] == [str(tickets[0].assignee_id), None]
    drf = ticket_serializer(tickets, many=True, context={"request": http_request}).data
    assert as_json(plan.represent_many(tickets)) == as_json(drf)


@pytest.mark.django_db
@pytest.mark.parametrize("current_timezone", ["UTC", "Asia/Tokyo"])
def test_a_page_read_as_columns_is_exactly_what_drf_makes_of_its_instances(http_request, current_timezone):
    """Search pages read the plan's columns (values_list), not model instances: the same output, byte for byte."""
    demo_rows()
    with timezone.override(current_timezone):
        for model, exposure in site.registry.exposures.items():
            assert field_plan_for(exposure.serializer_class).columns, model  # the column path is the one tested
            queryset = model._default_manager.order_by("-pk")
            page = list(exposure.page_rows(queryset)[:10])
            assert page and all(type(row) is tuple for row in page)
            assert as_json(exposure.serialize_page(http_request, page)) == as_json(
                drf_output(exposure, http_request, list(queryset[:10]), many=True)
            )


def test_instances_are_read_when_a_column_may_not_hold_the_value(http_request):
    """Anything but a concrete column read through Django's own descriptor keeps model instances."""

    def columns(model, **admin_attrs):
        return field_plan_for(unit_exposure(model, **admin_attrs).serializer_class).columns

    assert columns(Order, mcp_fields=("id", "customer", "total")) == ("id", "customer_id", "total")
    assert columns(User, mcp_fields=("id", "username", "groups")) is None  # many-to-many

    class CustomerName(serializers.ModelSerializer):
        name = serializers.CharField(source="customer.name", read_only=True)

        class Meta:
            model = Order
            fields = ("id", "name")

    generated = build_model_serializer(Order, ["id", "total"], base=serializers.ModelSerializer)
    generated.field_plan = FieldPlan(list(CustomerName(context={}).fields.values()), Order)
    assert generated.field_plan.columns is None  # a dotted source needs the related instance

    received = []

    def listener(**kwargs):
        received.append(kwargs)

    from django.db.models.signals import post_init

    post_init.connect(listener, sender=Order)
    try:
        assert columns(Order, mcp_fields=("id", "total")) is None  # a post_init receiver sees every instance
    finally:
        post_init.disconnect(listener, sender=Order)
