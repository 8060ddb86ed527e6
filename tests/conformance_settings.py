"""Settings for the MCP conformance suite: the demo project plus the suite's fixture tools."""

from config.settings import *  # noqa: F401,F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.conformance_app"]  # noqa: F405

# The tasks-* scenarios call the fixture reports dozens of times within seconds: rates far above the
# default of reports (5/hour). They poll tasks/get every 200 ms whatever pollIntervalMs says, so a
# short suggested interval costs nothing and keeps the advertised value honest.
FIXTURE_REPORTS = (
    "slow_compute",
    "failing_job",
    "protocol_error_job",
    "confirm_delete",
    "multi_input",
    "test_tool_with_task",
)
MCP_BRIDGE = {
    **MCP_BRIDGE,  # noqa: F405
    "JOB_POLL_INTERVAL": 0.5,
    "THROTTLE_RATES": {
        **MCP_BRIDGE.get("THROTTLE_RATES", {}),  # noqa: F405
        **dict.fromkeys(FIXTURE_REPORTS, "600/min"),
    },
}
