"""manage.py mcp_eval select|plan|agent [--report]: how well agents can use this server's tools.

- select: offline tool-selection accuracy (the `eval` extra's embedding model); fails below the suite's floor.
- plan: every task's reference plan through the SDK's client over HTTP; fails on any task not completed and
  any refusal that does not hold. Needs the server (and, for report tasks, a Celery worker) running.
- agent: a model behind an OpenAI-compatible chat endpoint tries every task; success rates are figures,
  not a gate. Nothing is called unless an endpoint and a model are given.

Every run appends its figures to MCP_BRIDGE['EVAL_HISTORY_FILE']; --report shows the trend.
"""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from mcp_bridge.conf import mcp_settings
from mcp_bridge.evaluation import history
from mcp_bridge.evaluation.agent import run_agent
from mcp_bridge.evaluation.plan import run_plans
from mcp_bridge.evaluation.select import run_select  # loads the eval extra's model only when run
from mcp_bridge.evaluation.suite import load_suite
from mcp_bridge.sites import site
from mcp_bridge.surface import surface_version

DEFAULT_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Measure how well agents use the MCP tools (select, plan, agent) and show the trend (--report)."

    def add_arguments(self, parser):
        parser.add_argument(
            "mode",
            nargs="?",
            choices=["select", "plan", "agent"],
            help="select: offline tool choice; plan: run the reference plans over HTTP; agent: a real model.",
        )
        parser.add_argument("--report", action="store_true", help="Show the history's trend (after the run, if any).")
        parser.add_argument("--suite", help="Dotted path of the Suite (default: MCP_BRIDGE['EVAL_SUITE']).")
        parser.add_argument("--task", action="append", default=[], help="Run only this task id (repeatable).")
        parser.add_argument("--history", help="History file (default: MCP_BRIDGE['EVAL_HISTORY_FILE']).")
        parser.add_argument("--no-history", action="store_true", help="Do not append this run to the history.")
        parser.add_argument(
            "--url",
            default=os.environ.get("MCP_EVAL_URL", DEFAULT_URL),
            help=f"Base URL of the running server, for plan and agent (env MCP_EVAL_URL; default {DEFAULT_URL}).",
        )
        parser.add_argument(
            "--protocol",
            choices=["auto", "legacy"],
            default="auto",
            help="plan: auto speaks 2026-07-28, legacy 2025-11-25.",
        )
        agent = parser.add_argument_group("agent mode")
        agent.add_argument(
            "--endpoint",
            default=os.environ.get("MCP_EVAL_ENDPOINT"),
            help="Base URL of an OpenAI-compatible chat API with tool calling, e.g. http://127.0.0.1:1234/v1 "
            "(env MCP_EVAL_ENDPOINT).",
        )
        agent.add_argument("--model", default=os.environ.get("MCP_EVAL_MODEL"), help="Model name (env MCP_EVAL_MODEL).")
        agent.add_argument(
            "--api-key", default=os.environ.get("MCP_EVAL_API_KEY"), help="Bearer key, if any (env MCP_EVAL_API_KEY)."
        )
        agent.add_argument("--runs", type=int, default=3, help="Attempts per task (default 3).")
        agent.add_argument("--max-turns", type=int, default=12, help="Model turns per attempt (default 12).")

    def handle(self, *args, mode, report, **options):
        if mode is None and not report:
            raise CommandError("Give a mode (select, plan or agent), --report, or both.")
        path = options["history"] or mcp_settings.EVAL_HISTORY_FILE
        if mode is not None:
            self.evaluate(mode, path, options)
        if report:
            self.stdout.write("\n".join(history.report_lines(history.read(path))))

    def evaluate(self, mode, path, options):
        suite_path = options["suite"] or mcp_settings.EVAL_SUITE
        if not suite_path:
            raise CommandError("No evaluation suite: set MCP_BRIDGE['EVAL_SUITE'] or pass --suite.")
        try:
            suite = load_suite(suite_path).only(options["task"])
            result = self.run_mode(mode, suite, options)
        except (ImproperlyConfigured, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write("\n".join(result.lines()))
        if not options["no_history"]:
            entry = history.append(path, result, suite=suite_path, surface=surface_version(site.registry))
            self.stdout.write(f"Recorded in {path} (surface {entry['surface']}).")
        if result.failed:
            raise CommandError(f"mcp_eval {mode} failed; see above.")

    def run_mode(self, mode, suite, options):
        progress = self.stdout.write if options["verbosity"] >= 1 else (lambda line: None)
        if mode == "select":
            return run_select(suite)
        if mode == "plan":
            return run_plans(suite, options["url"], mode=options["protocol"], progress=progress)
        return run_agent(
            suite,
            options["url"],
            endpoint=options["endpoint"],
            model=options["model"],
            api_key=options["api_key"],
            runs=options["runs"],
            max_turns=options["max_turns"],
            progress=progress,
        )
