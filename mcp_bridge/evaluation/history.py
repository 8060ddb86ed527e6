"""The evaluation history: every `mcp_eval` run appends one JSON line, `mcp_eval --report` shows the trend.

A line holds when the run ended, its mode, the suite, the tool-surface version (`mcp_schema` prints the same
digest, so a change of figures can be laid beside the change of surface that caused it), the headline
figure and every figure of the run.
"""

import datetime
import json
from pathlib import Path

#: The figure that sums up a run of each mode, shown in the trend.
HEADLINE = {"select": "top1", "plan": "pass_rate", "agent": "success_rate"}
BARS = "▁▂▃▄▅▆▇█"


def append(path, report, *, suite, surface):
    """Append *report*'s figures to the history file at *path* (created with its folders if missing)."""
    figures = dict(report.figures)
    if report.mode == "plan":
        figures["pass_rate"] = round(figures["passed"] / figures["tasks"], 4) if figures["tasks"] else 0.0
    entry = {
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": report.mode,
        "suite": suite,
        "surface": surface,
        "headline": figures[HEADLINE[report.mode]],
        "figures": figures,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as history:
        history.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def read(path):
    """The entries of the history file at *path*, oldest first; lines that are not JSON are skipped."""
    path = Path(path)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("mode") in HEADLINE:
            entries.append(entry)
    return entries


def report_lines(entries, last=20):
    """A table per mode of its last *last* runs, each with the change from the run before, and a bar chart."""
    if not entries:
        return ["No evaluation runs recorded yet: run `manage.py mcp_eval select` (or plan, agent) first."]
    lines = []
    for mode in HEADLINE:
        runs = [entry for entry in entries if entry["mode"] == mode][-last:]
        if not runs:
            continue
        lines.append(f"{mode} ({HEADLINE[mode]}), last {len(runs)} runs:")
        lines.append(f"  {'when':<25}  {'surface':<12}  {'value':>7}  {'change':>7}  detail")
        for number, entry in enumerate(runs):
            before = runs[number - 1] if number else None
            value = entry["headline"]
            change = f"{value - before['headline']:+.1%}" if before else ""
            surface = '"' if before and before["surface"] == entry["surface"] else entry["surface"]  # ditto
            lines.append(f"  {entry['at']:<25}  {surface:<12}  {value:>7.1%}  {change:>7}  {_detail(entry)}")
        lines.append("  trend: " + chart([entry["headline"] for entry in runs]))
        drop = _drop(runs)
        if drop:
            lines.append(f"  DROP: {drop}")
        lines.append("")
    return lines[:-1] if lines and lines[-1] == "" else lines


def chart(values):
    """One bar per value, from "▁" at the lowest shown to "█" at the highest (so a small drop shows), then the range."""
    low, high = min(values), max(values)
    if high - low < 1e-9:
        bars = BARS[-1] * len(values)
    else:
        bars = "".join(BARS[round((value - low) / (high - low) * (len(BARS) - 1))] for value in values)
    return f"{bars}  ({values[0]:.1%} -> {values[-1]:.1%}; bars from {low:.1%} to {high:.1%})"


def _detail(entry):
    figures = entry["figures"]
    if entry["mode"] == "select":
        flagged = ", ".join(figures.get("flagged", [])) or "none"
        return f"top-3 {figures['top3']:.1%}, {figures['ranked']} tasks, under 90 %: {flagged}"
    if entry["mode"] == "plan":
        return (
            f"{figures['passed']}/{figures['tasks']} tasks, {figures['refusals']}/{figures['refusal_tasks']} refusals"
        )
    return f"{figures['model']}, {figures['attempts']} attempts"


def _drop(runs):
    """A sentence when the last run's headline is below the run before's, else None."""
    if len(runs) < 2 or runs[-1]["headline"] >= runs[-2]["headline"]:
        return None
    before, after = runs[-2], runs[-1]
    surface = (
        f"; the surface changed ({before['surface']} -> {after['surface']})"
        if before["surface"] != after["surface"]
        else ""
    )
    return f"{before['headline']:.1%} -> {after['headline']:.1%} since the run before{surface}."
