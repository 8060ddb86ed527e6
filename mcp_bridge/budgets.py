"""Response budgets: no tool result is longer than MCP_BRIDGE['RESULT_MAX_CHARS'] characters.

A result too large for a client's context window is cut where a model can still use what it gets:
at a record boundary, never inside a JSON value. A search page keeps its first whole items and a
next_cursor that resumes right after the last one (model_tools.SearchTool); any other result loses
the tail of its largest list of records. A record too large on its own keeps every field, its
longest texts shortened, each ending with a marker saying how much was left out. A cut result says
so twice: in its structured content (`truncated`, `truncation`, declared optional in every object
output schema, see schemas.BUDGET_PROPERTIES) and in a sentence of text after the JSON.

What counts is the text a model reads: the JSON text content plus the sentences after it. The
structured content is the same data again, which a client gives the model instead, not as well.
"""

from .conf import mcp_settings
from .schemas import TRUNCATED, TRUNCATION
from .tools import json_text

#: The shortest budget a project may set (check mcp_bridge.E321): room for one shortened record and
#: the sentence that says what was cut.
MIN_RESULT_CHARS = 1_000
#: What ends a shortened text; {omitted} is how many characters were left out.
MARKER = " … [shortened: {omitted} more characters]"
#: At most this many shortened values are named in `truncation.shortened`.
MAX_SHORTENED_LISTED = 20
#: When a result must be cut, room kept for the admin's messages (message_user) after it.
MESSAGES_ROOM = 2_000
#: Top-level keys whose text is never shortened: a cut cursor would not resume.
PROTECTED_KEYS = frozenset({"next_cursor", TRUNCATION})


class TooLarge(Exception):
    """A result that cannot be brought within the budget at a record boundary or by shortening texts."""


def max_chars():
    return mcp_settings.RESULT_MAX_CHARS


def notice_of(data):
    """The sentence said after the JSON text of a cut result (its `truncation.hint`), or ''."""
    if isinstance(data, dict) and data.get(TRUNCATED) is True and isinstance(data.get(TRUNCATION), dict):
        return str(data[TRUNCATION].get("hint") or "")
    return ""


def result_chars(data):
    """The characters a model reads of *data*: its JSON text and, if it was cut, the notice after it."""
    return len(json_text(data)) + len(notice_of(data))


def marker(omitted):
    return MARKER.format(omitted=omitted)


def shorten_text(text, room):
    """*text* cut to at most *room* characters, ending with the marker ('' when not even that fits)."""
    if len(text) <= room:
        return text
    keep = room - len(marker(len(text)))
    return text[:keep] + marker(len(text) - keep) if keep > 0 else ""


def _shortened(value, cap, path, found, protected=()):
    """A copy of *value* whose strings longer than *cap* (and its marker) end at *cap* with the marker."""
    if isinstance(value, str):
        if len(value) > cap + len(marker(len(value))):
            found.append(path or "(the result)")
            return value[:cap] + marker(len(value) - cap)
        return value
    if isinstance(value, dict):
        return {
            key: inner if key in protected else _shortened(inner, cap, f"{path}.{key}" if path else key, found)
            for key, inner in value.items()
        }
    if isinstance(value, list):
        return [_shortened(inner, cap, f"{path}[{i}]", found) for i, inner in enumerate(value)]
    return value


def _longest_string(value):
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((_longest_string(inner) for inner in value.values()), default=0)
    if isinstance(value, list):
        return max((_longest_string(inner) for inner in value), default=0)
    return 0


def shorten_to_fit(value, fits, *, protected=()):
    """Return (value, shortened paths): every string cut to the longest common length with which `fits(...)`.

    Cutting every long text to one length takes the most from the longest, and keeps as much of
    each as the budget allows. Raise TooLarge if *value* does not fit even with its texts reduced to markers.
    """
    low, high = 0, _longest_string(value)
    best = None
    while low <= high:  # the largest cap that fits: the result grows with the cap
        cap = (low + high) // 2
        found = []
        candidate = _shortened(value, cap, "", found, protected)
        if fits(candidate, found):
            best, low = (candidate, found), cap + 1
        else:
            high = cap - 1
    if best is None:
        raise TooLarge
    return best


def truncation(*, list_path, returned, omitted, shortened, hint):
    """The `truncation` object of a cut result (schemas.BUDGET_PROPERTIES describes it)."""
    return {
        "max_chars": max_chars(),
        "list": list_path,
        "returned": returned,
        "omitted": omitted,
        "shortened": shortened[:MAX_SHORTENED_LISTED],
        "hint": hint,
    }


