"""Settings for tests of report jobs on real workers: the demo project plus tests.report_fixtures' reports."""

from config.settings import *  # noqa: F401,F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.report_fixtures.ReportFixturesConfig"]  # noqa: F405

MCP_BRIDGE = {
    **MCP_BRIDGE,  # noqa: F405
    # The fixture reports share one generous budget; the demo reports keep REPORT_THROTTLE_RATE (5/hour).
    "THROTTLE_RATES": {**MCP_BRIDGE["THROTTLE_RATES"], "report_fixtures": "1000/hour"},  # noqa: F405
    # A running job silent for 1 s beyond its hard time limit counts as lost, so a test need not wait a minute.
    "JOB_LOST_AFTER": 1,
}
