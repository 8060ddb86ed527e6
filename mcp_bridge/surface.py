"""The tool surface as data: snapshots for semver checks, example values for docs."""

import copy
import hashlib
import json

MAJOR, MINOR, PATCH = "major", "minor", "patch"
_RANK = {None: 0, PATCH: 1, MINOR: 2, MAJOR: 3}


def tool_entry(tool):
    return {
        "title": tool.title,
        "description": tool.description,
        "input_schema": tool.input_schema,
        "output_schema": tool.output_schema,
        "annotations": {"read_only": tool.read_only, "destructive": tool.destructive, "idempotent": tool.idempotent},
    }


def snapshot(registry):
    """Return a JSON-able description of everything a client can depend on."""
    return {
        "tools": {name: tool_entry(tool) for name, tool in sorted(registry.tools.items())},
        "resource_templates": sorted(t.uri_template for t in registry.resource_templates),
        "prompts": {
            name: {"description": p.description, "arguments": p.arguments}
            for name, p in sorted(registry.prompts.items())
        },
    }


def _types(schema):
    kind = (schema or {}).get("type")
    if kind is None:
        return None
    return set(kind) if isinstance(kind, list) else {kind}


def _compare_property(where, old, new, changes, *, is_input):
    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        narrowed = old_types is None or (new_types is not None and not old_types <= new_types)
        widened_output = not is_input and new_types is not None and old_types is not None and not new_types <= old_types
        kind = MAJOR if (narrowed if is_input else widened_output or narrowed) else MINOR
        changes.append((kind, f"{where}: type {sorted(old_types or [])} -> {sorted(new_types or [])}"))
    old_enum, new_enum = old.get("enum"), new.get("enum")
    if old_enum != new_enum:
        if old_enum is None or new_enum is None:
            changes.append((MAJOR if is_input and new_enum is not None else MINOR, f"{where}: enum constraint changed"))
        else:
            removed = [v for v in old_enum if v not in new_enum]
            added = [v for v in new_enum if v not in old_enum]
            if removed:
                changes.append((MAJOR if is_input else MINOR, f"{where}: enum values removed {removed}"))
            if added:
                changes.append((MINOR if is_input else MAJOR, f"{where}: enum values added {added}"))
    for bound in ("maximum", "maxLength", "maxItems"):
        if is_input and new.get(bound) is not None and (old.get(bound) is None or new[bound] < old[bound]):
            changes.append((MAJOR, f"{where}: {bound} narrowed to {new[bound]}"))
    for bound in ("minimum", "minLength", "minItems"):
        if is_input and new.get(bound) is not None and (old.get(bound) is None or new[bound] > old[bound]):
            changes.append((MAJOR, f"{where}: {bound} narrowed to {new[bound]}"))
    if old.get("description") != new.get("description"):
        changes.append((PATCH, f"{where}: description changed"))
    old_items, new_items = old.get("items") or {}, new.get("items") or {}
    if "properties" in old_items or "properties" in new_items:
        _compare_object(f"{where}[]", old_items, new_items, changes, is_input=is_input)


def _compare_object(where, old, new, changes, *, is_input):
    old = old or {}
    new = new or {}
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in old_props:
        if name not in new_props:
            changes.append((MAJOR, f"{where}: {'parameter' if is_input else 'result field'} '{name}' removed"))
    for name, schema in new_props.items():
        if name not in old_props:
            if is_input:
                required = name in new_required
                changes.append(
                    (
                        MAJOR if required else MINOR,
                        f"{where}: {'required' if required else 'optional'} parameter '{name}' added",
                    )
                )
            else:
                changes.append((MINOR, f"{where}: result field '{name}' added"))
            continue
        _compare_property(f"{where}.{name}", old_props[name], schema, changes, is_input=is_input)
    if is_input:
        for name in (new_required - old_required) & set(old_props):
            changes.append((MAJOR, f"{where}: parameter '{name}' became required"))
        for name in (old_required - new_required) & set(new_props):
            changes.append((MINOR, f"{where}: parameter '{name}' became optional"))
    else:
        for name in (old_required - new_required) & set(new_props):
            changes.append((MAJOR, f"{where}: result field '{name}' is no longer always present"))