def _largest_prefix(n, fits_with):
    """The largest k in 0..n for which `fits_with(k)`, or -1: a result grows with the items it keeps."""
    low, high, best = 0, n, -1
    while low <= high:
        k = (low + high) // 2
        if fits_with(k):
            best, low = k, k + 1
        else:
            high = k - 1
    return best


# -- search pages ----------------------------------------------------------------------------------
def fit_page(page, *, room, resume_after, describe):
    """Return the search *page* ({'items': [...], 'next_cursor': ...}) within *room* characters.

    A page too long keeps its first whole items and `resume_after(k)`, the cursor of the item after
    the k-th, so the next call continues exactly there. If not even the first item fits, it is kept
    with its texts shortened. `describe(k, n, shortened, more)` is the sentence saying what was cut
    (*more*: whether a next_cursor follows).
    Raise TooLarge if the first item does not fit even so.
    """
    if result_chars(page) <= room:
        return page
    items, more_pages = page["items"], page["next_cursor"] is not None
    n = len(items)

    def cut(k, kept, shortened=()):
        rest = k < n or more_pages
        return {
            **page,
            "items": kept,
            "next_cursor": resume_after(k) if rest else None,
            TRUNCATED: True,
            TRUNCATION: truncation(
                list_path="items",
                returned=k,
                omitted=n - k,
                shortened=list(shortened),
                hint=describe(k, n, list(shortened), rest),
            ),
        }

    k = _largest_prefix(n, lambda k: result_chars(cut(k, items[:k])) <= room)
    if k >= 1:
        return cut(k, items[:k])
    # Not even one whole item fits: the first, with its longest texts shortened.
    first, shortened = shorten_to_fit(
        items[0], lambda item, found: result_chars(cut(1, [item], [f"items[0].{p}" for p in found])) <= room
    )
    return cut(1, [first], [f"items[0].{path}" for path in shortened])


# -- any other result ------------------------------------------------------------------------------
def _record_lists(value, path=()):
    """Yield (path, list) for every non-empty list of objects (records) in *value*."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not path and key in PROTECTED_KEYS:
                continue
            yield from _record_lists(inner, (*path, key))
    elif isinstance(value, list):
        if value and all(isinstance(inner, dict) for inner in value):
            yield path, value
        for i, inner in enumerate(value):
            yield from _record_lists(inner, (*path, i))


def dotted(path):
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the result)"


def _replaced(value, path, new):
    """A copy of *value* with the value at *path* replaced by *new* (only the containers on the way copied)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(value[head], rest, new)
    return copy


def _generic_hint(data, budget, list_path, returned, omitted, shortened):
    parts = [f"This result was cut to fit the {budget} characters a result may have:"]
    if list_path is not None:
        parts.append(
            f"{returned} of the {returned + omitted} records in `{list_path}` are returned, {omitted} left out."
        )
    if shortened:
        named = ", ".join(f"`{path}`" for path in shortened[:5]) + (" and others" if len(shortened) > 5 else "")
        parts.append(f"the text of {named} was shortened, each ending with a marker saying how much was left out.")
    if isinstance(data, dict) and isinstance(data.get("result_uri"), str):
        parts.append(f"Read the whole result from {data['result_uri']}.")
    else:
        parts.append("Ask for less in one call (narrower arguments, fewer ids) to get everything.")
    return " ".join(parts)


