"""Free-text search over the admin's `search_fields`: bounds on what a caller may send."""

from django.utils.text import smart_split

from .exceptions import ToolError

#: Longest free-text value a caller may send (tool `query`, completion values).
MAX_SEARCH_LENGTH = 200
#: Most words a free-text value may have: the admin's search ANDs one OR-group per word.
MAX_SEARCH_WORDS = 10


def check_search_terms(value, *, argument="query"):
    """Raise ToolError unless *value* is a bounded free-text search (length and word count)."""
    if len(value) > MAX_SEARCH_LENGTH:
        raise ToolError(f"'{argument}' must be at most {MAX_SEARCH_LENGTH} characters long; use a few distinctive words.")
    words = list(smart_split(value))
    if len(words) > MAX_SEARCH_WORDS:
        raise ToolError(
            f"'{argument}' has {len(words)} words; use at most {MAX_SEARCH_WORDS} distinctive words (every word must match)."
        )
    return value
