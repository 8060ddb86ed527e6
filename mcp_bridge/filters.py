"""Search filters generated from a ModelAdmin's `list_filter`, as flat typed tool arguments."""

import datetime

from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .exceptions import ToolError
from .inputs import integer_pk_range


class FieldFilter:
    """One `list_filter` field exposed as one or two arguments (`<path>`, or `<path>_after`/`_before`)."""

    def __init__(self, path, field):
        self.path = path
        self.field = field
        self.label = str(getattr(field, "verbose_name", path))

    def arguments(self):
        """Return {argument name: JSON Schema}."""
        raise NotImplementedError  # pragma: no cover

    def apply(self, queryset, arguments):
        raise NotImplementedError  # pragma: no cover


class ExactFilter(FieldFilter):
    def __init__(self, path, field, schema):
        super().__init__(path, field)
        self.schema = schema

    def arguments(self):
        return {self.path: self.schema}

    def apply(self, queryset, arguments):
        if self.path in arguments:
            value = arguments[self.path]
            return (
                queryset.filter(**{self.path: value})
                if value is not None
                else queryset.filter(**{f"{self.path}__isnull": True})
            )
        return queryset


class DateRangeFilter(FieldFilter):
    def arguments(self):
        kind = "date and time" if isinstance(self.field, models.DateTimeField) else "date"
        after, before = date_range_arguments(self.path)
        return {
            after: {
                "type": "string",
                "description": f"Only records whose {self.label} is on or after this {kind} (ISO 8601, e.g. 2026-01-31).",
            },
            before: {
                "type": "string",
                "description": f"Only records whose {self.label} is before this {kind} (ISO 8601, e.g. 2026-03-01).",
            },
        }

    @property
    def is_datetime(self):
        return isinstance(self.field, models.DateTimeField)

    def parse(self, argument, raw):
        return parse_date_argument(argument, raw, is_datetime=self.is_datetime)

    def apply(self, queryset, arguments):
        after, before = date_range_arguments(self.path)
        if after in arguments:
            queryset = queryset.filter(**{f"{self.path}__gte": self.parse(after, arguments[after])})
        if before in arguments:
            queryset = queryset.filter(**{f"{self.path}__lt": self.parse(before, arguments[before])})
        return queryset


def date_range_arguments(path):
    """The names of the two arguments of a date filter on *path*: (on or after, before)."""
    return f"{path}_after", f"{path}_before"


def parse_date_argument(argument, raw, *, is_datetime):
    """Return the date (or, if *is_datetime*, the aware UTC datetime) an ISO 8601 *raw* argument names.

    A date given for a date-time means its midnight UTC. Raise a ToolError naming *argument* otherwise.
    """
    try:
        if not isinstance(raw, str) or not raw.isascii():  # Django's parsers also read other scripts' digits
            raise ValueError
        value = parse_datetime(raw) if "T" in raw or " " in raw.strip() else None
        if value is None:
            day = parse_date(raw)
            if day is None:
                raise ValueError
            if not is_datetime:
                return day
            value = datetime.datetime.combine(day, datetime.time.min)
    except ValueError:
        raise ToolError(
            f"'{argument}' must be an ISO 8601 date such as 2026-01-31"
            + (" or date-time such as 2026-01-31T09:30:00Z" if is_datetime else "")
            + f" (got {raw!r})."
        ) from None
    if not is_datetime:
        return value.date()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:
        raise ToolError(f"'{argument}' is outside the supported date range (got {raw!r}).") from None


def pk_schema(model):
    bounds = integer_pk_range(model)
    if bounds is None:
        return {"type": "string"}
    minimum, maximum = bounds
    schema = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def build_filter(model, path):
    """Return the FieldFilter for a `list_filter` field path, or raise FieldDoesNotExist."""
    field = get_fields_from_path(model, path)[-1]
    label = str(getattr(field, "verbose_name", path))
    if getattr(field, "flatchoices", None):
        values = [value for value, _ in field.flatchoices]
        kind = "integer" if all(isinstance(v, int) for v in values) else "string"
        return ExactFilter(
            path, field, {"type": kind, "enum": values, "description": f"Only records with this {label}."}
        )
    if isinstance(field, models.BooleanField):
        return ExactFilter(
            path, field, {"type": "boolean", "description": f"Only records whose {label} is true (or false)."}
        )
    if isinstance(field, (models.DateField, models.DateTimeField)):
        return DateRangeFilter(path, field)
    if field.is_relation:
        schema = dict(pk_schema(field.related_model))
        schema["description"] = f"Only records whose {label} has this id."
        return ExactFilter(path, field, schema)
    if isinstance(field, (models.IntegerField, models.AutoField)):
        return ExactFilter(path, field, {"type": "integer", "description": f"Only records whose {label} equals this."})
    if isinstance(field, (models.DecimalField, models.FloatField)):
        return ExactFilter(path, field, {"type": "number", "description": f"Only records whose {label} equals this."})
    return ExactFilter(path, field, {"type": "string", "description": f"Only records whose {label} is exactly this."})


def build_filters(model, list_filter):
    """Return (filters, skipped) for a ModelAdmin's `list_filter`.

    Field paths become typed arguments; custom `SimpleListFilter` classes have no static schema
    and are skipped (a system check reports them).
    """
    filters, skipped = [], []
    for entry in list_filter:
        path = entry[0] if isinstance(entry, (list, tuple)) else entry
        if not isinstance(path, str):
            skipped.append(entry)
            continue
        try:
            filters.append(build_filter(model, path))
        except FieldDoesNotExist:
            skipped.append(entry)
    return filters, skipped
