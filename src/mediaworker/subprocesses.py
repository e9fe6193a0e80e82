"""Run ffmpeg and ffprobe as asyncio subprocesses: no shell, stdin closed, a time limit.

The process is killed (its whole process group) and reaped when the time limit passes or
when the awaiting task is cancelled (the job's own timeout, a worker shutting down): no ffmpeg
is left behind. It runs in a session of its own, so a Ctrl-C meant for the worker does not
reach it; the worker decides when it stops. Output is bounded: stdout up to `max_stdout_bytes`
(ffprobe's JSON; ffmpeg writes its outputs to files), stderr only its last few kilobytes.
Memory is bounded too: `TOOL_LIMITS.memory_bytes` (set at worker start-up) becomes the
child's RLIMIT_DATA, applied with prlimit as soon as it has started (no preexec function,
which is unsafe in a process with threads); the program has not read its input by then.

A child dies with its worker, even one killed with `kill -9` (which runs no clean-up): it is
started through `setpriv --pdeathsig KILL`, so the kernel kills it when the worker goes. (A
`preexec_fn` would do the same, but makes Python fork instead of vfork: measured 80 ms per
start from a 400 MB worker against 1.3 ms; setpriv's extra exec costs about 4 ms. Without
setpriv, the preexec_fn is the fallback.) A child sees a minimal environment (CHILD_ENV_NAMES):
never the API keys, the storage secret or the database URL of the worker's own.

How an outcome maps to our errors:

- exit 0                                      -> `Completed`
- the time limit                              -> TimeoutExceededError (TIMEOUT, retried)
- killed by a signal (the OOM killer), or out
  of disk or memory                           -> ToolCrashedError (UNKNOWN, retried)
- the program is missing                      -> NotConfiguredError
- any other failure                           -> BadInputError with the last line of stderr:
                                                 the same input fails the same way again
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import shutil
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mediaworker.errors import (
    BadInputError,
    ErrorCode,
    NotConfiguredError,
    TimeoutExceededError,
    TransientError,
)
from mediaworker.processing.probe import failure_reason

STDERR_TAIL_BYTES = 8192
MAX_STDOUT_BYTES = 16 * 1024 * 1024
_READ_CHUNK = 65536
_OUT_OF_MEMORY = "Cannot allocate memory"
_RESOURCE_ERRORS = ("No space left on device", _OUT_OF_MEMORY)
# What a child may see of the worker's environment: where programs and libraries are, the
# locale and the time zone, the scratch folder, espeak-ng's voices. Nothing else, ever.
CHILD_ENV_NAMES = (
    *("PATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"),
    "ESPEAK_DATA_PATH",
)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
PR_SET_PDEATHSIG = 1
SETPRIV = shutil.which("setpriv")


@dataclass
class ToolLimits:
    memory_bytes: int | None = None  # RLIMIT_DATA of every tool started


TOOL_LIMITS = ToolLimits()


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: str  # the last STDERR_TAIL_BYTES


class ToolCrashedError(TransientError):
    """The tool died of a signal, or ran out of disk or memory: worth another try."""

    code = ErrorCode.UNKNOWN


async def run_tool(
    argv: Sequence[str],
    *,
    timeout_s: float,
    what: str,
    max_stdout_bytes: int = MAX_STDOUT_BYTES,
    check: bool = True,
    on_progress: Callable[[bytes], Awaitable[None]] | None = None,
) -> Completed:
    """Run `argv` (no shell) within `timeout_s`; `what` names the step in error messages.

    With `check=False`, a plain failure exit is returned for the caller to read, not raised
    (timeouts, signals, missing programs and resource errors still raise). With `on_progress`
    (ffmpeg only), ffmpeg's `-progress` report goes to a pipe of its own and each of its lines
    to `on_progress`; stdout and stderr stay what they are without it.
    """
    progress = ProgressPipe(on_progress)
    try:
        process = await _start([argv[0], *progress.args, *argv[1:]], pass_fds=progress.fds)
    finally:
        progress.child_started()
    try:
        async with asyncio.timeout(timeout_s):
            stdout, stderr, _ = await asyncio.gather(
                _read_capped(process, max_stdout_bytes),
                _read_tail(process.stderr),
                progress.read(),
            )
            returncode = await process.wait()
    except TimeoutError:
        raise TimeoutExceededError(f"{what} took longer than {timeout_s:g} s") from None
    finally:
        progress.close()
        await asyncio.shield(_stop(process))
    if stdout is None:
        raise BadInputError(f"{what} wrote more than {max_stdout_bytes >> 20} MiB of output")
    text = stderr.decode("utf-8", "replace")
    if returncode != 0:
        failure = _failure(what, returncode, text)
        if check or not isinstance(failure, BadInputError):
            raise failure
    return Completed(returncode, stdout, text)


def child_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a child gets: CHILD_ENV_NAMES of `environ` (the worker's), no more."""
    source = os.environ if environ is None else environ
    env = {name: source[name] for name in CHILD_ENV_NAMES if name in source}
    env.setdefault("PATH", DEFAULT_PATH)
    return env


