"""The CPU process pool: runs the pure pipelines in worker processes, awaitable from asyncio.

The only module of `processing` that knows about asyncio. Workers are spawned (not forked: a
forked copy of a process with a running event loop, Redis and Postgres connections and libvips
threads is unsafe), ignore Ctrl-C (the parent decides when to stop) and run libvips without an
operation cache.

A worker that dies (segfault in a decoder, killed by the OOM killer) breaks the whole executor
and fails every job in it; `run` replaces the executor, so the next job works, and raises
`ProcessingCrashedError`, which is retried.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from mediaworker.errors import ErrorCode, TransientError

R = TypeVar("R")

CRASHED_MESSAGE = "the processing worker died (crash or out of memory)"
PARENT_CHECK_S = 1.0


class ProcessingCrashedError(TransientError):
    code = ErrorCode.UNKNOWN

    def __init__(
        self, message: str = CRASHED_MESSAGE, *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)


class CpuPool:
    """A process pool for CPU-bound work; `await pool.run(fn, *args)`."""

    def __init__(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers
        self._executor = self._new_executor()

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        """`fn(*args)` in a worker process; its exceptions arrive here as they were raised.

        `fn` and the arguments must pickle: a module-level function and plain values.
        """
        executor = self._executor
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, fn, *args)
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise ProcessingCrashedError() from exc

    def close(self) -> None:
        """Cancel what has not started, wait for what has, stop the workers."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.max_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        # Jobs that ran together in the broken executor all land here; replace it once.
        if self._executor is broken:
            self._executor = self._new_executor()
            broken.shutdown(wait=False, cancel_futures=True)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent_pid = os.getppid()
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()
    from mediaworker.processing.image import configure_libvips

    configure_libvips()


def _exit_with(parent_pid: int) -> None:
    """A worker whose parent was killed (`kill -9`, the OOM killer) is orphaned, not told: it
    checks once a second and leaves instead of holding its memory forever."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)
