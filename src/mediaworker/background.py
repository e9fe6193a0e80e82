"""A worker's background loop: a step run when woken, or every `every_s` when nothing wakes it.

The job tracker (queue/tracking.py) and the outbox writer (events/outbox.py) batch their
writes this way: the job's path only calls `wake()`, which returns at once.

Stopping sets a flag the loop checks before each round as well as cancelling its task: on
Python 3.11, `asyncio.wait_for` can swallow the cancel (when the awaited event is set at the
moment the cancel arrives), and a loop that relied on the cancel alone would then run on and
leave the worker's shutdown waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class WakeLoop:
    def __init__(self, step: Callable[[], Awaitable[None]], *, every_s: float) -> None:
        self._step = step
        self._every_s = every_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def wake(self) -> None:
        """Run the step soon (now, if the loop is waiting)."""
        self._wake.set()

    def request_stop(self) -> None:
        """No round after the current one; `stop()` also ends the current one."""
        self._closing = True
        self._wake.set()

    async def stop(self) -> None:
        """End the loop and wait until it has ended. A step that shields its work lets that
        work finish; the step itself is cancelled."""
        self.request_stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._every_s)
            self._wake.clear()
            await self._step()
