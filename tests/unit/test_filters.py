"""filters.py: list_filter field paths become typed search arguments that filter a queryset."""

import datetime

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User

from mcp_bridge.exceptions import ToolError
from mcp_bridge.filters import DateRangeFilter, ExactFilter, build_filter, build_filters

INT_MAX = 2147483647  # auth.User's AutoField, in Django's portable integer ranges


@pytest.mark.parametrize(
    "model, path, schema",
    [
        (User, "is_staff", {"type": "boolean", "description": "Only records whose staff status is true (or false)."}),
        (
            LogEntry,
            "action_flag",
            {"type": "integer", "enum": [1, 2, 3], "description": "Only records with this action flag."},
        ),
        (
            User,
            "groups",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": INT_MAX,
                "description": "Only records whose groups has this id.",
            },
        ),
        (User, "id", {"type": "integer", "description": "Only records whose ID equals this."}),
        (User, "username", {"type": "string", "description": "Only records whose username is exactly this."}),
        (
            Permission,
            "content_type__app_label",
            {"type": "string", "description": "Only records whose app label is exactly this."},
        ),
    ],
)
def test_exact_filters_are_typed_by_their_field(model, path, schema):
    field_filter = build_filter(model, path)
    assert isinstance(field_filter, ExactFilter)
    assert field_filter.arguments() == {path: schema}


def test_a_date_field_becomes_a_half_open_range():
    field_filter = build_filter(User, "date_joined")
    assert isinstance(field_filter, DateRangeFilter)
    assert field_filter.arguments() == {
        "date_joined_after": {
            "type": "string",
            "description": "Only records whose date joined is on or after this date and time (ISO 8601, e.g. 2026-01-31).",
        },
        "date_joined_before": {
            "type": "string",
            "description": "Only records whose date joined is before this date and time (ISO 8601, e.g. 2026-03-01).",
        },
    }


class StaffFilter(admin.SimpleListFilter):
    title, parameter_name = "staff", "staff"

    def lookups(self, request, model_admin):
        return [("yes", "Yes")]

    def queryset(self, request, queryset):
        return queryset


def test_entries_without_a_static_schema_are_skipped_not_guessed():
    filters, skipped = build_filters(
        User, ("is_active", ("is_staff", admin.BooleanFieldListFilter), StaffFilter, "nickname")
    )
    assert [field_filter.path for field_filter in filters] == ["is_active", "is_staff"]
    assert skipped == [StaffFilter, "nickname"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2026-01-31", datetime.datetime(2026, 1, 31, tzinfo=datetime.UTC)),
        ("2026-01-31T09:30:00Z", datetime.datetime(2026, 1, 31, 9, 30, tzinfo=datetime.UTC)),
        ("2026-01-31T11:30:00+02:00", datetime.datetime(2026, 1, 31, 9, 30, tzinfo=datetime.UTC)),
        ("2026-01-31 09:30", datetime.datetime(2026, 1, 31, 9, 30, tzinfo=datetime.UTC)),  # naive: UTC
    ],
)
def test_date_time_bounds_are_read_as_utc(raw, expected):
    assert build_filter(User, "date_joined").parse("date_joined_after", raw) == expected


@pytest.mark.parametrize("raw", ["31/01/2026", "2026-02-30", "٢٠٢٦-٠١-٣١", "yesterday", ""])
def test_a_bound_that_is_not_an_iso_date_is_refused_with_an_example(raw):
    with pytest.raises(ToolError) as raised:
        build_filter(User, "date_joined").parse("date_joined_after", raw)
    assert str(raised.value) == (
        "'date_joined_after' must be an ISO 8601 date such as 2026-01-31 or date-time such as 2026-01-31T09:30:00Z "
        f"(got {raw!r})."
    )


def test_a_bound_outside_the_representable_range_is_refused():
    with pytest.raises(ToolError, match=r"^'date_joined_before' is outside the supported date range \(got "):
        build_filter(User, "date_joined").parse("date_joined_before", "9999-12-31T23:59:59-05:00")


@pytest.mark.django_db
def test_filters_narrow_the_queryset():
    staff = User.objects.create(
        username="staff", is_staff=True, date_joined=datetime.datetime(2026, 1, 10, tzinfo=datetime.UTC)
    )
    User.objects.create(username="early", date_joined=datetime.datetime(2025, 12, 31, 23, 59, tzinfo=datetime.UTC))
    late = User.objects.create(username="late", date_joined=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC))
    joined = build_filter(User, "date_joined")
    in_range = joined.apply(User.objects.all(), {"date_joined_after": "2026-01-01", "date_joined_before": "2026-03-01"})
    assert list(in_range) == [staff]  # after is inclusive, before exclusive
    assert list(joined.apply(User.objects.all(), {"date_joined_after": "2026-03-01"})) == [late]
    assert list(build_filter(User, "is_staff").apply(User.objects.all(), {"is_staff": True})) == [staff]
    assert build_filter(User, "is_staff").apply(User.objects.all(), {}).count() == 3  # not given: no filter


@pytest.mark.django_db
def test_an_exact_filter_given_null_matches_empty_relations():
    group = Group.objects.create(name="support")
    member = User.objects.create(username="member")
    member.groups.add(group)
    loner = User.objects.create(username="loner")
    groups = build_filter(User, "groups")
    assert list(groups.apply(User.objects.all(), {"groups": group.pk})) == [member]
    assert list(groups.apply(User.objects.all(), {"groups": None})) == [loner]
