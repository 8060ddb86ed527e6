"""pagination.py: signed cursors that carry an offset and belong to one search of one tool."""

import pytest
from django.core import signing

from mcp_bridge.exceptions import ToolError
from mcp_bridge.pagination import MAX_OFFSET, make_cursor, read_cursor

SEARCH = {"query": "jane", "is_staff": True}
INVALID = (
    "The cursor is not valid for search_users. Pass the next_cursor value from the previous search_users "
    "result unchanged, or omit cursor to start from the first page."
)


def test_a_cursor_brings_back_its_offset_whatever_the_page_size():
    cursor = make_cursor("search_users", SEARCH, 50)
    assert read_cursor("search_users", {**SEARCH, "cursor": cursor}) == 50
    assert read_cursor("search_users", {**SEARCH, "cursor": cursor, "page_size": 10}) == 50


def test_no_cursor_is_the_first_page():
    assert read_cursor("search_users", SEARCH) == 0
    assert read_cursor("search_users", {**SEARCH, "cursor": ""}) == 0


def test_a_cursor_of_another_search_is_refused():
    cursor = make_cursor("search_users", SEARCH, 50)
    with pytest.raises(ToolError) as raised:
        read_cursor("search_users", {**SEARCH, "query": "john", "cursor": cursor})
    assert str(raised.value) == (
        "This cursor belongs to a different search: the query, filters or ordering changed. "
        "Repeat search_users without cursor to start from the first page."
    )


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "eyJvIjo1LCJkIjoieCJ9",  # the right shape, unsigned
        signing.dumps({"o": 5, "d": "x"}, salt="mcp_bridge.cursor.search_groups"),  # another tool's cursor
        signing.dumps({"o": -1}, salt="mcp_bridge.cursor.search_users"),  # values make_cursor never writes
        signing.dumps({"o": MAX_OFFSET + 1}, salt="mcp_bridge.cursor.search_users"),
        signing.dumps({"o": "5"}, salt="mcp_bridge.cursor.search_users"),
        signing.dumps({"o": True}, salt="mcp_bridge.cursor.search_users"),
        signing.dumps([5], salt="mcp_bridge.cursor.search_users"),
    ],
)
def test_a_cursor_this_tool_did_not_make_is_refused(cursor):
    with pytest.raises(ToolError) as raised:
        read_cursor("search_users", {**SEARCH, "cursor": cursor})
    assert str(raised.value) == INVALID


def test_the_largest_offset_is_accepted():
    assert (
        read_cursor("search_users", {**SEARCH, "cursor": make_cursor("search_users", SEARCH, MAX_OFFSET)}) == MAX_OFFSET
    )
