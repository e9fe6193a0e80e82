"""Scratch folders: where a job keeps its original and ffmpeg's outputs while it runs.

A job's folder is removed when the job ends, but a worker killed with `kill -9` (or by the
OOM killer) runs no clean-up, and its folders stay: hundreds of megabytes each. So every
folder is named for the process that made it, `mediaworker-<host>-<pid>-<start>-<random>`
(host: a short hash of the host name; start: the process's start time in clock ticks, from
/proc, so a reused pid is not taken for the dead worker), and a worker starting up removes
the folders of processes of its host that no longer run (`sweep_stale`). Folders of other
hosts (a shared /tmp) and of live processes are never touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

__all__ = ["make_dir", "owner_alive", "prefix_of", "sweep_stale"]

PREFIX = "mediaworker"
NAME = re.compile(rf"^{PREFIX}-(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)-(?P<start>\d+)-")


def make_dir(root: str | None = None) -> Path:
    """A new scratch folder of this process (in `root`, or the system's temporary folder)."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix_of(os.getpid())}-", dir=root))


def sweep_stale(root: str | None = None) -> list[Path]:
    """Remove the scratch folders that processes of this host left when they died."""
    folder = Path(root or tempfile.gettempdir())
    removed = []
    for entry in folder.iterdir():
        found = NAME.match(entry.name)
        if found is None or found["host"] != _host() or not entry.is_dir():
            continue
        if not owner_alive(int(found["pid"]), int(found["start"])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def owner_alive(pid: int, start: int) -> bool:
    """Whether process `pid`, started at `start` (0: unknown), still runs (a zombie does not).
    Without /proc nothing can be told, and every folder is kept."""
    stat = _stat(pid)
    if stat is None:
        return not Path("/proc/self").exists()
    state, ticks = stat
    return state not in ("Z", "X") and start in (0, ticks)


def prefix_of(pid: int) -> str:
    """The start of the names of the scratch folders process `pid` makes."""
    return f"{PREFIX}-{_host()}-{pid}-{_start_ticks(pid) or 0}"


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _start_ticks(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[1]


def _stat(pid: int) -> tuple[str, int] | None:
    """The state and the start time (field 22: clock ticks since boot) of /proc/PID/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])