def fit_result(data, room):
    """Return (data, notice): *data* within *room* characters (JSON text plus notice), and what was cut.

    *data* is what a tool returned, decoded from its JSON text. A result a tool already cut itself
    (a search page with its own cursor) only has texts shortened further: its cursor stays exact.
    Raise TooLarge if nothing at a record boundary or shortening brings it within *room*.
    """
    if result_chars(data) <= room:
        return data, notice_of(data)
    if isinstance(data, str):
        hint = (
            f"This text was shortened to fit the {max_chars()} characters a result may have; ask for less in one call."
        )
        text = shorten_text(data, room - len(hint) - 1)
        if not text:
            raise TooLarge
        return text, hint
    is_object = isinstance(data, dict)
    budget = max_chars()
    if is_object and data.get(TRUNCATED) is True:
        # Cut by the tool already: keep its items and cursor, shorten texts within them.
        base = {k: v for k, v in data.items() if k not in (TRUNCATED, TRUNCATION)}
        earlier = data[TRUNCATION]

        def cut(value, shortened):
            return {
                **value,
                TRUNCATED: True,
                TRUNCATION: {**earlier, "shortened": (earlier.get("shortened") or []) + shortened},
            }

        value, shortened = shorten_to_fit(base, lambda v, s: result_chars(cut(v, s)) <= room, protected=PROTECTED_KEYS)
        value = cut(value, shortened)
        return value, notice_of(value)

    def wrap(value, list_path, returned, omitted, shortened):
        """*value* as cut: the keys saying so for an object, else the value, with the notice beside it."""
        hint = _generic_hint(data, budget, list_path, returned, omitted, shortened)
        if is_object:
            info = truncation(list_path=list_path, returned=returned, omitted=omitted, shortened=shortened, hint=hint)
            return {**value, TRUNCATED: True, TRUNCATION: info}, hint
        return value, hint

    def fits(cut):
        value, hint = cut
        return len(json_text(value)) + len(hint) <= room

    lists = sorted(_record_lists(data), key=lambda found: len(json_text(found[1])), reverse=True)
    if lists:
        path, records = lists[0]
        list_path, n = dotted(path), len(records)
        k = _largest_prefix(n, lambda k: fits(wrap(_replaced(data, path, records[:k]), list_path, k, n - k, [])))
        if k >= 1:
            return wrap(_replaced(data, path, records[:k]), list_path, k, n - k, [])
        data, returned, omitted = _replaced(data, path, records[:1]), 1, n - 1
    else:
        list_path = returned = omitted = None
    value, shortened = shorten_to_fit(
        data, lambda v, s: fits(wrap(v, list_path, returned, omitted, s)), protected=PROTECTED_KEYS if is_object else ()
    )
    return wrap(value, list_path, returned, omitted, shortened)


def fit_text_blocks(blocks, room):
    """Content blocks (the SDK's types) whose texts add up to at most *room* characters, in order."""
    fitted = []
    for block in blocks:
        text = getattr(block, "text", None)
        if isinstance(text, str):
            text = shorten_text(text, room)
            room -= len(text)
            if not text:
                continue
            block = block.model_copy(update={"text": text})
        fitted.append(block)
    return fitted


def too_large_message(budget):
    return (
        f"The result is larger than the {budget} characters a result may have (MCP_BRIDGE['RESULT_MAX_CHARS']) and "
        "cannot be cut at a record boundary. Ask for less in one call: narrower arguments, fewer ids or fields."
    )


# -- system checks (registered in checks.py) ---------------------------------------------------------
def check_budget(registry=None):
    """E321-E323: the size limit must leave room for a record, and the keys a cut result adds must be free."""
    from django.core import checks

    from .schemas import BUDGET_PROPERTIES

    budget = max_chars()
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_RESULT_CHARS:
        return [
            checks.Error(
                f"MCP_BRIDGE['RESULT_MAX_CHARS'] is {budget!r}; it must be a whole number of characters, at least "
                f"{MIN_RESULT_CHARS}.",
                hint="60000 (the default) suits clients that refuse results over 25,000 tokens; lower it for "
                "clients with a smaller limit, keeping room for one record.",
                id="mcp_bridge.E321",
            )
        ]
    errors = []
    inline = mcp_settings.JOB_INLINE_RESULT_CHARS
    if isinstance(inline, int) and inline >= budget:
        errors.append(
            checks.Error(
                f"MCP_BRIDGE['JOB_INLINE_RESULT_CHARS'] ({inline}) is not smaller than RESULT_MAX_CHARS ({budget}): "
                "a job status answer with its result inline would be cut.",
                hint="Lower JOB_INLINE_RESULT_CHARS (a larger result is a link to read it from) or raise "
                "RESULT_MAX_CHARS.",
                id="mcp_bridge.E323",
            )
        )
    for name, tool in sorted((registry.tools if registry is not None else {}).items()):
        properties = (tool.output_schema or {}).get("properties") if isinstance(tool.output_schema, dict) else None
        if not isinstance(properties, dict):
            continue
        taken = [key for key, schema in BUDGET_PROPERTIES.items() if key in properties and properties[key] != schema]
        if taken:
            errors.append(
                checks.Error(
                    f"Tool {name!r} has the result field(s) {', '.join(map(repr, taken))}, which a result cut to fit "
                    "MCP_BRIDGE['RESULT_MAX_CHARS'] uses to say what was left out.",
                    hint="Rename the field in the tool's output serializer (or leave it out of mcp_fields).",
                    obj=registry.tool_owners.get(name),
                    id="mcp_bridge.E322",
                )
            )
    return errors
