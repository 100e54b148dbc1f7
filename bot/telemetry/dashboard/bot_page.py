"""The bot dashboard served at ``/`` on the metrics port by ``hedgebot run``.

Routes: ``/`` (the page), ``/static/*``, ``/vendor/uplot.*``,
``/api/state`` (``{"bot_id", "state": the last state message or null, "kill_switch", "chain": the
primary chain's name, "commands_enabled", "event_kinds"}``),
``/api/stream`` (server-sent events: ``state`` after every tick, ``event`` for each event,
``status`` for the kill switch and command acks), ``/api/history?range=1h|6h|24h|all``,
``/api/events?kinds=decision,order,...``, ``POST /api/command`` and ``POST /api/killswitch``
(operator token + same-origin checks: ``security.CommandGate``; the kill switch is written
to its file at once and recorded like a command, ``kill_switch`` with ``params.mode``),
``/api/plan`` (the hedge planner when it is available).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from aiohttp import web

from bot.errors import HedgebotError
from bot.killswitch import FileKillSwitch
from bot.policy_config import MAX_HEDGE_RATIO
from bot.safety import MAX_COMMAND_BYTES, PayloadRejected, describe_exc, loads_bounded
from bot.store.base import RecordStore
from bot.telemetry.action_record import KILL_COMMAND
from bot.telemetry.command_text import echo
from bot.telemetry.dashboard.assets import add_asset_routes, render_page, security_headers
from bot.telemetry.dashboard.command_hub import CommandHub
from bot.telemetry.dashboard.feed import DashboardFeed, FeedItem
from bot.telemetry.dashboard.history import (
    EVENT_KINDS,
    MAX_LOG_ROWS,
    RANGES_S,
    event_log,
    history_series,
)
from bot.telemetry.dashboard.http_guard import add_login_routes, host_guard
from bot.telemetry.dashboard.plan_service import PlanService
from bot.telemetry.dashboard.security import CommandGate
from bot.telemetry.dashboard.sse import stream_feed

__all__ = ["FLATTEN_WORD", "BotDashboard", "flatten_confirmed"]

_log = structlog.get_logger("hedgebot.telemetry.dashboard")

FLATTEN_WORD = "FLATTEN"
PAGE_COMMANDS = ("pause", "resume", "rebalance_now", "set_hedge_ratio", "set_threshold", "flatten")
KILL_MODES = ("freeze", "flatten", "clear")
_KILL_ENGAGE: dict[str, Literal["freeze", "flatten"]] = {"freeze": "freeze", "flatten": "flatten"}

PlanSource = Callable[[], Awaitable[dict[str, Any]]]


def flatten_confirmed(typed: object, bot_id: str) -> bool:
    """Whether the operator typed the bot id or ``FLATTEN`` (exactly) to confirm a flatten."""
    return isinstance(typed, str) and typed in (bot_id, FLATTEN_WORD)


def _json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=security_headers())


@dataclass
class BotDashboard:
    """Everything the bot page reads and commands; ``mount`` adds its routes to an app."""

    bot_id: str
    feed: DashboardFeed
    store: RecordStore
    gate: CommandGate
    commands: CommandHub | None = None
    kill_switch: FileKillSwitch | None = None
    plan: PlanSource | None = None
    # the chain name of positions the state leaves untagged (one chain: ``PositionState.chain``
    # is left off the wire); every other per-position figure comes from the state message
    chain: str | None = None
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    plans: PlanService | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        # every /api/plan shares one run in flight and its cached answer (see PlanService)
        self.plans = None if self.plan is None else PlanService(self.plan)
        if self.commands is not None:  # every command's outcome reaches the live log
            self.commands.on_outcome = self.feed.publish_event
            self.commands.ledger = self.store  # the page's direct actions: its commands table

    def mount(self, app: web.Application) -> None:
        """Add the page, its assets, its API and ``/login`` to ``app`` (before it starts), and
        the Host / cross-site / login guard in front of every route of ``app`` but
        ``/metrics`` and ``/healthz``."""
        app.middlewares.append(host_guard(lambda: self.gate))
        add_login_routes(app, lambda: self.gate)
        app.router.add_get("/", self._page)
        add_asset_routes(app)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/stream", self._stream)
        app.router.add_get("/api/history", self._history)
        app.router.add_get("/api/events", self._events)
        app.router.add_get("/api/plan", self._plan)
        app.router.add_post("/api/command", self._command)
        app.router.add_post("/api/killswitch", self._kill)
        app.on_shutdown.append(self._on_shutdown)

    async def _on_shutdown(self, _app: web.Application) -> None:
        self.closing.set()
        if self.plans is not None:
            await self.plans.close()

    def kill_status(self) -> dict[str, Any]:
        """``{"kind": "kill_switch", "mode", "reason", "source", "set_at_s"}`` as read now."""
        if self.kill_switch is None:
            return {"kind": "kill_switch", "mode": "unknown", "reason": "", "source": None}
        state = self.kill_switch.read()
        return {
            "kind": "kill_switch",
            "mode": state.mode,
            "reason": state.reason,
            "source": state.source,
            "set_at_s": state.set_at_s,
        }

    async def _page(self, _request: web.Request) -> web.Response:
        return render_page(
            "bot.html",
            {
                "BOT_ID": self.bot_id,
                "CSRF": self.gate.csrf_token,
                "COMMANDS": "on" if self.gate.token is not None else "off",
                "MAX_RATIO": str(MAX_HEDGE_RATIO),
            },
        )

    async def _state(self, _request: web.Request) -> web.Response:
        return _json_response(
            {
                "bot_id": self.bot_id,
                "state": self.feed.latest_state,
                "kill_switch": self.kill_status(),
                "chain": self.chain,
                "commands_enabled": self.gate.token is not None and self.commands is not None,
                "event_kinds": list(EVENT_KINDS),
            }
        )

    def _after(self, item: FeedItem) -> list[FeedItem]:
        if item.kind != "state":
            return []
        return [FeedItem("status", json.dumps(self.kill_status()))]

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        return await stream_feed(request, self.feed, self.closing, self._after)

    async def _history(self, request: web.Request) -> web.Response:
        range_name = request.query.get("range", "all")
        if range_name not in RANGES_S:
            return _json_response({"error": f"range: one of {', '.join(RANGES_S)}"}, 400)
        return _json_response(await history_series(self.store, range_name))

    async def _events(self, request: web.Request) -> web.Response:
        wanted = request.query.get("kinds")
        kinds = None if not wanted else frozenset(wanted.split(",")) & frozenset(EVENT_KINDS)
        recorded = await self.store.read_events()
        commands = await self.store.recent_commands(MAX_LOG_ROWS)
        live = list(self.feed.recent_events)
        return _json_response({"events": event_log(recorded, live, kinds, commands)})

    async def _plan(self, _request: web.Request) -> web.Response:
        if self.plans is None:
            return _json_response({"error": "the hedge planner is not available"}, 404)
        try:
            return _json_response(await self.plans.get())
        except HedgebotError as exc:
            return _json_response({"error": f"planner: {describe_exc(exc)}"}, 503)

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The checked JSON object of a command request, or the refusal to answer."""
        refused = self.gate.refusal(request.headers)
        if refused is not None:
            _log.warning("dashboard.command_refused", status=refused.status, reason=refused.reason)
            return _json_response({"status": "refused", "reason": refused.reason}, refused.status)
        raw = await request.content.read(MAX_COMMAND_BYTES + 1)
        try:
            body = loads_bounded(raw, max_bytes=MAX_COMMAND_BYTES)
        except PayloadRejected as exc:
            return _json_response({"status": "refused", "reason": f"bad body: {exc}"}, 400)
        if not isinstance(body, dict):
            return _json_response({"status": "refused", "reason": "expected a JSON object"}, 400)
        return body

    async def _command(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        name, params = body.get("command"), body.get("params", {})
        if name not in PAGE_COMMANDS or not isinstance(params, dict):
            return _json_response({"status": "refused", "reason": "unknown command"}, 400)
        if self.commands is None:
            return _json_response({"status": "refused", "reason": "no command channel"}, 503)
        if name == "flatten":
            if not flatten_confirmed(body.get("confirm_text"), self.bot_id):
                reason = f"type the bot id or {FLATTEN_WORD} to confirm a flatten"
                return _json_response({"status": "refused", "reason": reason}, 400)
            params = {"confirm": True}
        ack = await self.commands.submit(str(name), params)
        self.feed.publish_status({"kind": "ack", **ack.as_dict()})
        return _json_response(ack.as_dict(), 200 if ack.status != "rejected" else 422)

    async def _kill(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        mode = body.get("mode")
        if mode not in KILL_MODES or self.kill_switch is None:
            return _json_response(
                {"status": "refused", "reason": "mode: freeze|flatten|clear"}, 400
            )
        if mode == "flatten" and not flatten_confirmed(body.get("confirm_text"), self.bot_id):
            reason = f"type the bot id or {FLATTEN_WORD} to confirm a kill-switch flatten"
            return _json_response({"status": "refused", "reason": reason}, 400)
        ack = await self._apply_kill(self.kill_switch, mode)
        status = self.kill_status()
        self.feed.publish_status(status)
        return _json_response(
            {**ack, "kill_switch": status}, 200 if ack["status"] == "applied" else 500
        )

    async def _apply_kill(self, kill_switch: FileKillSwitch, mode: str) -> dict[str, Any]:
        """Write (or remove) the flag file the engine reads at every tick — so it works while
        the engine is stuck — then record the action like a command (the store's commands
        table, a ``command`` event, the page's ack: ``CommandHub.record_action``)."""
        error = None
        try:
            if mode == "clear":
                kill_switch.clear()
            else:
                kill_switch.engage(_KILL_ENGAGE[mode], "operator request (dashboard)", "dashboard")
        except OSError as exc:  # the file could not be written: say so, record it
            error = f"kill switch file: {describe_exc(exc)}"
            _log.error("killswitch.unwritten", mode=mode, source="dashboard", error=error)
        else:
            _log.warning("killswitch.set", mode=mode, source="dashboard", bot_id=echo(self.bot_id))
        if self.commands is None:
            failed = error is not None
            return {"status": "rejected" if failed else "applied", "reason": error}
        ack = await self.commands.record_action(KILL_COMMAND, {"mode": mode}, error)
        self.feed.publish_status({"kind": "ack", **ack.as_dict()})
        return ack.as_dict()
