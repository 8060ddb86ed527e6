"""gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py config.asgi:application`."""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
# UvicornWorker runs uvicorn with loop and http "auto": uvloop and httptools, which uvicorn[standard]
# (requirements.txt) installs, else asyncio and h11.
worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
# Open SSE streams would otherwise hold a worker's shutdown forever.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", 10))
timeout = int(os.environ.get("WORKER_TIMEOUT", 60))
keepalive = 5
accesslog = "-"
raw_env = [f"DJANGO_SETTINGS_MODULE={os.environ.get('DJANGO_SETTINGS_MODULE', 'config.production')}"]


# Prometheus metrics across workers (docs/observability.md): with PROMETHEUS_MULTIPROC_DIR set in the
# environment gunicorn starts with, every worker writes its metrics to files there and a scrape of
# /mcp/metrics sums them. The directory must start empty (values of an earlier run would be summed in)
# and a worker that exits must be marked dead (its live gauges dropped).
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
