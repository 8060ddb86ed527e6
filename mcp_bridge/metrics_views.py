"""The Prometheus scrape endpoint, /mcp/metrics: for staff sessions and MCP_BRIDGE['METRICS_TOKEN'] only.

Metrics name tools, callers' failure rates and traffic, so the endpoint is not public: a request needs
a signed-in staff user's session or `Authorization: Bearer <METRICS_TOKEN>`. Without either it gets
401 (with a Bearer challenge, so a scraper's misconfiguration reads as such), a signed-in user who is
not staff 403, and everyone 404 while metrics are off.
"""

import hmac

from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import metrics
from .conf import mcp_settings


def bearer_token(request):
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def refusal(request):
    """The response refusing *request*, or None if it may read the metrics."""
    expected = mcp_settings.METRICS_TOKEN
    token = bearer_token(request)
    if token is not None:
        # Constant-time: the comparison must not tell a guesser how much of the token was right.
        if expected and hmac.compare_digest(token.encode(), str(expected).encode()):
            return None
        return unauthorized("The bearer token is not this server's MCP_BRIDGE['METRICS_TOKEN'].")
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        return None
    if user.is_authenticated:
        return HttpResponse(
            "Only staff users may read the MCP metrics.\n", status=403, content_type="text/plain; charset=utf-8"
        )
    how = "sign in to the admin as a staff user"
    if expected:
        how = "send Authorization: Bearer <MCP_BRIDGE['METRICS_TOKEN']>, or " + how
    return unauthorized(f"The MCP metrics are not public: {how}.")


def unauthorized(message):
    response = HttpResponse(message + "\n", status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = 'Bearer realm="mcp-metrics"'
    return response


@never_cache
@require_GET
def metrics_view(request):
    """Return the metrics in the text format Prometheus asked for (its Accept header)."""
    if not metrics.enabled():
        raise Http404("Metrics are off: set MCP_BRIDGE['METRICS'] and install prometheus-client.")
    refused = refusal(request)
    if refused is not None:
        return refused
    from prometheus_client.exposition import choose_encoder

    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return HttpResponse(encode(metrics.scrape_registry()), content_type=content_type)
