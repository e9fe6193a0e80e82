"""`mediaworker demo --serve`: after the demo, keep a worker and the HTTP API with its
dashboard running on loopback, so a newcomer sees the results (and the one failure) in a
browser, until Ctrl-C.

With no ADMIN_TOKENS set, a random admin token is made for this run and printed beside the
address: the demo's server is on 127.0.0.1 only, but still never open without a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
from collections.abc import Iterator, Mapping

import uvicorn
from arq.worker import Worker
from pydantic import SecretStr

from mediaworker.cli.output import console
from mediaworker.config import Settings
from mediaworker.settings import worker_options
from mediaworker.web.app import create_app

HOST = "127.0.0.1"


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: Ctrl-C is ours (`keep_serving`)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def with_admin_token(settings: Settings) -> tuple[Settings, str | None]:
    """The settings with an admin token, and the token when it was made here."""
    if settings.api.admin_tokens:
        return settings, None
    token = secrets.token_urlsafe(18)
    api = settings.api.model_copy(update={"admin_tokens": (SecretStr(token),)})
    return settings.model_copy(update={"api": api}), token


def port_is_free(port: int) -> bool:
    """uvicorn exits the process when it cannot bind; this asks first."""
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


async def keep_serving(settings: Settings, pages: Mapping[str, str] | None = None) -> bool:
    """Run a worker and the API with the dashboard until SIGINT or SIGTERM; False when the
    port (API_PORT) is taken. `pages`: more addresses to print, by what they show."""
    settings, token = with_admin_token(settings)
    port = settings.api.port
    if not port_is_free(port):
        console.print(f"[red]port {port} is taken: set API_PORT to another one[/red]")
        return False
    config = uvicorn.Config(
        create_app(settings), host=HOST, port=port, log_level="warning", access_log=False
    )
    server = _Server(config)
    worker = Worker(**worker_options(settings), handle_signals=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(worker.async_run()), asyncio.create_task(server.serve())]
    try:
        while not server.started and not any(t.done() for t in tasks):  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # uvicorn says it started by a flag, not an event
        if server.started:
            console.print(f"\ndashboard: http://{HOST}:{port}/dashboard")
            for shows, path in (pages or {}).items():
                console.print(f"{shows}: http://{HOST}:{port}{path}", soft_wrap=True)
            if token:
                console.print(f"admin token (sign in with it): {token}")
            console.print("Ctrl-C stops the worker and the server")
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
    finally:
        server.should_exit = True
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await asyncio.wait_for(tasks[1], timeout=10)
        tasks[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[0]
        await worker.close()
    return True
