"""The CPU process pool: runs the pure pipelines in worker processes, awaitable from asyncio.

The only module of `processing` that knows about asyncio. The pool is a set of slots, each one
worker process of its own (a one-process `ProcessPoolExecutor`); a task takes an idle slot,
runs, and gives it back. Owning a process per task is what lets the pool:

- stop work whose caller gave up: a task cancelled while it runs (the job's time limit, a
  worker shutting down) has its process killed and its slot replaced, so the CPU is free for
  the next task at once and a retry never finds the old attempt still running;
- contain a crash: a process that dies (segfault in a decoder, the memory limit, the OOM
  killer) fails only its own task, with `ProcessingCrashedError` (retried), and its slot is
  replaced;
- be warm before the first job: `start()` spawns every process and imports the pipelines'
  libraries (libvips, numpy, libheif, libav) in them, and each replacement is warmed the same way.

Processes are spawned (not forked: a forked copy of a process with a running event loop,
Redis and Postgres connections and libvips threads is unsafe), ignore Ctrl-C (the parent
decides when to stop), leave when their parent dies, run libvips without an operation cache
and with their share of the cores (2 processes on 2 cores: one thread each, as sharp runs),
and get `memory_limit_bytes` as their RLIMIT_DATA (private writable memory: the heap, libvips'
pixel buffers, numpy arrays), so an input that needs more fails in its own process.

A process starts with a minimal environment (`child_environ`): where programs and libraries
are, the locale, the scratch folder, Python's and the numeric libraries' own variables. Never
the worker's API keys, storage secret or database URL, which a decoder bug could otherwise
read. Spawn cannot be given an environment, so the worker's is narrowed for the moment a
process is started (`_minimal_environ`) and put back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from mediaworker.errors import BadInputError, ErrorCode, TransientError

R = TypeVar("R")

CRASHED_MESSAGE = "the processing worker died (crash or out of memory)"
OUT_OF_MEMORY_MESSAGE = "this input needs more memory than a processing worker may use"
PARENT_CHECK_S = 1.0
# What a pool process may see of the worker's environment (by name, then by prefix).
CHILD_ENV_NAMES = frozenset(
    {"PATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "HOME", "VIRTUAL_ENV"}
)
CHILD_ENV_PREFIXES = ("LC_", "PYTHON", "OPENBLAS_", "OMP_", "MKL_", "VIPS_", "MALLOC_")
# numpy's OpenBLAS starts a thread per core in every pool process, and after each small matrix
# product (the blurhash) they spin, taking the CPU the other processes' decodes need: 4 % of a
# thumbnail's CPU. The pool's processes are its parallelism; BLAS gets one thread.
CHILD_ENV_DEFAULTS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def child_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` a pool process gets: CHILD_ENV_NAMES and CHILD_ENV_PREFIXES,
    and one BLAS thread unless `environ` says otherwise (CHILD_ENV_DEFAULTS)."""
    kept = {
        name: value
        for name, value in environ.items()
        if name in CHILD_ENV_NAMES or name.startswith(CHILD_ENV_PREFIXES)
    }
    return {**CHILD_ENV_DEFAULTS, **kept}


@contextlib.contextmanager
def _minimal_environ() -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(child_environ(saved))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class ProcessingCrashedError(TransientError):
    code = ErrorCode.UNKNOWN

    def __init__(
        self, message: str = CRASHED_MESSAGE, *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)


class _Slot:
    """One worker process; `pid` is known once it has started and warmed up."""

    def __init__(self, memory_limit_bytes: int | None, threads: int) -> None:
        self.executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(memory_limit_bytes,),
        )
        with _minimal_environ():  # the process is spawned inside submit(), with this environment
            self.warm: Future[int] = self.executor.submit(_warm_up, threads)

    def kill(self) -> None:
        """SIGKILL the process (once its pid is known) and let the executor go."""
        self.warm.add_done_callback(_kill_pid)
        self.executor.shutdown(wait=False, cancel_futures=True)


