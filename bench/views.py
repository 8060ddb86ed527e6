"""Plain Django JSON views doing the same ORM and serialization work as the MCP tools (bench only).

The comparison baseline for `bench/run.py`: what a Django developer would write by hand for the
same three operations. Each request authenticates the same bearer API key through the same
functions mcp_bridge uses (the verified key remembered under the access generation, read from the
shared cache once per request), loads the user's permissions from the same cache, asks the
same ModelAdmin hooks (`has_view_or_change_permission`, `get_queryset`, `get_search_results`,
`get_object`) and serializes with the same DRF serializer class mcp_bridge generated for the
admin. It runs under the project's full middleware stack, as any Django view does.
"""

import json

from django.contrib import admin
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.utils.encoders import JSONEncoder

from customers.models import Customer
from mcp_bridge.authentication import authenticate_token, remember_principal, remembered_principal
from mcp_bridge.exceptions import AuthenticationFailed
from mcp_bridge.permissions import access_generation, prime_permissions
from mcp_bridge.sites import site as mcp_site

from . import querycount

PAGE_SIZE = 25


def _user(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        principal = remembered_principal(token)
        if principal is None:
            principal = authenticate_token(token)
            remember_principal(token, principal)
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
    rows = list(queryset.order_by(*ordering)[offset : offset + PAGE_SIZE + 1])
    serializer = _serializer_class()(
        rows[:PAGE_SIZE], many=True, context={"request": request, "admin_site": model_admin.admin_site}
    )
    return _json({"items": serializer.data, "next_offset": offset + PAGE_SIZE if len(rows) > PAGE_SIZE else None})


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
