"""The server processes `dev/local_services.py` starts: spawned as our children in their own
session, waited for until they answer, stopped in order and waited for until they are gone."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _child_options(user: str | None, out: BinaryIO) -> dict[str, Any]:
    """No stdin, output appended to `out`, run as `user` (None: as we run)."""
    options: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": out}
    options["stderr"] = subprocess.STDOUT
    if user is not None:
        options.update(user=user, group=pwd.getpwnam(user).pw_gid, extra_groups=[])
    return options


def spawn(argv: list[str], log: Path, user: str | None = None) -> subprocess.Popen[bytes]:
    """Start a server in the foreground as our child, in its own session (Ctrl-C in the
    terminal reaches us, and we stop it in order), output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 (argv built here from fixed binaries)
            argv, start_new_session=True, **_child_options(user, out)
        )


def run_checked(argv: list[str], log: Path, user: str | None) -> None:
    with log.open("ab") as out:
        done = subprocess.run(  # noqa: S603 (argv built here from fixed binaries)
            argv, check=False, timeout=START_TIMEOUT_S, **_child_options(user, out)
        )
    if done.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed (exit {done.returncode}); see {log}")


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes]) -> bool:
    """True once `ready()`; False if the process exits or START_TIMEOUT_S passes first."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.05)
    return False


def stop_process(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_and_remove(proc: subprocess.Popen[bytes], sig: signal.Signals, directory: Path) -> None:
    stop_process(proc, sig)
    shutil.rmtree(directory, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie waiting to be reaped counts as gone."""
    if Path("/proc/self").exists():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state not in {"Z", "X"}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_gone(pid: int) -> None:
    """pg_ctl returns once the server stopped accepting; wait for the process to exit too."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
