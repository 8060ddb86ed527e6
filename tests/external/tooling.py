"""The pinned Node tooling in tests/external: installed with `npm ci` on first use, run on Node 22.

package.json pins the MCP conformance suite (0.1.16, and 0.2.0-alpha.12 as `conformance-next`), the
MCP Inspector 2.12.0, the TypeScript SDK 1.32.2, undici 7 and Node 22 itself (the npm package
`node`): the suite needs `fs.globSync` and the Inspector node >= 22.19, while CI machines may
have an older system node. npm is only needed to install.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

EXTERNAL = Path(__file__).resolve().parent
NODE_MODULES = EXTERNAL / "node_modules"
NODE = NODE_MODULES / "node" / "bin" / "node"
CONFORMANCE = NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
CONFORMANCE_NEXT = NODE_MODULES / "conformance-next" / "dist" / "index.js"
INSPECTOR = NODE_MODULES / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
INJECT_AUTH = EXTERNAL / "inject-auth.mjs"
TS_CLIENT = EXTERNAL / "ts_client.mjs"
BASELINE = EXTERNAL / "conformance-baseline.yml"
BASELINE_2026 = EXTERNAL / "conformance-baseline-2026-07-28.yml"

LOCKFILE = EXTERNAL / "package-lock.json"
STAMP = NODE_MODULES / ".mcp-bridge-installed"  # sha256 of the package-lock.json installed
INSTALL_TIMEOUT = 600


def _lock_digest():
    return hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()


def is_installed():
    return NODE.exists() and STAMP.exists() and STAMP.read_text().strip() == _lock_digest()


@contextlib.contextmanager
def _install_lock():
    # Several pytest runs may share one checkout; only one of them may run npm ci at a time.
    path = (
        Path(tempfile.gettempdir()) / f"mcp-bridge-npm-{hashlib.sha256(str(EXTERNAL).encode()).hexdigest()[:16]}.lock"
    )
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install():
    """Run `npm ci` unless node_modules already holds exactly package-lock.json; return Node 22's path.

    Raise RuntimeError with npm's output when that fails (no npm, no registry).
    """
    if is_installed():
        return NODE
    with _install_lock():
        if is_installed():  # another run installed it while we waited
            return NODE
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "npm is not installed: the external-client tests need it once, to install tests/external."
            )
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel", "error"],
            cwd=EXTERNAL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
        if result.returncode != 0 or not NODE.exists():
            raise RuntimeError(f"npm ci in {EXTERNAL} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        STAMP.write_text(_lock_digest())
    return NODE


def require():
    """Return Node 22's path; raise RuntimeError saying how to install the tooling if it is missing.

    Tests never install anything: `make install` (run by `make test`) does, through `install()`.
    """
    if not is_installed():
        raise RuntimeError(
            f"The pinned Node tooling in {EXTERNAL} is missing or out of date: run `make install` "
            "(it runs `npm ci` there) before the tests."
        )
    return NODE


def node_env(**extra):
    """Environment for Node children: Node 22 first on PATH (for `#!/usr/bin/env node` children)."""
    env = dict(os.environ)
    env["PATH"] = f"{NODE.parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({key: str(value) for key, value in extra.items()})
    return env


def run_node(args, *, env=None, timeout=120, cwd=EXTERNAL):
    """Run Node 22 with *args*; return the CompletedProcess (text output, never raises on exit code)."""
    return subprocess.run(
        [str(NODE), *map(str, args)], cwd=cwd, env=env or node_env(), capture_output=True, text=True, timeout=timeout
    )


def last_json_line(output):
    """Parse the last non-empty line of *output* as JSON (tools print one JSON document last)."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        raise AssertionError("no output")
    return json.loads(lines[-1])


if __name__ == "__main__":  # `python -m tests.external.tooling`, run by `make install`
    print(install())
