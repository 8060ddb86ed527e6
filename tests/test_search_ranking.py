"""Free-text search ranks by relevance: whole-query matches first, then prefix matches, then the rest.

The admin's search still decides which rows match; ranking only orders them, with the admin's
ordering and the pk breaking ties, so cursors page through the ranked list without repeats or gaps.
"""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.models import Customer, Order
from mcp_bridge.search import MAX_SEARCH_WORDS, rank_by_relevance

from .conftest import mcp_client

pytestmark = pytest.mark.anyio

QUERY = "Ana Tanaka"
# Oldest first: the admin orders customers newest first, so without ranking Yusuf Tanaka leads.
NAMES = ["Ana Tanaka", "Ana Tanakawa", "Hana Tanaka", "ana tanaka", "Ana Tanaka-Brown", "Yusuf Tanaka", "Tanaka Ana"]


@pytest.fixture
def people(transactional_db, django_db_serialized_rollback):
    """A superuser, and customers whose names match QUERY exactly, by prefix, or word by word only.

    Pairs share a creation time, so the pk tiebreak decides inside a group. Transactional (MCP calls
    run on their own thread and connection), with serialized rollback as the `demo` fixture.
    """
    admin = get_user_model().objects.create_superuser("ranker", "ranker@example.com", "x")
    start = timezone.now() - timedelta(days=1)
    customers = [
        Customer.objects.create(
            name=name,
            email=f"person{i}@example.com",
            country="JP",
            status="active",
            created=start + timedelta(minutes=i // 2),
        )
        for i, name in enumerate(NAMES)
    ]
    for customer in customers:
        Order.objects.create(customer=customer, status="paid", total=10)
    return admin, customers


def expected_order(customers, query):
    """Ranked by hand: exact (case-insensitive) name, then prefix, then the rest; newest, then highest pk, first."""

    def group(customer):
        name, wanted = customer.name.lower(), query.lower()
        return 0 if name == wanted else 1 if name.startswith(wanted) else 2

    newest_first = sorted(customers, key=lambda c: (c.created, c.pk), reverse=True)
    return [c.pk for c in sorted(newest_first, key=group)]  # sorted() is stable


async def search(client, arguments):
    result = await client.call_tool("search_customers", arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def test_whole_name_match_comes_first(people, mode):
    admin, customers = people
    async with mcp_client(admin, mode) as client:
        page = await search(client, {"query": QUERY})
    ids = [item["id"] for item in page["items"]]
    names = [item["name"] for item in page["items"]]
    # Every customer containing both words matches, as in the admin; exact ones lead, Yusuf Tanaka does not.
    assert sorted(ids) == sorted(c.pk for c in customers)
    assert ids == expected_order(customers, QUERY)
    assert {n.lower() for n in names[:2]} == {"ana tanaka"}
    assert names[2:4] == ["Ana Tanaka-Brown", "Ana Tanakawa"]
    assert names.index("Ana Tanaka") < names.index("Yusuf Tanaka")


async def test_quoted_query_ranks_like_the_phrase(people):
    admin, customers = people
    async with mcp_client(admin) as client:
        page = await search(client, {"query": '"Ana Tanaka"'})
    assert [item["id"] for item in page["items"]] == expected_order(
        [c for c in customers if "ana tanaka" in c.name.lower()], QUERY
    )


async def test_pages_follow_the_ranking_without_repeats_or_gaps(people, mode):
    admin, customers = people
    seen = []
    async with mcp_client(admin, mode) as client:
        arguments = {"query": QUERY, "page_size": 2}
        while True:
            page = await search(client, arguments)
            seen += [item["id"] for item in page["items"]]
            if page["next_cursor"] is None:
                break
            arguments = {**arguments, "cursor": page["next_cursor"]}
    assert seen == expected_order(customers, QUERY)


async def test_explicit_ordering_wins(people):
    admin, customers = people
    async with mcp_client(admin) as client:
        page = await search(client, {"query": QUERY, "ordering": "-created"})
    newest_first = sorted(customers, key=lambda c: (c.created, c.pk), reverse=True)
    assert [item["id"] for item in page["items"]] == [c.pk for c in newest_first]
    assert page["items"][0]["name"] == "Tanaka Ana"


async def test_related_search_fields_rank_too(people):
    """search_orders searches customer__name: the orders of the customer named exactly come first."""
    admin, customers = people
    async with mcp_client(admin) as client:
        result = await client.call_tool("search_orders", {"query": QUERY})
    assert not result.is_error
    lead = await sync_to_async(
        lambda: [Order.objects.get(pk=i["id"]).customer.name for i in result.structured_content["items"]]
    )()
    assert {name.lower() for name in lead[:2]} == {"ana tanaka"} and len(lead) == len(customers)


async def test_too_many_words_is_an_actionable_error(people):
    admin, _ = people
    words = " ".join(["ana"] * (MAX_SEARCH_WORDS + 1))
    async with mcp_client(admin) as client:
        result = await client.call_tool("search_customers", {"query": words})
    assert result.is_error
    assert result.content[0].text == (
        f"'query' has {MAX_SEARCH_WORDS + 1} words; use at most {MAX_SEARCH_WORDS} distinctive words (every word must match)."
    )


def test_multi_valued_relations_are_not_ranked(people):
    """A field reached through a reverse relation has several values per row: ranking by it would repeat rows."""
    queryset, ordering = rank_by_relevance(Customer.objects.all(), ["orders__status"], "paid")
    assert ordering == [] and queryset.count() == len(NAMES)
    # Ranked by the single-valued fields, on a queryset the admin made distinct (PostgreSQL needs the
    # ordering expression selected under DISTINCT).
    matches = Customer.objects.filter(orders__status="paid").distinct()
    queryset, ordering = rank_by_relevance(matches, ["=name", "orders__status", "email__iexact"], QUERY)
    assert ordering
    assert [c.name for c in queryset.order_by(*ordering, "pk")][:2] == ["Ana Tanaka", "ana tanaka"]
    assert len(list(queryset.order_by(*ordering, "pk"))) == len(NAMES)
