"""Commands from a page, through the same validated path as MQTT.

A page's command becomes the MQTT wire form, signed with a key that lives only in this
process, and goes through ``CommandValidator`` (bounded parse, schema, freshness, each id used
once) into the engine's command queue: the same queue and the same checks as a command from
the broker. The hub is the engine's ``CommandSource``: it answers the page's own commands and
passes every other ack to the MQTT channel it wraps.

An action that must not wait for the engine (the kill switch: a file the engine reads at every
tick, so that it works while the engine is stuck) is applied by the page and recorded here
like a command (:meth:`CommandHub.record_action`): a row in the store's commands table with
its outcome (written by :func:`bot.telemetry.action_record.record_action`, as ``hedgebot
kill`` writes its own), a ``command`` event, a log line and the page's ack.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from bot.clock import WallClock
from bot.engine import CommandSource
from bot.ports import Clock
from bot.telemetry.action_record import (
    PAGE_ID_PREFIX,
    RECORD_TIMEOUT_S,
    action_id,
    record_action,
)
from bot.telemetry.auth import OperatorKey
from bot.telemetry.commands import Command, CommandValidator, Redelivery, Rejection
from bot.telemetry.inbox import CommandLedger
from bot.telemetry.messages import EventMessage

__all__ = ["CommandHub", "PageAck"]

_log = structlog.get_logger("hedgebot.telemetry.dashboard")

DEFAULT_QUEUE_SIZE = 16
DASHBOARD_TOPIC = "dashboard/{bot_id}/cmd"
# page commands waiting for the engine's ack: one is added per queued command and removed by
# its ack, so a command taken from the queue and never acked (a session that ended between
# taking and applying it) would stay forever; past the cap the oldest is forgotten (logged;
# its page was already told ``queued``) and its late ack is dropped, never sent to MQTT
MAX_PENDING_ACKS = 64
# ids this hub issued, remembered so that their acks (even a forgotten one's, late) are never
# passed to MQTT; an ack is routed by this set, never by the id's look (an MQTT command may
# well be called ``web-123``); past the cap the oldest ids are forgotten
MAX_ISSUED_IDS = 4096


@dataclass(frozen=True, slots=True)
class PageAck:
    """What a page is told: ``applied``/``rejected`` by the engine or the validator, or
    ``queued`` when the engine has not answered within the wait (it applies between ticks)."""

    id: str
    command: str
    status: Literal["applied", "rejected", "queued"]
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"id", "command", "status", "reason"}``."""
        return {
            "id": self.id,
            "command": self.command,
            "status": self.status,
            "reason": self.reason,
        }


