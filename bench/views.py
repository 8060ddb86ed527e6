"""The two Django views the benchmark (`bench/run.py`) compares MCP against (bench only).

The bare views are the reference a Django developer writes by hand: async views running the one
query each operation needs with Django's async ORM (`aget`, `async for`), returning the rows'
`.values()` as JSON. No DRF, no admin, no authentication: only the rows a support agent may see
(internal accounts are for superusers, as in customers/admin.py), searched as the admin searches
(every word must match one of `search_fields`, `icontains`). They do not rank search results by
relevance: they order as asked, else by the admin's ordering.

The same-work views do what mcp_bridge does for the same three operations. Each request
authenticates the same bearer API key through the same functions mcp_bridge uses (the verified key
remembered under the access generation, read from the shared cache once per request), loads the
user's permissions from the same cache, asks the same ModelAdmin hooks
(`has_view_or_change_permission`, `get_queryset`, `get_search_results`, `get_object`) and
serializes with the same DRF serializer class mcp_bridge generated for the admin.

Both run under the project's full middleware stack, as any Django view does.
"""

import json
from functools import reduce
from operator import or_

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import JsonResponse
from django.utils.text import smart_split, unescape_string_literal
from django.views.decorators.csrf import csrf_exempt
from rest_framework.utils.encoders import JSONEncoder

from customers.models import Customer
from mcp_bridge.authentication import authenticate, remember_principal, remembered_principal
from mcp_bridge.exceptions import AuthenticationFailed
from mcp_bridge.permissions import access_generation, prime_permissions
from mcp_bridge.sites import site as mcp_site

from . import querycount

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# CustomerAdmin's `mcp_fields`, `search_fields` and `ordering` (customers/admin.py), for the bare views.
CUSTOMER_FIELDS = ("id", "name", "email", "phone", "company", "country", "status", "lifetime_value", "created")
CUSTOMER_SEARCH_FIELDS = ("name", "email", "company")
CUSTOMER_ORDERING = ("-created", "-id")


def _user(request):
    authorization = request.headers.get("Authorization")
    if not authorization:
        return None
    try:
        principal = remembered_principal(authorization)
        if principal is None:
            principal = authenticate(request)
            remember_principal(authorization, principal)
        generation, _ = access_generation()
        user = principal.load_user(generation)
    except AuthenticationFailed:
        return None
    prime_permissions(user, generation)
    return user


def _json(data, status=200):
    return JsonResponse(data, status=status, encoder=JSONEncoder, json_dumps_params={"ensure_ascii": False})


def _customer_admin():
    return admin.site.get_model_admin(Customer)


def _serializer_class():
    return mcp_site.registry.exposures[Customer].serializer_class


def _body(request):
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@csrf_exempt
def get_customer(request):
    request.user = user = _user(request)
    if user is None:
        return _json({"error": "unauthorized"}, 401)
    model_admin = _customer_admin()
    if not model_admin.has_view_or_change_permission(request):
        return _json({"error": "forbidden"}, 403)
    data = _body(request)
    if data is None or not isinstance(data.get("id"), int):
        return _json({"error": "id must be an integer"}, 400)
    obj = model_admin.get_object(request, str(data["id"]))
    if obj is None:
        return _json({"error": "not found"}, 404)
    serializer = _serializer_class()(obj, context={"request": request, "admin_site": model_admin.admin_site})
    return _json(serializer.data)


