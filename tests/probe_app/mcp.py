"""Tools that report how the server sees a call, registered through the public API as a project would.

Autodiscovered because this module is called `mcp`; served by uvicorn with tests.probe_settings.
"""

import mcp_bridge

site = mcp_bridge.site


@site.tool(
    description="Reports how the server sees this call's HTTP request: the absolute URI Django builds for it, "
    "its scheme and whether it counts as secure. Read-only; for tests.",
    read_only=True,
)
def probe_request(request, data):
    return {"absolute_uri": request.build_absolute_uri(), "scheme": request.scheme, "is_secure": request.is_secure()}


@site.tool(
    description="Sends one log message at level 'info' and one at level 'error' to the client, then returns "
    "'logged'. Read-only; for tests of logging/setLevel.",
    read_only=True,
    context=True,
)
def probe_logging(request, data, context):
    context.log("info", "probe info")
    context.log("error", "probe error")
    return "logged"
