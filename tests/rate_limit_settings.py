"""The demo project with a per-session rate and an hourly tool rate, for the servers of test_rate_limit_overrides."""

from config.settings import *  # noqa: F401,F403
from config.settings import MCP_BRIDGE

MCP_BRIDGE = {
    **MCP_BRIDGE,
    "THROTTLE_RATES": {**MCP_BRIDGE["THROTTLE_RATES"], "session": "6/hour", "get_customer": "5/hour"},
}