class ProgressPipe:
    """A pipe for ffmpeg's `-progress pipe:N`: the child writes to its end (passed as fd N),
    we read ours line by line. With no `on_line`, nothing: no pipe, no arguments."""

    def __init__(self, on_line: Callable[[bytes], Awaitable[None]] | None) -> None:
        self.on_line = on_line
        self._read_fd, self._write_fd = os.pipe() if on_line is not None else (-1, -1)

    @property
    def args(self) -> list[str]:
        return ["-progress", f"pipe:{self._write_fd}"] if self.on_line is not None else []

    @property
    def fds(self) -> tuple[int, ...]:
        return (self._write_fd,) if self._write_fd >= 0 else ()

    def child_started(self) -> None:
        """The child has its copy of the write end (or did not start): close ours."""
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1

    async def read(self) -> None:
        if self.on_line is None or self._read_fd < 0:
            return
        reader = asyncio.StreamReader()
        pipe = os.fdopen(self._read_fd, "rb", buffering=0)
        self._read_fd = -1  # the transport owns it now
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # a line over 64 KiB: not a progress line
                    continue
                if not line:
                    break
                await self.on_line(line)
        finally:
            transport.close()

    def close(self) -> None:
        self.child_started()
        if self._read_fd >= 0:
            os.close(self._read_fd)
            self._read_fd = -1


async def _start(
    argv: Sequence[str], *, pass_fds: tuple[int, ...] = ()
) -> asyncio.subprocess.Process:
    env = child_env()
    program = shutil.which(argv[0], path=env["PATH"])
    try:
        if program is None:
            raise FileNotFoundError(argv[0])
        wrapper, preexec = _parent_death_wrapper()
        process = await asyncio.create_subprocess_exec(
            *wrapper,
            program,
            *argv[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=env,
            preexec_fn=preexec,
            pass_fds=pass_fds,
        )
        _limit_memory(process.pid)
        return process
    except (FileNotFoundError, PermissionError) as exc:
        name = Path(argv[0]).name
        raise NotConfiguredError(
            f"{name} cannot be run ({type(exc).__name__}): install it or set {name.upper()}_PATH"
        ) from exc


def _parent_death_wrapper() -> tuple[list[str], Callable[[], None] | None]:
    """The argv prefix (setpriv) or, without setpriv, the preexec_fn that asks the kernel to
    kill the child when its parent dies."""
    if SETPRIV is not None:
        return [SETPRIV, "--pdeathsig", "KILL", "--"], None
    return [], (_die_with_parent if _prctl is not None else None)


_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # Linux only


def _die_with_parent() -> None:  # pragma: no cover  (runs in the child, between fork and exec)
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _limit_memory(pid: int) -> None:
    limit = TOOL_LIMITS.memory_bytes
    if limit is not None:
        with contextlib.suppress(ProcessLookupError):  # it has ended already
            resource.prlimit(pid, resource.RLIMIT_DATA, (limit, limit))


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill the process group if it still runs, drain its pipes, reap it.

    asyncio's `wait()` returns only once the pipes are closed too, and a pipe whose reader
    stopped reading (cancelled, or over its limit) is never seen closing: drain them.
    """
    _kill(process)
    for stream in (process.stdout, process.stderr):
        while stream is not None and await stream.read(_READ_CHUNK):
            pass
    await process.wait()


async def _read_capped(process: asyncio.subprocess.Process, limit: int) -> bytes | None:
    """All of stdout, or None (the process killed) once it passes `limit` bytes."""
    stream = process.stdout
    chunks: list[bytes] = []
    size = 0
    while stream is not None and (chunk := await stream.read(_READ_CHUNK)):
        size += len(chunk)
        if size > limit:
            _kill(process)  # and read on to the end of the pipe, keeping nothing
        else:
            chunks.append(chunk)
    return None if size > limit else b"".join(chunks)


async def _read_tail(stream: asyncio.StreamReader | None) -> bytes:
    tail = b""
    while stream is not None and (chunk := await stream.read(_READ_CHUNK)):
        tail = (tail + chunk)[-STDERR_TAIL_BYTES:]
    return tail


def _failure(what: str, returncode: int, stderr: str) -> Exception:
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
        return ToolCrashedError(f"{what} was killed by signal {-returncode} {name}".strip())
    if TOOL_LIMITS.memory_bytes is not None and _OUT_OF_MEMORY in stderr:
        # under our own memory limit: the input needs more than a tool may use, every time
        return BadInputError(f"{what} needs more memory than a media tool may use")
    if any(text in stderr for text in _RESOURCE_ERRORS):
        return ToolCrashedError(f"{what} failed: {failure_reason(stderr)}")
    return BadInputError(f"{what} failed: {failure_reason(stderr)}")
