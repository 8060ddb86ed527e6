"""Print a requirements file with mcp_bridge's dependencies at the lowest versions pyproject.toml declares.

    python .ci/lowest.py requirements-dev.txt > lowest.txt

The file named (and the files it includes with -r) comes out flattened, with every pin of a declared
dependency (extras included) replaced by that dependency's lower bound; a dependency declared without
one is left to the resolver. `make test-lowest` installs the result and runs the fast tests on it, so
each lower bound in pyproject.toml is a version the tests have run on.
"""

import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def declared_dependencies():
    """Return {canonical name: Requirement} for the dependencies and extras of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [
        line for extra in project.get("optional-dependencies", {}).values() for line in extra
    ]
    return {canonicalize_name(requirement.name): requirement for requirement in map(Requirement, lines)}


def lower_bound(requirement):
    """Return the lowest version *requirement* allows ('>=', '~=' or '=='), or None if it sets none."""
    bounds = [spec.version for spec in requirement.specifier if spec.operator in {">=", "~=", "=="}]
    if len(bounds) > 1:
        raise SystemExit(f"{requirement} has more than one lower bound.")
    return bounds[0] if bounds else None


def requirement_lines(path):
    """Yield the lines of the requirements file *path*, with the files it includes (-r) in their place."""
    for line in path.read_text().splitlines():
        words = line.split()
        if words[:1] in (["-r"], ["--requirement"]):
            yield from requirement_lines(path.parent / words[1])
        else:
            yield line


def lowest(path):
    declared = declared_dependencies()
    for line in requirement_lines(path):
        text = line.split("#", 1)[0].strip()
        try:
            requirement = Requirement(text)
        except InvalidRequirement:  # options (-e .), comments, blank lines
            yield line
            continue
        declared_requirement = declared.get(canonicalize_name(requirement.name))
        if declared_requirement is None:
            yield line
            continue
        bound = lower_bound(declared_requirement)
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        yield f"{requirement.name}{extras}=={bound}" if bound else f"{requirement.name}{extras}"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print("\n".join(lowest(Path(sys.argv[1]))))
