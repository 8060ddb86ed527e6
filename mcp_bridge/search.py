"""Free-text search over the admin's `search_fields`: bounds on what a caller may send, and ranking.

The admin's `get_search_results` decides which rows match; `rank_by_relevance` only orders them,
so an agent looking someone up by name gets that person first, not whoever else contains the words.
"""

from functools import reduce
from operator import or_

from django.contrib.admin.utils import NotRelationField, get_fields_from_path, lookup_spawns_duplicates
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Case, CharField, IntegerField, Q, TextField, Value, When
from django.db.models.constants import LOOKUP_SEP
from django.utils.text import smart_split, unescape_string_literal

from .exceptions import ToolError

#: Longest free-text value a caller may send (tool `query`, completion values).
MAX_SEARCH_LENGTH = 200
#: Most words a free-text value may have: the admin's search ANDs one OR-group per word.
MAX_SEARCH_WORDS = 10
#: The alias that orders search results by relevance: 0 exact, 1 prefix, 2 any other match.
RELEVANCE = "mcp_search_relevance"


def check_search_terms(value, *, argument="query"):
    """Raise ToolError unless *value* is a bounded free-text search (length and word count)."""
    if len(value) > MAX_SEARCH_LENGTH:
        raise ToolError(
            f"'{argument}' must be at most {MAX_SEARCH_LENGTH} characters long; use a few distinctive words."
        )
    words = list(smart_split(value))
    if len(words) > MAX_SEARCH_WORDS:
        raise ToolError(
            f"'{argument}' has {len(words)} words; use at most {MAX_SEARCH_WORDS} distinctive words (every word must match)."
        )
    return value


def rank_by_relevance(queryset, search_fields, query):
    """Return (queryset, ordering prefix) that put the best matches of *query* first.

    Rows where a searched text field equals the whole query (case-insensitively) come first, then
    rows where one starts with it, then the rest. The caller appends its own ordering and a pk
    tiebreak, so the order stays total and offset cursors stay exact. Fields reached through a
    multi-valued relation are not ranked: one row would have several values to rank by.
    """
    model = queryset.model
    paths = [path for path in (_text_field_path(model, field) for field in search_fields) if path]
    paths = [path for path in paths if not lookup_spawns_duplicates(model._meta, path)]
    if not paths:
        return queryset, []
    # The whole query as the admin reads it: words in order, quotes around phrases removed.
    phrase = " ".join(
        unescape_string_literal(word) if word.startswith(('"', "'")) and word[0] == word[-1] else word
        for word in smart_split(query)
    )
    exact = reduce(or_, (Q(**{f"{path}__iexact": phrase}) for path in paths))
    prefix = reduce(or_, (Q(**{f"{path}__istartswith": phrase}) for path in paths))
    relevance = Case(
        When(exact, then=Value(0)), When(prefix, then=Value(1)), default=Value(2), output_field=IntegerField()
    )
    return queryset.alias(**{RELEVANCE: relevance}), [RELEVANCE]


def _text_field_path(model, search_field):
    """The path of the text field an admin search field searches ('^name' -> 'name'), or None."""
    path = str(search_field).lstrip("^=@")
    while path:
        try:
            fields = get_fields_from_path(model, path)
        except (FieldDoesNotExist, NotRelationField):
            path = path.rpartition(LOOKUP_SEP)[0]  # drop a trailing lookup, as in 'email__iexact'
            continue
        return path if isinstance(fields[-1], (CharField, TextField)) else None
    return None
