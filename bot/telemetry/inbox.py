"""The command channel without the connection: what each message on ``cmd`` becomes.

A message is queued for the engine, refused with an ack, or (a copy of a command already
accepted) answered with that command's own outcome. Every ack is signed and carries ``ref``,
the SHA-256 of the exact message bytes it answers, so an operator believes only the answer to
the message it sent: a forged or duplicated copy of its command gets an answer bound to that
copy, never to the original (docs/mqtt.md, "Acks are bound to one message").
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, Protocol

import structlog

from bot.ports import Clock
from bot.safety import MAX_COMMAND_BYTES, MAX_JSON_DEPTH, PayloadRejected, loads_bounded
from bot.telemetry.command_text import MAX_REASON_CHARS, echo
from bot.telemetry.commands import (
    Command,
    CommandValidator,
    Redelivery,
    Refusal,
    Rejection,
)
from bot.telemetry.messages import CommandAck, EventMessage
from bot.telemetry.settings import Topics

__all__ = ["RETAINED_REFUSAL", "CommandInbox", "CommandLedger", "message_ref"]

_log = structlog.get_logger("hedgebot.telemetry.inbox")

RETAINED_REFUSAL = "retained commands are refused"
QUEUE_FULL_REFUSAL = "command queue full: resend with a new id later"


class CommandLedger(Protocol):
    """Where used-up command ids are recorded (``SqliteStore.record_command`` fits)."""

    async def record_command(
        self, ts: float, command_id: str, command: str, status: str, body: dict[str, Any]
    ) -> None:
        """Record one command id with its outcome (``ok``/``rejected``)."""
        ...


def message_ref(payload: bytes) -> str:
    """The ``ref`` an ack carries: lowercase hex SHA-256 of the exact message bytes."""
    return hashlib.sha256(payload).hexdigest()


MAX_COMMAND_NAME_CHARS = 32  # a command's name as an event shows it (the longest is 15)


def command_name(payload: bytes) -> str | None:
    """The ``command`` a message names (``pause``...), bounded and escaped for the ``command``
    event, or None when it names none (not JSON, not an object, no string ``command``).
    Never raises for what the message holds."""
    try:
        body = loads_bounded(payload, max_bytes=MAX_COMMAND_BYTES, max_depth=MAX_JSON_DEPTH)
    except (PayloadRejected, ValueError, RecursionError):
        return None
    name = body.get("command") if isinstance(body, dict) else None
    return echo(name, MAX_COMMAND_NAME_CHARS) if isinstance(name, str) else None


class CommandInbox:
    """Validates what arrives on ``cmd``, queues commands and signs the acks.

    ``publish_event`` receives one ``command`` event per outcome; ``wake`` is called when an
    ack is queued on ``acks`` (wire-form bytes, oldest first, at most ``queue_size``).
    ``ledger`` records ids used up before the engine saw them (None: memory only).
    """

    def __init__(
        self,
        topics: Topics,
        validator: CommandValidator,
        *,
        queue_size: int,
        clock: Clock,
        publish_event: Callable[[EventMessage], None],
        wake: Callable[[], None],
        ledger: CommandLedger | None = None,
    ) -> None:
        self.topics = topics
        self.validator = validator
        self.commands: asyncio.Queue[Command] = asyncio.Queue(queue_size)
        self.acks: deque[bytes] = deque()
        self.refused_commands = 0
        self._queue_size = queue_size
        self._clock = clock
        self._publish_event = publish_event
        self._wake = wake
        self._ledger = ledger
        self._refs: dict[str, str] = {}  # queued command id -> ref of the message that bore it
        self._names: dict[str, str] = {}  # queued command id -> its command name

    async def receive(self, payload: bytes, *, retained: bool) -> None:
        """Handle one message from ``cmd`` (``retained``: the broker's retain flag). Never
        raises for what the message holds."""
        ref = message_ref(payload)
        verdict = self.validator.validate(payload, self.topics.cmd)
        if retained:
            await self._refuse_retained(verdict, ref, payload)
            return
        if isinstance(verdict, Redelivery):
            self._answer_copy(verdict, ref, command_name(payload))
            return
        if isinstance(verdict, Rejection):
            await self._record(verdict)
            self._reject(
                verdict.command_id,
                verdict.reason,
                ref,
                size_bytes=len(payload),
                command=_rejected_name(verdict, payload),
            )
            return
        try:
            self.commands.put_nowait(verdict)
        except asyncio.QueueFull:
            await self._use_up(verdict, QUEUE_FULL_REFUSAL)
            self._reject(verdict.id, QUEUE_FULL_REFUSAL, ref, command=verdict.command)
            return
        self._refs[verdict.id] = ref
        self._names[verdict.id] = verdict.command
        _log.info("command.received", id=verdict.id, command=verdict.command, ref=ref)

    async def ack(self, command_id: str, ok: bool, reason: str | None = None) -> None:
        """The engine's outcome of a queued command, bound to the message that carried it."""
        if ok:
            self.validator.mark_applied(command_id)
        else:
            self.validator.mark_rejected(command_id, reason)
        status: Literal["ok", "rejected"] = "ok" if ok else "rejected"
        ref = self._refs.pop(command_id, None)
        self._answer(command_id, status, reason, ref, self._names.pop(command_id, None))

    async def _refuse_retained(
        self, verdict: Command | Rejection | Redelivery, ref: str, payload: bytes
    ) -> None:
        """A retained command is refused whatever it holds; a signed one uses up its id."""
        if isinstance(verdict, Rejection):
            await self._record(verdict)
        elif not isinstance(verdict, Redelivery):
            await self._use_up(verdict, RETAINED_REFUSAL)
        name = command_name(payload)
        self._reject(None, RETAINED_REFUSAL, ref, size_bytes=len(payload), command=name)

    async def _use_up(self, command: Command, reason: str) -> None:
        self.validator.mark_refused(command.id, reason)
        await self._record(Refusal(command.id, reason, command=command.command))

    async def _record(self, verdict: Rejection) -> None:
        """Persist an id used up before the engine (``Refusal``); other rejections are not."""
        if not isinstance(verdict, Refusal) or verdict.command_id is None:
            return
        if self._ledger is None:
            return
        body = {"reason": verdict.reason, "stage": "received"}
        try:
            await self._ledger.record_command(
                self._clock.now(), verdict.command_id, verdict.command, "rejected", body
            )
        except Exception as exc:  # noqa: BLE001 - a store fault must not drop the channel
            _log.error("command.record_failed", id=verdict.command_id, error=type(exc).__name__)

    def _answer_copy(self, copy: Redelivery, ref: str, name: str | None) -> None:
        """Another copy of an accepted command: never a rejection of the command itself."""
        _log.info(
            "command.redelivered", id=copy.command_id, command=name, status=copy.status, ref=ref
        )
        if copy.status == "queued":
            return  # the engine's ack for the original is still to come
        status: Literal["ok", "rejected"] = "ok" if copy.status == "applied" else "rejected"
        self._queue_ack(CommandAck(id=copy.command_id, status=status, reason=copy.reason, ref=ref))

    def _reject(
        self,
        command_id: str | None,
        reason: str,
        ref: str,
        size_bytes: int | None = None,
        command: str | None = None,
    ) -> None:
        self.refused_commands += 1
        _log.warning(
            "command.rejected",
            id=None if command_id is None else echo(command_id),
            command=command,
            reason=echo(reason, MAX_REASON_CHARS),
            ref=ref,
            size_bytes=size_bytes,
        )
        self._answer(command_id, "rejected", reason, ref, command)

    def _answer(
        self,
        command_id: str | None,
        status: Literal["ok", "rejected"],
        reason: str | None,
        ref: str | None,
        command: str | None,
    ) -> None:
        """Queue the signed ack and publish the ``command`` event, which names the command
        (``command``: its name, None when the message named none) and its id."""
        shown_id = None if command_id is None else echo(command_id)
        shown_reason = None if reason is None else echo(reason, MAX_REASON_CHARS)
        shown_name = None if command is None else echo(command, MAX_COMMAND_NAME_CHARS)
        self._queue_ack(CommandAck(id=shown_id, status=status, reason=shown_reason, ref=ref))
        self._publish_event(
            EventMessage(
                type="command",
                ts=self._clock.now(),
                data={
                    "id": shown_id,
                    "command": shown_name,
                    "status": status,
                    "reason": shown_reason,
                    "ref": ref,
                },
            )
        )

    def _queue_ack(self, ack: CommandAck) -> None:
        """Sign ``ack`` (when the bot has the operator key) and queue its wire form."""
        key = self.validator.operator_key
        if key is not None:
            ack = ack.model_copy(update={"sig": key.sign(self.topics.cmd_ack, ack.signed_body())})
        self.acks.append(ack.to_json())
        while len(self.acks) > self._queue_size:
            self.acks.popleft()
        self._wake()


def _rejected_name(verdict: Rejection, payload: bytes) -> str | None:
    """The name of a refused command: the validator's when it read one, else the message's."""
    if isinstance(verdict, Refusal) and verdict.command != "?":
        return verdict.command
    return command_name(payload)
