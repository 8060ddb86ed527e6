"""What callers send, checked before it reaches the ORM: text a database can store, canonical ids.

JSON lets a client send strings no database column can hold (NUL, lone UTF-16 surrogates such as
"\\ud800", which UTF-8 cannot encode), and Python's `int()` reads far more than the canonical
spelling of a number ("+5", "٥", "1_000", " 5"). Both are refused here, with messages that never
echo the offending character back (a response holding a lone surrogate cannot be encoded either).
"""

import re

from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

from .exceptions import ToolError

_SURROGATE = re.compile("[\ud800-\udfff]")
#: An integer as its canonical text: ASCII digits, no sign, no leading zeros.
_CANONICAL_INTEGER = re.compile(r"0|[1-9][0-9]*")


def text_problem(value):
    """Return why the string *value* cannot reach the database ('a NUL character', ...), or None."""
    if "\x00" in value:
        return "a NUL character"
    found = _SURROGATE.search(value)
    if found:
        return f"a lone UTF-16 surrogate (U+{ord(found.group()):04X}), which is not valid Unicode"
    return None


def check_text(value, *, argument):
    """Raise ToolError if any string in *value* (keys of objects included) cannot reach the database.

    *argument* names the value in the message ('query', 'the resource URI', ...).
    """
    for text in _strings(value):
        problem = text_problem(text)
        if problem:
            raise ToolError(f"{argument} contains {problem}; remove it and send valid Unicode text.")
    return value


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(key, str):
                yield key
            yield from _strings(inner)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            yield from _strings(inner)


def integer_pk_range(model):
    """(minimum, maximum) of *model*'s integer primary key, or None when the key is not an integer."""
    pk = model._meta.pk
    if isinstance(pk, models.OneToOneField):
        return integer_pk_range(pk.related_model)
    if not isinstance(pk, (models.AutoField, models.BigAutoField, models.SmallAutoField, models.IntegerField)):
        return None
    # Django's portable ranges, as the tools' input schemas use (filters.pk_schema).
    _, maximum = BaseDatabaseOperations.integer_field_ranges.get(pk.get_internal_type(), (None, None))
    return 1, maximum


def canonical_pk(model, value):
    """Return *value* as a primary key of *model* if it is written canonically, else None.

    Integer keys accept an int or its canonical text ('5', never '+5', '05', '٥', '5 ' or '1_000')
    within the key's range; other keys are returned unchanged for the model's own field to judge.
    A non-canonical id names no object: callers answer it as "not found".
    """
    bounds = integer_pk_range(model)
    if bounds is None:
        return value
    if isinstance(value, str):
        if not _CANONICAL_INTEGER.fullmatch(value):
            return None
        value = int(value)
    elif isinstance(value, bool) or not isinstance(value, int):
        return None
    minimum, maximum = bounds
    if value < minimum or (maximum is not None and value > maximum):
        return None
    return value