def diff(old, new):
    """Return [(level, message)] describing how the surface *new* differs from *old*."""
    changes = []
    old_tools, new_tools = old.get("tools", {}), new.get("tools", {})
    for name in old_tools:
        if name not in new_tools:
            changes.append((MAJOR, f"tool '{name}' removed"))
    for name, entry in new_tools.items():
        if name not in old_tools:
            changes.append((MINOR, f"tool '{name}' added"))
            continue
        before = old_tools[name]
        _compare_object(f"{name} input", before["input_schema"], entry["input_schema"], changes, is_input=True)
        _compare_object(
            f"{name} output", before.get("output_schema"), entry.get("output_schema"), changes, is_input=False
        )
        if before["description"] != entry["description"] or before.get("title") != entry.get("title"):
            changes.append((PATCH, f"{name}: description or title changed"))
        if before["annotations"] != entry["annotations"]:
            changes.append(
                (
                    MAJOR if before["annotations"]["read_only"] and not entry["annotations"]["read_only"] else MINOR,
                    f"{name}: annotations {before['annotations']} -> {entry['annotations']}",
                )
            )
    old_templates, new_templates = set(old.get("resource_templates", [])), set(new.get("resource_templates", []))
    changes += [(MAJOR, f"resource template '{u}' removed") for u in sorted(old_templates - new_templates)]
    changes += [(MINOR, f"resource template '{u}' added") for u in sorted(new_templates - old_templates)]
    old_prompts, new_prompts = old.get("prompts", {}), new.get("prompts", {})
    changes += [(MAJOR, f"prompt '{p}' removed") for p in sorted(set(old_prompts) - set(new_prompts))]
    changes += [(MINOR, f"prompt '{p}' added") for p in sorted(set(new_prompts) - set(old_prompts))]
    for name in set(old_prompts) & set(new_prompts):
        if old_prompts[name] != new_prompts[name]:
            old_args = {a["name"]: a for a in old_prompts[name]["arguments"]}
            new_args = {a["name"]: a for a in new_prompts[name]["arguments"]}
            breaking = set(old_args) - set(new_args) or any(
                a["required"] and (n not in old_args or not old_args[n]["required"]) for n, a in new_args.items()
            )
            changes.append(
                (MAJOR if breaking else MINOR if old_args != new_args else PATCH, f"prompt '{name}' changed")
            )
    return changes


def release_level(changes):
    """The semver bump the changes call for: 'major', 'minor', 'patch' or None."""
    level = None
    for kind, _ in changes:
        if _RANK[kind] > _RANK[level]:
            level = kind
    return level


def example_value(schema, name=""):
    """A plausible example value for *schema* (used in generated docs)."""
    schema = schema or {}
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if schema.get("enum"):
        return next((v for v in schema["enum"] if v is not None), None)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        required = schema.get("required", list(props))
        return {k: example_value(v, k) for k, v in props.items() if k in required}
    if kind == "array":
        return [example_value(schema.get("items"), name)]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 12.5
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "date-time" or name.endswith(("_after", "_before")) or name == "created":
        return "2026-01-31T09:30:00Z" if fmt == "date-time" else "2026-01-31"
    if name.endswith("_month"):
        return "2026-01"
    if fmt == "email" or name == "email":
        return "jane.doe@example.com"
    if fmt == "decimal":
        return "42.00"
    if name == "query":
        return "acme"
    if name == "cursor":
        return None
    return name.replace("_", " ") or "text"


def dumps(data):
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def surface_version(registry):
    """A short digest of the snapshot: equal while what clients see is unchanged (`mcp_schema` prints it)."""
    return hashlib.sha256(dumps(snapshot(registry)).encode()).hexdigest()[:12]
