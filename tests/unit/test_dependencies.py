"""pyproject.toml declares what mcp_bridge imports, and the requirements files pin each of it inside its range."""

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared(requirements):
    return {canonicalize_name(requirement.name): requirement for requirement in map(Requirement, requirements)}


DEPENDENCIES = declared(PROJECT["dependencies"])
EXTRAS = declared(line for extra in PROJECT["optional-dependencies"].values() for line in extra)


def guarded_by_import_error(node, parents):
    """True if *node* sits in the body of a `try` that catches ImportError: an optional import by design."""
    child = node
    while child in parents:
        parent = parents[child]
        if (
            isinstance(parent, ast.Try)
            and child in parent.body
            and any(
                isinstance(handler.type, ast.Name) and handler.type.id in {"ImportError", "ModuleNotFoundError"}
                for handler in parent.handlers
            )
        ):
            return True
        child = parent
    return False


def third_party_imports():
    """Yield (top-level module, where, at module level?) for each import in mcp_bridge/ not guarded by ImportError."""
    for path in sorted((ROOT / "mcp_bridge").rglob("*.py")):
        tree = ast.parse(path.read_text())
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top in sys.stdlib_module_names or top == "mcp_bridge" or guarded_by_import_error(node, parents):
                    continue
                yield top, f"{path.relative_to(ROOT)}:{node.lineno}", parents[node] is tree


PROVIDERS = importlib.metadata.packages_distributions()  # {top-level module: [distribution, ...]}


def distributions(module):
    """Return the canonical names of the installed distributions that provide *module*."""
    return {canonicalize_name(name) for name in PROVIDERS.get(module, ())}


#: Modules only an extra's own machinery imports, whose module-level imports may therefore come from an extra:
#: Celery's autodiscover_tasks finds mcp_bridge/tasks.py, and mcp_bridge/oauth/ is imported only when
#: django-oauth-toolkit is installed (apps.py) or a setting names one of its modules.
EXTRA_ONLY_MODULES = ("mcp_bridge/tasks.py", "mcp_bridge/oauth/")


def test_every_import_of_mcp_bridge_is_declared():
    undeclared = []
    for module, where, at_module_level in third_party_imports():
        # A module-level import happens for every user; one inside a function may come from an extra.
        for_everyone = at_module_level and not where.partition(":")[0].startswith(EXTRA_ONLY_MODULES)
        allowed = DEPENDENCIES.keys() if for_everyone else DEPENDENCIES.keys() | EXTRAS.keys()
        if not distributions(module) & allowed:
            undeclared.append(
                f"{where} imports {module} ({', '.join(sorted(distributions(module))) or 'not installed'})"
            )
    assert undeclared == []


def requirement_lines(path):
    """The lines of the requirements file *path*, with the files it includes (-r) in their place."""
    for line in path.read_text().splitlines():
        words = line.split()
        if words[:1] == ["-r"]:
            yield from requirement_lines(path.parent / words[1])
        else:
            yield line


def test_requirements_pin_every_dependency_inside_its_declared_range():
    # requirements-dev.txt is requirements.txt (the demo's pins) plus what only the tests need, such as the
    # eval extra's model (`mcp_eval select` in CI; a demo installs it on demand).
    pins = {}
    for line in requirement_lines(ROOT / "requirements-dev.txt"):
        text = line.partition("#")[0].strip()
        if text and not text.startswith("-"):
            requirement = Requirement(text)
            pins[canonicalize_name(requirement.name)] = requirement
    problems = []
    for name, requirement in {**DEPENDENCIES, **EXTRAS}.items():
        if name not in pins:
            problems.append(f"{requirement} is not pinned")
            continue
        [pin] = pins[name].specifier
        if pin.operator != "==" or not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{pins[name]} is outside {requirement}")
    assert problems == []