class CpuPool:
    """A process pool for CPU-bound work; `await pool.run(fn, *args)`."""

    def __init__(self, max_workers: int, *, memory_limit_bytes: int | None = None) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers
        self.memory_limit_bytes = memory_limit_bytes
        # Each process's libvips gets its share of the cores: the processes run side by side.
        self.threads = max(1, (os.cpu_count() or 1) // max_workers)
        self._idle = [_Slot(memory_limit_bytes, self.threads) for _ in range(max_workers)]
        self._busy: set[_Slot] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    async def start(self) -> None:
        """Wait until every process has started and imported its libraries."""
        slots = [*self._idle, *self._busy]
        results = await asyncio.gather(
            *(asyncio.wrap_future(s.warm) for s in slots), return_exceptions=True
        )
        for slot, result in zip(slots, results, strict=True):
            if isinstance(result, BaseException) and slot in self._idle:
                self._replace(slot)

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        """`fn(*args)` in a worker process; its exceptions arrive here as they were raised.

        `fn` and the arguments must pickle: a module-level function and plain values. When the
        awaiting task is cancelled while `fn` runs, its process is killed and replaced.
        """
        slot = await self._acquire()
        try:
            future = slot.executor.submit(fn, *args)
        except (BrokenProcessPool, RuntimeError) as exc:  # the process died while idle
            self._release(self._replace(slot))
            raise ProcessingCrashedError() from exc
        try:
            result = await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            slot = self._replace(slot)
            raise ProcessingCrashedError() from exc
        except MemoryError as exc:  # Python's own allocations over the memory limit
            slot = self._replace(slot)  # its heap may be in any state: start afresh
            raise BadInputError(OUT_OF_MEMORY_MESSAGE) from exc
        except asyncio.CancelledError:
            if not future.done():
                slot = self._replace(slot)
            raise
        finally:
            self._release(slot)
        return result

    def close(self) -> None:
        """Stop the processes: idle ones after their current work, busy ones at once."""
        self._closed = True
        for slot in self._busy:
            slot.kill()
        for slot in self._idle:
            slot.executor.shutdown(wait=True, cancel_futures=True)
        self._busy.clear()
        self._idle.clear()

    def pids(self) -> list[int]:
        """The worker processes that have started (for tests and diagnostics)."""
        slots = [*self._idle, *self._busy]
        return [s.warm.result() for s in slots if s.warm.done() and not s.warm.exception()]

    # Slots

    async def _acquire(self) -> _Slot:
        loop = asyncio.get_running_loop()
        while not self._idle:
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # it was our turn: pass it on
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        slot = self._idle.pop()
        self._busy.add(slot)
        return slot

    def _release(self, slot: _Slot) -> None:
        self._busy.discard(slot)
        self._idle.append(slot)
        self._wake_one()

    def _wake_one(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                return

    def _replace(self, slot: _Slot) -> _Slot:
        """Kill `slot`'s process; a new, warming slot takes its place (busy until released),
        unless the pool is closed."""
        slot.kill()
        self._busy.discard(slot)
        with contextlib.suppress(ValueError):
            self._idle.remove(slot)
        if self._closed:
            return slot
        fresh = _Slot(self.memory_limit_bytes, self.threads)
        self._busy.add(fresh)
        return fresh


def _kill_pid(warm: Future[int]) -> None:
    if warm.cancelled() or warm.exception() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(warm.result(), signal.SIGKILL)


# In the worker processes


def _init_worker(memory_limit_bytes: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_limit_bytes is not None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_limit_bytes, memory_limit_bytes))
    parent_pid = os.getppid()
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()


def _warm_up(threads: int) -> int:
    """Import and touch what the pipelines use, so that the first real task pays nothing."""
    from mediaworker.processing import frame  # noqa: F401 - libav loaded before a poster frame
    from mediaworker.processing.image import configure_libvips, warm_up

    configure_libvips(threads)
    warm_up()
    return os.getpid()


def _exit_with(parent_pid: int) -> None:
    """A worker whose parent was killed (`kill -9`, the OOM killer) is orphaned, not told: it
    checks once a second and leaves instead of holding its memory forever."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)
