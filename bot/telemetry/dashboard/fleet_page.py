"""The fleet dashboard's web app and ``hedgebot dashboard --mqtt-url URL [--port P] [--host H]``.

Routes: ``/`` (the page), ``/api/fleet`` (one row per bot), ``/api/bot/{id}`` (a bot's live
view from MQTT: last state, in-memory history, events), ``/api/stream`` (server-sent events:
each change of a row), ``POST /api/command`` (same checks as the bot page, then ``hedgebot
cmd``'s signed path through the broker).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

import structlog
from aiohttp import web

from bot.errors import ConfigError
from bot.safety import MAX_COMMAND_BYTES, PayloadRejected, loads_bounded, mask_url
from bot.telemetry.auth import operator_key_from_env
from bot.telemetry.cli_support import add_broker_options, broker_url
from bot.telemetry.commands import COMMAND_NAMES
from bot.telemetry.dashboard.assets import add_asset_routes, render_page, security_headers
from bot.telemetry.dashboard.bot_page import FLATTEN_WORD, flatten_confirmed
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.fleet import FleetBoard, FleetCommander, broker_password, watch_broker
from bot.telemetry.dashboard.http_guard import add_login_routes, host_guard
from bot.telemetry.dashboard.security import (
    CommandGate,
    allowed_host_entries,
    check_bind,
    is_loopback,
    served_names,
    token_from_env,
)
from bot.telemetry.dashboard.sse import stream_feed
from bot.telemetry.settings import broker_url_problem

__all__ = ["FleetApp", "add_subcommand", "serve_fleet"]

_log = structlog.get_logger("hedgebot.telemetry.dashboard")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=security_headers())


class FleetApp:
    """Routes of the fleet page over a ``FleetBoard`` and a ``FleetCommander``."""

    def __init__(self, board: FleetBoard, commander: FleetCommander, gate: CommandGate) -> None:
        self.board = board
        self.commander = commander
        self.gate = gate
        self.closing = asyncio.Event()

    def mount(self, app: web.Application) -> None:
        """Add the page, its assets and its API to ``app``, behind the Host / cross-site
        guard on every route."""
        app.middlewares.append(host_guard(lambda: self.gate))
        add_login_routes(app, lambda: self.gate)
        app.router.add_get("/", self._page)
        add_asset_routes(app)
        app.router.add_get("/api/fleet", self._fleet)
        app.router.add_get("/api/bot/{bot_id}", self._bot)
        app.router.add_get("/api/stream", self._stream)
        app.router.add_post("/api/command", self._command)
        app.on_shutdown.append(self._on_shutdown)

    async def _on_shutdown(self, _app: web.Application) -> None:
        self.closing.set()

    async def _page(self, _request: web.Request) -> web.Response:
        return render_page(
            "fleet.html",
            {
                "CSRF": self.gate.csrf_token,
                "COMMANDS": "on" if self.gate.token is not None else "off",
                "BROKER": mask_url(self.commander.url),
            },
        )

    async def _fleet(self, _request: web.Request) -> web.Response:
        return _json(
            {"since": self.board.started_at, "bots": self.board.rows(), **self.board.counts()}
        )

    async def _bot(self, request: web.Request) -> web.Response:
        detail = self.board.detail(request.match_info["bot_id"])
        if detail is None:
            return _json({"error": "no such bot on the broker"}, 404)
        return _json(detail)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        return await stream_feed(request, self.board.feed, self.closing)

    async def _command(self, request: web.Request) -> web.Response:
        refused = self.gate.refusal(request.headers)
        if refused is not None:
            return _json({"status": "refused", "reason": refused.reason}, refused.status)
        try:
            body = loads_bounded(
                await request.content.read(MAX_COMMAND_BYTES + 1), max_bytes=MAX_COMMAND_BYTES
            )
        except PayloadRejected as exc:
            return _json({"status": "refused", "reason": f"bad body: {exc}"}, 400)
        if not isinstance(body, dict):
            return _json({"status": "refused", "reason": "expected a JSON object"}, 400)
        bot_id, name, params = body.get("bot_id"), body.get("command"), body.get("params", {})
        if bot_id not in self.board.view.bots or name not in COMMAND_NAMES:
            return _json({"status": "refused", "reason": "unknown bot or command"}, 400)
        if not isinstance(params, dict):
            return _json({"status": "refused", "reason": "params: expected an object"}, 400)
        if name == "flatten":
            if not flatten_confirmed(body.get("confirm_text"), str(bot_id)):
                reason = f"type the bot id or {FLATTEN_WORD} to confirm a flatten"
                return _json({"status": "refused", "reason": reason}, 400)
            params = {"confirm": True}
        answer = await self.commander.send(str(bot_id), str(name), params)
        self.board.feed.publish_status({"kind": "ack", **answer})
        return _json(answer, 200 if answer["status"] == "applied" else 422)


async def serve_fleet(
    url: str,
    prefix: str,
    host: str,
    port: int,
    username: str | None,
    ready: asyncio.Event | None = None,
    allowed_hosts: tuple[str, ...] = (),
) -> int:
    """Run the fleet dashboard until SIGINT/SIGTERM. ``allowed_hosts``: extra ``Host`` values
    (``--allowed-host``, see ``security.allowed_host_entries``). Raises ``ConfigError`` for a
    bind beyond loopback without ``HEDGEBOT_DASHBOARD_TOKEN``, a token with a space, an
    unusable broker URL or allowed host."""
    problem = broker_url_problem(url)
    if problem is not None:
        raise ConfigError(f"--mqtt-url {mask_url(url)}: {problem}")
    token = token_from_env(os.environ)
    check_bind(host, token, "--host")
    allowed = allowed_host_entries(allowed_hosts, "--allowed-host")
    commander = FleetCommander(
        url, prefix, operator_key_from_env(os.environ), username, broker_password()
    )
    board = FleetBoard(prefix, DashboardFeed())
    fleet = FleetApp(board, commander, CommandGate(token=token, port=port))
    app = web.Application()
    fleet.mount(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"--port: cannot listen on {host}:{port} ({exc.strerror})") from exc
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    fleet.gate = CommandGate(
        token=token,
        port=bound,
        csrf_token=fleet.gate.csrf_token,
        extra_hosts=served_names(host),
        allowed=allowed,
        login_required=not is_loopback(host),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _log.info("fleet.serving", url=f"http://{host}:{bound}/", broker=mask_url(url))
    sys.stderr.write(f"fleet dashboard: http://{host}:{bound}/  (broker {mask_url(url)})\n")
    if ready is not None:
        ready.set()
    try:
        await watch_broker(board, url, username=username, password=broker_password(), stop=stop)
    finally:
        await runner.cleanup()
    return 0


def _run(args: argparse.Namespace) -> int:
    url, _source = broker_url(args.mqtt_url)
    try:
        served = serve_fleet(
            url,
            args.prefix,
            args.host,
            args.port,
            args.username,
            allowed_hosts=tuple(args.allowed_host or ()),
        )
        return asyncio.run(served)
    except ConfigError as exc:
        sys.stderr.write(f"dashboard: {exc}\n")
        return 2


def add_subcommand(subparsers: Any) -> None:
    """Register ``hedgebot dashboard``."""
    parser = subparsers.add_parser(
        "dashboard",
        help="web page of every bot on a broker (status, delta, hedge, PnL, commands)",
    )
    add_broker_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=9200, help="HTTP port (default 9200)")
    parser.add_argument(
        "--allowed-host",
        action="append",
        metavar="H",
        help="another Host value the page answers: host:port (a port mapping, "
        "127.0.0.1:9210) or a name on any port (a proxy or service name); repeatable",
    )
    parser.set_defaults(func=_run)
