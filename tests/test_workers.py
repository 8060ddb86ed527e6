"""Real Celery workers (prefork processes) on the test database and this run's broker.

On SQLite runs that is the embedded filesystem broker; with CELERY_BROKER_URL set (Redis in CI's
PostgreSQL pass) the worker tests run on that broker, and the message-loss test runs on both.
"""

import json
import os
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django_celery_results.models import TaskResult

from config.celery import app
from tasks.tasks import ping, whoami

from .workers import broker_is_embedded, celery_worker, embedded_broker_connection, process_stats


def uses_workers(test):
    """Mark *test* as starting worker processes, which see only committed rows."""
    return pytest.mark.subprocess(pytest.mark.django_db(transaction=True, serialized_rollback=True)(test))


def test_tasks_are_routed_to_their_queues():
    """Report jobs go to the reports queue; everything else, the sweep included, to the default one."""
    router = app.amqp.router
    assert router.route({}, "mcp_bridge.run_job")["queue"].name == "mcp_reports"
    assert router.route({}, "mcp_bridge.sweep_jobs")["queue"].name == "celery"
    assert router.route({}, "tasks.ping")["queue"].name == "celery"


@uses_workers
def test_ping_round_trip():
    with celery_worker() as worker:
        result = ping.delay()
        assert result.get(timeout=20, interval=0.05) == "pong"
    stored = TaskResult.objects.get(task_id=result.id)
    assert (stored.status, stored.task_name, stored.worker) == ("SUCCESS", "tasks.ping", worker.nodename)


@uses_workers
def test_two_worker_processes_share_the_load():
    with celery_worker(name="w1") as first, celery_worker(name="w2") as second:
        results = [whoami.delay() for _ in range(20)]
        answers = [result.get(timeout=30, interval=0.05) for result in results]
        pool_pids = set(first.child_pids() + second.child_pids())
    assert {answer["worker"] for answer in answers} == {first.nodename, second.nodename}
    assert {answer["pid"] for answer in answers} <= pool_pids


@uses_workers
def test_a_task_whose_pool_process_dies_runs_again_and_kill_ends_every_process():
    """acks_late + reject_on_worker_lost: the task goes back to the queue and a new pool process runs it."""
    with celery_worker() as worker:
        result = whoami.delay(hold=2)
        deadline = time.monotonic() + 20
        while not TaskResult.objects.filter(task_id=result.id, status="STARTED").exists():
            assert time.monotonic() < deadline, worker.log_text()
            time.sleep(0.05)
        killed = worker.kill_child()
        answer = result.get(timeout=40, interval=0.05)
        assert answer["worker"] == worker.nodename
        assert answer["pid"] in worker.child_pids()
        assert answer["pid"] != killed
        processes = [worker.pid, *worker.child_pids()]
        worker.kill()
        assert [pid for pid, state, *_ in process_stats() if pid in processes and state != "Z"] == []


@uses_workers
def test_beat_sends_the_job_sweep_to_the_default_queue():
    with celery_worker(queues=("celery",), beat=True, extra_env={"JOB_SWEEP_INTERVAL": "0.5"}) as worker:
        worker.wait_for_log("Sending due task mcp-bridge-sweep-jobs (mcp_bridge.sweep_jobs)", beat=True)
        worker.wait_for_log("mcp_bridge.sweep_jobs")


def broker_kinds():
    """The embedded broker always, and the configured one when it is another (Redis in CI)."""
    return ["embedded"] if broker_is_embedded() else ["embedded", urlsplit(settings.CELERY_BROKER_URL).scheme]


class MessageFileWatcher(threading.Thread):
    """Read every message file that appears in the embedded broker's folder, as fast as it can.

    A consumer takes whatever `<name>.msg` file it lists; this records each one that, when read,
    was not a whole message (kombu's own transport creates the file before writing it).
    """

    def __init__(self, folder):
        super().__init__(daemon=True)
        self.folder = folder
        self.finished = threading.Event()
        self.files_read = 0
        self.torn = []

    def run(self):
        while not self.finished.is_set():
            for name in os.listdir(self.folder):
                if not name.endswith(".msg"):
                    continue
                try:
                    with open(os.path.join(self.folder, name), "rb") as file:
                        content = file.read()
                except FileNotFoundError:
                    continue  # consumed meanwhile
                self.files_read += 1
                try:
                    json.loads(content)
                except ValueError:
                    self.torn.append((name, content))


@uses_workers
@pytest.mark.parametrize("broker", broker_kinds())
def test_no_message_is_lost_while_a_worker_consumes(broker):
    """500 publishes from 2 threads while the worker takes messages: each task runs exactly once."""
    if broker == "embedded":
        connection, worker_env = embedded_broker_connection(), {"CELERY_BROKER_URL": "filesystem://"}
    else:
        connection, worker_env = app.connection_for_write(), {}
    sent = []

    def publish(count):
        with connection.clone() as own_connection:  # kombu connections are not shared between threads
            for _ in range(count):
                sent.append(ping.apply_async(connection=own_connection).id)

    watcher = MessageFileWatcher(connection.transport_options["data_folder_in"]) if broker == "embedded" else None
    if watcher is not None:
        watcher.start()
    try:
        # Prefetching lets the worker take a batch per poll of the folder, so 500 tasks take seconds.
        with celery_worker(concurrency=2, extra_env=worker_env, extra_args=("--prefetch-multiplier", "25")) as worker:
            with ThreadPoolExecutor(2) as pool:
                for future in [pool.submit(publish, 250), pool.submit(publish, 250)]:
                    future.result()
            deadline = time.monotonic() + 120
            while TaskResult.objects.filter(task_id__in=sent, status="SUCCESS").count() < len(sent):
                assert time.monotonic() < deadline, worker.log_text()[-5000:]
                time.sleep(0.2)
            log = worker.log_text()
    finally:
        if watcher is not None:
            watcher.finished.set()
            watcher.join()
    if watcher is not None:
        assert watcher.torn == []
        assert watcher.files_read > 0
    assert len(set(sent)) == 500
    succeeded = Counter(re.findall(r"Task tasks\.ping\[([0-9a-f-]+)\] succeeded", log))
    assert {task_id: succeeded[task_id] for task_id in sent} == dict.fromkeys(sent, 1)
