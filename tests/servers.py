"""Real server processes for tests: uvicorn serving config.asgi, and `manage.py runmcp`."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from django.contrib.auth.hashers import make_password
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_env():
    """Environment that points a child process at the test database this run created."""
    env = dict(os.environ)
    settings = connection.settings_dict
    if settings["ENGINE"] == "django.db.backends.sqlite3":
        env["SQLITE_PATH"] = str(settings["NAME"])
        env.pop("DATABASE_URL", None)
    else:
        user = settings.get("USER") or ""
        password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        env["DATABASE_URL"] = (
            f"postgres://{auth}{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/{settings['NAME']}"
        )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(process, port, log, timeout=30):
    """Wait until the uvicorn *process* answers on *port*; return its base URL (its *log* if it exits)."""
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"uvicorn exited with {process.returncode}:\n{log.read()}")
        try:
            httpx2.get(f"{base_url}/admin/login/", timeout=1)
            return base_url
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start in time") from None
            time.sleep(0.1)


def server_password(password):
    """The hash of *password* that a server process accepts: it hashes with the project's own hashers
    (Django's default, PBKDF2), not the fast one this test process uses (conftest.fast_password_hashing)."""
    return make_password(password, hasher="pbkdf2_sha256")


@contextlib.contextmanager
def uvicorn_server(extra_env=None, timeout=30):
    """Start uvicorn on a free loopback port; yield the base URL; stop it afterwards."""
    port = free_port()
    env = {**test_database_env(), **(extra_env or {})}
    log = open(Path(os.environ.get("VAR_DIR", ROOT / "var")) / f"uvicorn-{port}.log", "w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--timeout-graceful-shutdown",
            "3",
            # Tests keep one client connection open while they wait for workers and expiries; uvicorn's
            # 5 s default would close it just as the next request goes out on it.
            "--timeout-keep-alive",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield wait_until_serving(process, port, log, timeout)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
