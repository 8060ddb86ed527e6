"""Real Celery worker processes for tests: `celery -A config worker` (prefork) on the test database.

The worker reads the same settings as the test process, so it uses the broker the run is configured
with: CELERY_BROKER_URL when set (Redis in CI's PostgreSQL pass), else the embedded filesystem broker
under VAR_DIR. Tests that use a worker need `@pytest.mark.django_db(transaction=True,
serialized_rollback=True)` (the worker only sees committed rows, and on SQLite an open test transaction
would block its writes; the rollback restores content types and permissions for the tests after it) and
`@pytest.mark.subprocess`.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from kombu import Connection

from tasks import transport

from .servers import ROOT, test_database_env


def broker_is_embedded():
    """Whether this run's broker is the embedded filesystem one (no CELERY_BROKER_URL)."""
    return getattr(settings, "CELERY_BROKER_TRANSPORT", None) == transport.TRANSPORT


def embedded_broker_connection():
    """A kombu connection to the embedded broker under VAR_DIR, whatever CELERY_BROKER_URL says.

    A worker started with `extra_env={"CELERY_BROKER_URL": "filesystem://"}` consumes from it.
    """
    options = transport.transport_options(Path(settings.VAR_DIR) / "celery-broker")
    return Connection("filesystem://localhost/", transport=transport.TRANSPORT, transport_options=options)


def process_stats():
    """Yield (pid, state, parent pid, process group, start time) for every process, from /proc/<pid>/stat."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        # "pid (comm) state ppid pgrp ... starttime ...": comm may contain spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        yield int(entry.name), fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def process_children(pid):
    """Return the ids of *pid*'s live child processes, oldest first.

    Read from /proc/<child>/stat: /proc/<pid>/task/*/children needs a kernel option not every
    kernel has.
    """
    children = [(start, child) for child, state, parent, _, start in process_stats() if parent == pid and state != "Z"]
    return [child for _, child in sorted(children)]


def live_processes_in_group(group):
    """The ids of the processes of process *group* that still run (zombies are dead, if not yet reaped)."""
    return [pid for pid, state, _, pgrp, _ in process_stats() if pgrp == group and state != "Z"]


class WorkerProcess:
    """A running `celery worker` (and, if asked for, `celery beat`) in a process group of its own."""

    def __init__(self, name, process, log_path, beat=None, beat_log_path=None):
        self.name = name
        self.process = process
        self.log_path = log_path
        self.beat = beat
        self.beat_log_path = beat_log_path

    def __repr__(self):
        return f"<WorkerProcess {self.nodename} pid={self.pid}>"

    @property
    def pid(self):
        """The worker's main process id (also its process group id)."""
        return self.process.pid

    @property
    def nodename(self):
        """The worker's node name, as tasks see it in `self.request.hostname`: '<name>@<host>'."""
        return f"{self.name}@{socket.gethostname()}"

    def child_pids(self):
        """The pool processes running tasks, oldest first."""
        return process_children(self.pid)

    def kill_child(self):
        """SIGKILL one pool process (as the OOM killer would); return its id. The worker replaces it.

        Kill one that is running a task. On a broker without an event loop (the embedded one) the
        pool's processes share one pipe and an idle one waits for work holding its lock: killed
        then, it takes the lock along and the worker runs nothing more (celery/billiard#104).
        """
        pid = self.child_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self, timeout=10):
        """SIGKILL the worker, its pool processes and beat at once: a crash with no shutdown at all.

        Return once every process of the group has died.
        """
        self._signal_group(signal.SIGKILL)
        for process in self.processes():
            process.wait()
        deadline = time.monotonic() + timeout
        while live_processes_in_group(self.pid):  # pool processes die a moment after the signal
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {live_processes_in_group(self.pid)} survived SIGKILL")
            time.sleep(0.02)

    def stop(self, timeout=20):
        """Stop warmly: SIGTERM, wait for running tasks to end, then SIGKILL what is left of the group."""
        for process in self.processes():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in self.processes():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
        self.kill()  # what is left, pool processes of a killed worker too

    def processes(self):
        return [process for process in (self.process, self.beat) if process is not None]

    def log_text(self):
        """What the worker has logged so far."""
        return self.log_path.read_text(errors="replace")

    def beat_log_text(self):
        """What beat has logged so far."""
        return self.beat_log_path.read_text(errors="replace")

    def wait_for_log(self, text, timeout=30, beat=False):
        """Wait until *text* appears in the worker's (or beat's) log; fail with the log if it exits first."""
        process, read = (self.beat, self.beat_log_text) if beat else (self.process, self.log_text)
        deadline = time.monotonic() + timeout
        while text not in read():
            if process.poll() is not None:
                raise RuntimeError(f"celery exited with {process.returncode} before logging {text!r}:\n{read()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"celery did not log {text!r} within {timeout} s:\n{read()}")
            time.sleep(0.05)

    def _signal_group(self, signum):
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            pass


def worker_env(extra_env=None):
    """Environment for a Celery process on this run's test database, settings and broker."""
    env = test_database_env()
    env["VAR_DIR"] = str(settings.VAR_DIR)
    # Celery closes the database connection after every task in a prefork pool process, so a
    # connection pool there would only open and close connections (see config.settings).
    env["DATABASE_POOL"] = "0"
    env.update(extra_env or {})
    return env


@contextlib.contextmanager
def celery_worker(
    queues=("celery", "mcp_reports"), concurrency=1, name="w1", extra_env=None, beat=False, extra_args=(), timeout=60
):
    """Start a prefork worker consuming *queues*; yield a `WorkerProcess` once it is ready; stop it afterwards.

    The worker logs to VAR_DIR/celery-<name>.log (beat, when *beat* is true, to celery-<name>-beat.log,
    with its own schedule file). *extra_args* go to `celery worker` (e.g. "--prefetch-multiplier", "20").
    """
    var_dir = Path(settings.VAR_DIR)
    env = worker_env(extra_env)
    log_path = var_dir / f"celery-{name}.log"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-Q", ",".join(queues)]
    command += ["-c", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO", *extra_args]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0)
    worker = WorkerProcess(name, process, log_path)
    try:
        if beat:
            worker.beat_log_path = var_dir / f"celery-{name}-beat.log"
            schedule = var_dir / f"celerybeat-schedule-{name}"
            for stale in var_dir.glob(f"{schedule.name}*"):
                stale.unlink()
            with open(worker.beat_log_path, "w") as log:
                worker.beat = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "config", "beat", "--schedule", str(schedule)]
                    + ["--loglevel", "INFO"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    process_group=process.pid,  # killed with the worker
                )
        worker.wait_for_log(f"{worker.nodename} ready.", timeout)
        if beat:
            worker.wait_for_log("beat: Starting...", timeout, beat=True)
        yield worker
    finally:
        worker.stop()
