"""``hedgebot dashboard``: every bot on a broker in one page, from retained status/state and
the events stream (the MQTT model of ``hedgebot monitor``), with commands signed and acked
exactly as ``hedgebot cmd`` sends them.

History is in memory only, bounded per bot, since this process started (the page says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import structlog
from rich.console import Console

from bot.telemetry.auth import OperatorKey
from bot.telemetry.cli_support import EXIT_USAGE, broker_client
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.monitor import MonitorView
from bot.telemetry.monitor_checks import BotView, masked_state
from bot.telemetry.operator_cmd import send_command

__all__ = ["FleetBoard", "FleetCommander", "watch_broker"]

_log = structlog.get_logger("hedgebot.telemetry.dashboard")

MAX_HISTORY_POINTS = 2000  # per bot
MAX_BOT_EVENTS = 100  # per bot
MAX_BOTS = 500
STATELESS_EXPIRE_S = 900.0  # an id never seen with a valid state goes after 15 min unheard
EXPIRE_S = 86_400.0  # any bot goes after a day unheard
_EXPIRY_EVERY_S = 10.0
# the history's series: the state's value at each location (``None``: not believed)
_HISTORY_POINTS: dict[str, tuple[str, ...]] = {
    "price": ("price",),
    "delta": ("delta_base",),
    "hedge": ("hedge_base",),
    "drift": ("drift_base",),
    "band": ("band_base",),
    "net": ("pnl", "net"),
}
_EXIT_STATUS = {0: "applied", 1: "rejected", 2: "timeout", 3: "unreachable", 4: "refused"}


def _row_numbers(view: BotView) -> dict[str, Any]:
    """The row's numbers as exact strings (``"?"``: a value not believed, named in the
    problem); nothing without a state."""
    state = view.state
    if state is None:
        return {}
    shown = masked_state(state, view.doubts)
    return {
        "block": shown["block"],
        "delta": shown["delta_base"],
        "hedge": shown["hedge_base"],
        "drift": shown["drift_base"],
        "band": shown["band_base"],
        "margin": shown["margin_ratio"],
        "net_pnl": shown["pnl"]["net"],
        "paused": state.paused,
    }


def _point(view: BotView, *loc: str) -> float | None:
    """A chart point of the state's value at ``loc``; None (a gap) for one not believed."""
    if view.doubted(*loc):
        return None
    value: Any = view.state
    for part in loc:
        value = getattr(value, part)
    return None if value is None else float(value)


@dataclass
class _BotTrail:
    """What the board keeps per bot beyond the monitor's view."""

    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_HISTORY_POINTS))
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_BOT_EVENTS))
    last_alert: dict[str, Any] | None = None


