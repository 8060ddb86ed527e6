#!/usr/bin/env python
"""Which thread pool runs the units of work: `concurrent.futures.ThreadPoolExecutor` or a hand-written one?

    .venv/bin/python bench/executor.py [--calls 20000] [--workers 64] [--concurrency 16]

For each executor, at max_workers = --workers, it measures what an MCP request pays for its one thread
hop, `await sync_to_async(fn, thread_sensitive=False, executor=X)()` with a trivial `fn`:
- the per-call overhead of N sequential calls (median of --rounds rounds, µs per call);
- the per-call overhead of N calls made by --concurrency tasks at once;
- the number of threads the executor started after the sequential calls and after the concurrent ones
  (a pool that grows past the concurrency it served keeps idle threads, and their database connections
  when CONN_MAX_AGE > 0).

`HandWrittenPool` is the pool mcp_bridge used before (server.WorkerThreads), kept here only for this
comparison: it counts a thread as idle *before* its result wakes the caller.
"""

import argparse
import asyncio
import queue
import statistics
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from asgiref.sync import sync_to_async


class HandWrittenPool(Executor):
    """The former mcp_bridge WorkerThreads: daemon threads, started only when none is idle."""

    def __init__(self, max_workers):
        self.max_workers = max_workers
        self.jobs = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.threads = 0
        self.idle = 0

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        with self.lock:
            if self.idle:
                self.idle -= 1
            elif self.threads < self.max_workers:
                self.threads += 1
                threading.Thread(target=self.work, name=f"hand_written_{self.threads}", daemon=True).start()
        self.jobs.put((future, fn, args, kwargs))
        return future

    def work(self):
        while True:
            future, fn, args, kwargs = self.jobs.get()
            if not future.set_running_or_notify_cancel():
                with self.lock:
                    self.idle += 1
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                with self.lock:
                    self.idle += 1
                future.set_exception(exc)
            else:
                with self.lock:
                    self.idle += 1
                future.set_result(result)


def unit():
    return 1


async def sequential(executor, calls):
    hop = sync_to_async(unit, thread_sensitive=False, executor=executor)
    started = time.perf_counter()
    for _ in range(calls):
        await hop()
    return (time.perf_counter() - started) / calls * 1e6


async def concurrent(executor, calls, concurrency):
    hop = sync_to_async(unit, thread_sensitive=False, executor=executor)

    async def caller():
        for _ in range(calls // concurrency):
            await hop()

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return (time.perf_counter() - started) / (calls // concurrency * concurrency) * 1e6


def threads_started(executor):
    prefix = "thread_pool_executor" if isinstance(executor, ThreadPoolExecutor) else "hand_written"
    return sum(thread.name.startswith(prefix) for thread in threading.enumerate())


async def measure(candidates, calls, concurrency, rounds):
    """{name: (µs sequential, µs concurrent, threads after sequential, threads after concurrent)}.

    The rounds of the executors are interleaved, so that they share the machine's noise alike.
    """
    executors = {name: make() for name, make in candidates.items()}
    for executor in executors.values():
        await sequential(executor, 1000)  # warm-up
    seq = {name: [] for name in executors}
    conc = {name: [] for name in executors}
    for _ in range(rounds):
        for name, executor in executors.items():
            seq[name].append(await sequential(executor, calls))
    after_sequential = {name: threads_started(executor) for name, executor in executors.items()}
    for _ in range(rounds):
        for name, executor in executors.items():
            conc[name].append(await concurrent(executor, calls, concurrency))
    results = {
        name: (
            statistics.median(seq[name]),
            statistics.median(conc[name]),
            after_sequential[name],
            threads_started(executor),
        )
        for name, executor in executors.items()
    }
    for executor in executors.values():
        if isinstance(executor, ThreadPoolExecutor):
            executor.shutdown()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    candidates = {
        "ThreadPoolExecutor": lambda: ThreadPoolExecutor(args.workers, thread_name_prefix="thread_pool_executor"),
        "hand-written pool": lambda: HandWrittenPool(args.workers),
    }
    print(f"{args.calls} calls, max_workers={args.workers}, concurrency {args.concurrency}\n")
    print(
        "| executor | µs per call, sequential | µs per call, concurrent | threads after sequential | threads after concurrent |"
    )
    print("|---|---:|---:|---:|---:|")
    results = asyncio.run(measure(candidates, args.calls, args.concurrency, args.rounds))
    for name, (seq, conc, after_seq, after_conc) in results.items():
        print(f"| {name} | {seq:.1f} | {conc:.1f} | {after_seq} | {after_conc} |")


if __name__ == "__main__":
    main()