@csrf_exempt
def search_customers(request):
    request.user = user = _user(request)
    if user is None:
        return _json({"error": "unauthorized"}, 401)
    model_admin = _customer_admin()
    if not model_admin.has_view_or_change_permission(request):
        return _json({"error": "forbidden"}, 403)
    data = _body(request)
    if data is None:
        return _json({"error": "the body must be a JSON object"}, 400)
    queryset = model_admin.get_queryset(request)
    query = (data.get("query") or "").strip()
    if query:
        queryset, may_have_duplicates = model_admin.get_search_results(request, queryset, query)
        if may_have_duplicates:
            queryset = queryset.distinct()
    for name in ("status", "country"):
        if name in data:
            queryset = queryset.filter(**{name: data[name]})
    ordering = [data["ordering"]] if data.get("ordering") else list(model_admin.get_ordering(request))
    if not {"pk", "-pk", "id", "-id"} & set(ordering):
        ordering.append("-pk")
    offset = int(data.get("offset", 0))
    page_size = int(data.get("page_size", PAGE_SIZE))
    rows = list(queryset.order_by(*ordering)[offset : offset + page_size + 1])
    serializer = _serializer_class()(
        rows[:page_size], many=True, context={"request": request, "admin_site": model_admin.admin_site}
    )
    return _json({"items": serializer.data, "next_offset": offset + page_size if len(rows) > page_size else None})


def _visible_customers():
    # Internal accounts are visible to superusers only; the bench calls as support_agent.
    return Customer.objects.filter(is_internal=False).values(*CUSTOMER_FIELDS)


def _bare_json(data, status=200):
    return JsonResponse(data, status=status, encoder=DjangoJSONEncoder)


def _search_terms(query):
    """One Q per word of *query*, matching any search field: the admin's `get_search_results` semantics."""
    for word in smart_split(query):
        if word.startswith(('"', "'")) and word[0] == word[-1]:
            word = unescape_string_literal(word)
        yield reduce(or_, (Q(**{f"{field}__icontains": word}) for field in CUSTOMER_SEARCH_FIELDS))


def _bare_ordering(data):
    """The requested ordering (a customer field, '-' for descending) with an id tiebreak, or None if invalid."""
    if not data.get("ordering"):
        return list(CUSTOMER_ORDERING)
    ordering = data["ordering"]
    if not isinstance(ordering, str) or ordering.removeprefix("-") not in CUSTOMER_FIELDS:
        return None
    return [ordering] if ordering.removeprefix("-") == "id" else [ordering, "-id"]


@csrf_exempt
async def bare_get_customer(request):
    data = _body(request)
    if data is None or not isinstance(data.get("id"), int):
        return _bare_json({"error": "id must be an integer"}, 400)
    try:
        customer = await _visible_customers().aget(pk=data["id"])
    except Customer.DoesNotExist:
        return _bare_json({"error": "not found"}, 404)
    return _bare_json(customer)


@csrf_exempt
async def bare_search_customers(request):
    data = _body(request)
    if data is None:
        return _bare_json({"error": "the body must be a JSON object"}, 400)
    ordering = _bare_ordering(data)
    page_size, offset = data.get("page_size", PAGE_SIZE), data.get("offset", 0)
    if ordering is None or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        return _bare_json({"error": "invalid ordering or page_size"}, 400)
    if not isinstance(offset, int) or offset < 0:
        return _bare_json({"error": "offset must be a non-negative integer"}, 400)
    queryset = _visible_customers().filter(*_search_terms((data.get("query") or "").strip()))
    queryset = queryset.filter(**{name: data[name] for name in ("status", "country") if name in data})
    # One row more than the page tells whether there is a next page.
    rows = [row async for row in queryset.order_by(*ordering)[offset : offset + page_size + 1]]
    return _bare_json({"items": rows[:page_size], "next_offset": offset + page_size if len(rows) > page_size else None})


@csrf_exempt
def tools_list(request):
    """The tool descriptions the caller may use: per-tool grant and model permission, checked per tool."""
    request.user = user = _user(request)
    if user is None:
        return _json({"error": "unauthorized"}, 401)
    tools = [
        {
            "name": tool.name,
            "title": tool.title,
            "description": tool.description,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
        }
        for tool in mcp_site.registry.tools.values()
        if tool.has_permission(request)
    ]
    return _json({"tools": tools})


def query_counts(request):
    """The SQL of recent requests (BENCH_COUNT_QUERIES=1); never queries the database itself."""
    last = int(request.GET.get("last", 100))
    return _json({"requests": querycount.snapshot(last)})