class FleetBoard:
    """The fleet's model: fed MQTT messages, read by the page; pushes each change to ``feed``."""

    def __init__(self, prefix: str, feed: DashboardFeed, clock: Any = time.time) -> None:
        self.prefix = prefix
        self.feed = feed
        self.view = MonitorView(prefix=prefix)
        self.started_at = clock()
        self._clock = clock
        self._trails: dict[str, _BotTrail] = {}
        self._last_seen: OrderedDict[str, float] = OrderedDict()  # least recently heard first
        self._retained: set[str] = set()  # ids the broker holds a retained message of
        self._next_expiry = self.started_at
        self.evicted = 0  # bots removed to make room for a new one (capacity ``MAX_BOTS``)
        self.expired = 0  # bots removed after ``STATELESS_EXPIRE_S`` / ``EXPIRE_S`` unheard

    def counts(self) -> dict[str, Any]:
        """``{"capacity", "evicted", "expired"}``: what the page says about the bots it let go."""
        return {"capacity": MAX_BOTS, "evicted": self.evicted, "expired": self.expired}

    def row(self, bot_id: str) -> dict[str, Any]:
        """One row: ``bot_id``, ``status`` (online/offline/?), numbers as strings, last alert."""
        view = self.view.bots[bot_id]
        trail = self._trails.get(bot_id, _BotTrail())
        return {
            "bot_id": bot_id,
            "status": view.status,
            "problem": view.problem,
            "last_alert": trail.last_alert,
            **_row_numbers(view),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Every bot seen, sorted by id."""
        return [self.row(bot_id) for bot_id in sorted(self.view.bots)]

    def detail(self, bot_id: str) -> dict[str, Any] | None:
        """A bot's live view: the last state, its in-memory history and events; None: unseen."""
        view = self.view.bots.get(bot_id)
        if view is None:
            return None
        trail = self._trails.get(bot_id, _BotTrail())
        state = None if view.state is None else masked_state(view.state, view.doubts)
        return {
            "row": self.row(bot_id),
            "state": state,
            "history": list(trail.history),
            "events": list(trail.events)[::-1],
        }

    def apply(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """Take in one message from ``<prefix>/<bot>/(status|state|events)`` (``retained``:
        the broker's retained copy). A new bot beyond ``MAX_BOTS`` evicts the least recently
        heard one, preferring ids with no retained message and no valid state, then offline
        ones; ids unheard for a while expire."""
        head = f"{self.prefix}/"
        bot_id, _, kind = (
            topic[len(head) :].partition("/") if topic.startswith(head) else ("", "", "")
        )
        if not bot_id:
            return
        now = self._clock()
        self._expire(now)
        events_before = len(self.view.events)
        last_event = self.view.events[-1] if self.view.events else None
        self.view.apply(topic, payload, now)
        if bot_id not in self.view.bots:
            return
        self._last_seen[bot_id] = now
        self._last_seen.move_to_end(bot_id)
        if retained:
            self._retained.add(bot_id)
        if len(self.view.bots) > MAX_BOTS:
            self._evict(keep=bot_id)
        trail = self._trails.setdefault(bot_id, _BotTrail())
        if kind == "state":
            self._on_state(bot_id, trail)
        elif (
            kind == "events"
            and self.view.events
            and (len(self.view.events) != events_before or self.view.events[-1] is not last_event)
        ):
            self._on_event(trail, self.view.events[-1][1].model_dump(mode="json"))
        self.feed.publish_status({"kind": "bot", **self.row(bot_id)})

    def _weakness(self, bot_id: str) -> int:
        """2: no retained message and no valid state (likely noise), 1: offline, 0: else."""
        view = self.view.bots[bot_id]
        if view.state is None and bot_id not in self._retained:
            return 2
        return 1 if view.status != "online" else 0

    def _evict(self, keep: str) -> None:
        """Remove the weakest, least recently heard bot other than ``keep``."""
        victim, weakest = None, -1
        for bot_id in self._last_seen:  # least recently heard first
            weakness = self._weakness(bot_id) if bot_id != keep else -1
            if weakness > weakest:
                victim, weakest = bot_id, weakness
                if weakness == 2:
                    break
        if victim is not None:
            self._remove(victim)
            self.evicted += 1

    def _expire(self, now: float) -> None:
        if now < self._next_expiry:
            return
        self._next_expiry = now + _EXPIRY_EVERY_S
        for bot_id, seen in list(self._last_seen.items()):
            unheard = now - seen
            if unheard < STATELESS_EXPIRE_S:
                break  # the rest were heard more recently
            if unheard >= EXPIRE_S or self.view.bots[bot_id].state is None:
                self._remove(bot_id)
                self.expired += 1

    def _remove(self, bot_id: str) -> None:
        self.view.bots.pop(bot_id, None)
        self._trails.pop(bot_id, None)
        self._last_seen.pop(bot_id, None)
        self._retained.discard(bot_id)
        self.feed.publish_status({"kind": "removed", "bot_id": bot_id, **self.counts()})

    def _on_state(self, bot_id: str, trail: _BotTrail) -> None:
        view = self.view.bots[bot_id]
        state = view.state
        if state is None:
            return
        trail.history.append(
            {
                "t": self._clock(),
                "block": None if view.doubted("block") else state.block,
                **{name: _point(view, *loc) for name, loc in _HISTORY_POINTS.items()},
            }
        )

    def _on_event(self, trail: _BotTrail, event: dict[str, Any]) -> None:
        trail.events.append(event)
        if event.get("type") == "alert":
            trail.last_alert = {"ts": event.get("ts"), "alert": event.get("data", {}).get("alert")}


@dataclass(frozen=True)
class FleetCommander:
    """Sends a command to one bot through the broker with ``hedgebot cmd``'s own code
    (signed with the operator key, the signed ack bound to our message)."""

    url: str
    prefix: str
    operator_key: OperatorKey | None
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0

    async def send(self, bot_id: str, command: str, params: dict[str, Any]) -> dict[str, Any]:
        """``{"bot_id", "command", "status": applied|rejected|timeout|unreachable|refused,
        "reason"}``."""
        out = io.StringIO()
        code = await send_command(
            self.url,
            self.prefix,
            bot_id,
            command,
            params,
            timeout_s=self.timeout_s,
            operator_key=self.operator_key,
            username=self.username,
            password=self.password,
            console=Console(file=out, width=400, color_system=None),
        )
        said = out.getvalue().strip()
        status = _EXIT_STATUS.get(code, "refused")
        if code == EXIT_USAGE:  # printed on stderr: say it here
            said = "the dashboard has no operator key (HEDGEBOT_OPERATOR_KEY)"
        return {"bot_id": bot_id, "command": command, "status": status, "reason": said}


async def watch_broker(
    board: FleetBoard,
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    stop: asyncio.Event,
) -> None:
    """Feed ``board`` from the broker until ``stop``; reconnects after 1 s when it drops."""
    while not stop.is_set():
        try:
            async with broker_client(url, username, password) as client:
                for kind in ("status", "state", "events"):
                    await client.subscribe(f"{board.prefix}/+/{kind}", qos=1)
                board.feed.publish_status({"kind": "broker", "connected": True})
                await _pump(client, board, stop)
        except aiomqtt.MqttError as exc:
            _log.warning("fleet.broker_lost", error=str(exc))
            board.feed.publish_status({"kind": "broker", "connected": False})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await stop.wait()


async def _pump(client: aiomqtt.Client, board: FleetBoard, stop: asyncio.Event) -> None:
    messages = aiter(client.messages)
    while not stop.is_set():
        next_message = asyncio.ensure_future(anext(messages))
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({next_message, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if next_message not in done:
            next_message.cancel()
            return
        message = next_message.result()
        payload = message.payload
        if isinstance(payload, bytes | bytearray):
            board.apply(str(message.topic), bytes(payload), retained=bool(message.retain))


def broker_password() -> str | None:
    """The broker password, from ``$MQTT_PASSWORD`` only."""
    return os.environ.get("MQTT_PASSWORD") or None
