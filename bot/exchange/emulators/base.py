"""Server lifecycle every emulator shares: serve an aiohttp app, learn the bound port, close,
and run a standalone server until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

__all__ = ["RunningServer", "serve_app", "serve_until_signal"]

_log = structlog.get_logger("hedgebot.exchange.emulators")


@dataclass
class RunningServer:
    """An aiohttp app listening on ``host:port``; ``close()`` stops it."""

    host: str
    port: int
    runner: web.AppRunner

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        """Stop serving (open connections are given 0.5 s)."""
        await self.runner.cleanup()


async def serve_app(app: web.Application, host: str, port: int, *, name: str) -> RunningServer:
    """Serve ``app`` on ``host:port`` (port 0: a free port, the bound one is returned);
    logs ``<name>.listening``. Raises ``OSError`` when the address is taken."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound_port = port
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        bound_port = int(sockets[0].getsockname()[1])
    _log.info(f"{name}.listening", url=f"http://{host}:{bound_port}")
    return RunningServer(host=host, port=bound_port, runner=runner)


async def serve_until_signal(close: Callable[[], Awaitable[None]]) -> None:
    """Wait for SIGINT or SIGTERM, then ``await close()``."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await close()
