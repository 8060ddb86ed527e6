"""Opaque, signed cursors for search results.

A cursor carries the offset of the next row and a digest of the search it belongs to, so a
cursor replayed with other filters is refused instead of silently returning a wrong page. The
offset is the row's place in the search's total order (the ordering ends with the pk), so a page
cut short to fit the size limit (budgets.py) resumes exactly after its last item.
"""

import hashlib
import json

from django.core import signing

from .exceptions import ToolError

PAGING_ARGUMENTS = {"cursor", "page_size"}
#: Arguments that change how each row is shown, not which rows match or their order: a search may
#: continue with fewer `fields`, e.g. to fit more rows in one result.
PRESENTATION_ARGUMENTS = {"fields"}
#: The largest offset a cursor may carry: OFFSET and LIMIT are signed 64-bit integers in SQL
#: databases, and the next page's bounds (offset + page_size + 1) must still fit.
MAX_OFFSET = 2**62


def search_digest(arguments):
    relevant = {k: v for k, v in arguments.items() if k not in PAGING_ARGUMENTS | PRESENTATION_ARGUMENTS}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]


def make_cursor(tool_name, arguments, offset):
    return signing.dumps({"o": offset, "d": search_digest(arguments)}, salt=f"mcp_bridge.cursor.{tool_name}")


def read_cursor(tool_name, arguments):
    """Return the offset encoded in arguments['cursor'] (0 without a cursor)."""
    cursor = arguments.get("cursor")
    if not cursor:
        return 0
    try:
        payload = signing.loads(cursor, salt=f"mcp_bridge.cursor.{tool_name}")
        offset = payload["o"]
        # Only make_cursor's own values: a cursor signed with a leaked key must not reach the database.
        if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
            raise ValueError(offset)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ToolError(
            f"The cursor is not valid for {tool_name}. Pass the next_cursor value from the previous "
            f"{tool_name} result unchanged, or omit cursor to start from the first page."
        ) from None
    if payload.get("d") != search_digest(arguments):
        raise ToolError(
            "This cursor belongs to a different search: the query, filters or ordering changed. "
            f"Repeat {tool_name} without cursor to start from the first page."
        )
    return offset