class CommandHub:
    """The engine's command source: the MQTT channel's queue (or one of its own) plus the
    commands submitted from a page.

    ``upstream``: the MQTT command source (None without a broker). ``seen_ids``: command ids
    already in the store (used once, ever). ``on_outcome`` (set by the page) receives a
    ``command`` event for every outcome the engine reports (a page's or MQTT's command: the
    engine acks both here), so the live event log shows commands as they are applied.
    ``ledger`` (set by the page: the store) records the page's direct actions
    (:meth:`record_action`), each write given at most ``record_timeout_s`` seconds.
    """

    def __init__(
        self,
        bot_id: str,
        upstream: CommandSource | None = None,
        *,
        seen_ids: Iterable[str] | Mapping[str, str] = (),
        clock: Clock | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        record_timeout_s: float = RECORD_TIMEOUT_S,
    ) -> None:
        self._clock: Clock = clock if clock is not None else WallClock()
        self._topic = DASHBOARD_TOPIC.format(bot_id=bot_id)
        self._key = OperatorKey(secrets.token_hex(32))  # never leaves this process
        self.validator = CommandValidator(seen_ids, operator_key=self._key, clock=self._clock)
        self._upstream = upstream
        self.commands: asyncio.Queue[Command] = (
            upstream.commands if upstream is not None else asyncio.Queue(queue_size)
        )
        self._pending: dict[str, tuple[str, asyncio.Future[PageAck]]] = {}
        self._issued: dict[str, None] = {}  # insertion-ordered, at most MAX_ISSUED_IDS
        self.on_outcome: Callable[[EventMessage], None] | None = None
        self.ledger: CommandLedger | None = None
        self._record_timeout_s = record_timeout_s

    def attach(self, upstream: CommandSource | None) -> None:
        """Serve ``upstream``'s commands too (its queue becomes the engine's queue); call
        before the engine starts."""
        self._upstream = upstream
        if upstream is not None:
            self.commands = upstream.commands

    async def submit(
        self, command: str, params: Mapping[str, Any], *, wait_s: float = 10.0
    ) -> PageAck:
        """Validate and queue one command; wait up to ``wait_s`` for the engine's answer."""
        command_id = action_id(PAGE_ID_PREFIX)
        self._issue(command_id)
        body: dict[str, Any] = {"id": command_id, "command": command, "params": dict(params)}
        body["ts"] = int(self._clock.now())
        raw = json.dumps(self._key.signed(self._topic, body)).encode()
        verdict = self.validator.validate(raw, self._topic)
        shown = command if isinstance(command, str) else "?"
        if isinstance(verdict, Rejection | Redelivery):
            reason = verdict.reason if isinstance(verdict, Rejection) else "duplicate id"
            _log.warning("command.rejected", id=command_id, command=shown, reason=reason)
            return PageAck(command_id, shown, "rejected", reason)
        future: asyncio.Future[PageAck] = asyncio.get_running_loop().create_future()
        try:
            self.commands.put_nowait(verdict)
        except asyncio.QueueFull:
            self.validator.mark_refused(command_id, "command queue full")
            return PageAck(command_id, shown, "rejected", "command queue full: retry later")
        self._pending[command_id] = (shown, future)
        while len(self._pending) > MAX_PENDING_ACKS:
            oldest = next(iter(self._pending))
            command_shown, forgotten = self._pending.pop(oldest)
            if not forgotten.done():  # a page still waiting is told what the others were
                reason = "no answer from the engine yet; its outcome will not be shown here"
                forgotten.set_result(PageAck(oldest, command_shown, "queued", reason))
            _log.warning("command.ack_forgotten", id=oldest, pending=MAX_PENDING_ACKS)
        _log.info("command.received", id=command_id, command=shown, source="dashboard")
        try:
            async with asyncio.timeout(wait_s):
                return await asyncio.shield(future)
        except TimeoutError:
            return PageAck(command_id, shown, "queued", "waiting for the next tick")

    async def record_action(
        self,
        command: str,
        params: Mapping[str, Any],
        error: str | None,
    ) -> PageAck:
        """Record an operator action the page applied itself (``error``: why it failed, None:
        it took effect) like a command: a row in ``ledger`` (id ``web-…``, ``command``,
        status ``ok``/``rejected``, body ``{"params", "reason"}``), a ``command`` event to
        ``on_outcome`` and a log line. The ack is ``applied`` or ``rejected``; a ledger that
        fails or takes over ``record_timeout_s`` seconds does not undo the action: the ack
        then says it was not recorded (and so does the log)."""
        command_id = action_id(PAGE_ID_PREFIX)
        self._issue(command_id)
        ok = error is None
        reason = error
        if self.ledger is not None:
            unrecorded = await record_action(
                self.ledger,
                ts=self._clock.now(),
                command_id=command_id,
                command=command,
                params=params,
                error=error,
                timeout_s=self._record_timeout_s,
            )
            if unrecorded is not None:
                _log.error("command.unrecorded", id=command_id, command=command, error=unrecorded)
                reason = unrecorded if reason is None else f"{reason}; {unrecorded}"
        _log.warning(
            "command.applied" if ok else "command.rejected",
            id=command_id,
            command=command,
            params=dict(params),
            reason=error,
            source="dashboard",
        )
        self._tell(command_id, command, ok, reason, params)
        return PageAck(command_id, command, "applied" if ok else "rejected", reason)

    def _issue(self, command_id: str) -> None:
        self._issued[command_id] = None
        while len(self._issued) > MAX_ISSUED_IDS:
            del self._issued[next(iter(self._issued))]

    @property
    def pending_acks(self) -> int:
        """Page commands waiting for the engine's ack (at most ``MAX_PENDING_ACKS``)."""
        return len(self._pending)

    async def ack(self, command_id: str, ok: bool, reason: str | None = None) -> None:
        """The engine's outcome: answers the page that sent it, or the MQTT channel when this
        hub did not issue ``command_id`` (whatever the id looks like); either way a
        ``command`` event goes to ``on_outcome``."""
        pending = self._pending.pop(command_id, None)
        self._tell(command_id, None if pending is None else pending[0], ok, reason)
        if pending is None:
            if command_id in self._issued:  # a page's, forgotten: not MQTT's
                _log.info("command.late_ack", id=command_id, ok=ok)
            elif self._upstream is not None:
                await self._upstream.ack(command_id, ok, reason)
            return
        if ok:
            self.validator.mark_applied(command_id)
        else:
            self.validator.mark_rejected(command_id, reason)
        command, future = pending
        if not future.done():
            future.set_result(PageAck(command_id, command, "applied" if ok else "rejected", reason))

    def _tell(
        self,
        command_id: str,
        command: str | None,
        ok: bool,
        reason: str | None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """The ``command`` event of an outcome (``command`` None: an MQTT command, whose name
        only the store's row carries; ``params`` given for a page's direct action)."""
        if self.on_outcome is None:
            return
        data: dict[str, Any] = {
            "id": command_id,
            "command": command,
            "status": "ok" if ok else "rejected",
            "reason": reason,
        }
        if params is not None:
            data["params"] = dict(params)
        self.on_outcome(EventMessage(type="command", ts=self._clock.now(), data=data))
