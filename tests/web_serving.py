"""Serving an aiohttp app in a test (a dashboard, a relay): a site on an ephemeral loopback
port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from aiohttp import web

from bot.telemetry.dashboard.bot_page import BotDashboard


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[int]:
    """``app`` served on 127.0.0.1 at a port the OS chose (yielded); stopped on exit."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the port the OS chose
        assert server is not None
        yield int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    finally:
        await runner.cleanup()


@asynccontextmanager
async def served_bot_page(dashboard: BotDashboard) -> AsyncIterator[str]:
    """``dashboard`` mounted and served, its gate told the port; yields its base URL
    (``http://127.0.0.1:<port>``, no trailing slash)."""
    app = web.Application()
    dashboard.mount(app)
    async with serving(app) as port:
        dashboard.gate = replace(dashboard.gate, port=port)
        yield f"http://127.0.0.1:{port}"
