"""Operator commands: schema and validation of what arrives on ``<prefix>/cmd``.

Wire form: ``{"id": "<unique>", "command": "<name>", "params": {...}, "ts": <unix s>,
"sig": "<hex>"}`` (``ts``/``sig``: ``bot.telemetry.auth``). Every message is untrusted: it is
size-bounded before parsing, parsed with a depth limit, authenticated, then checked against the
schema (``bot.telemetry.command_schema``, re-exported here); anything else is refused with a
bounded, printable one-line reason. Each id is accepted once, ever: ids come preloaded from
the store and every id accepted since is remembered.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from bot.clock import WallClock
from bot.ports import Clock
from bot.safety import MAX_COMMAND_BYTES, MAX_JSON_DEPTH, PayloadRejected, json_depth, loads_bounded
from bot.telemetry.auth import OPERATOR_KEY_ENV, OperatorKey
from bot.telemetry.command_schema import COMMAND_ADAPTER
from bot.telemetry.command_schema import COMMAND_NAMES as COMMAND_NAMES
from bot.telemetry.command_schema import MAX_BASE as MAX_BASE
from bot.telemetry.command_schema import MAX_DECIMALS as MAX_DECIMALS
from bot.telemetry.command_schema import Command as Command
from bot.telemetry.command_schema import CommandName as CommandName
from bot.telemetry.command_schema import Flatten as Flatten
from bot.telemetry.command_schema import FlattenParams as FlattenParams
from bot.telemetry.command_schema import HedgeRatioParams as HedgeRatioParams
from bot.telemetry.command_schema import NoParams as NoParams
from bot.telemetry.command_schema import Pause as Pause
from bot.telemetry.command_schema import RebalanceNow as RebalanceNow
from bot.telemetry.command_schema import Resume as Resume
from bot.telemetry.command_schema import SetHedgeRatio as SetHedgeRatio
from bot.telemetry.command_schema import SetThreshold as SetThreshold
from bot.telemetry.command_schema import ThresholdParams as ThresholdParams
from bot.telemetry.command_text import MAX_ID_LENGTH as MAX_ID_LENGTH
from bot.telemetry.command_text import MAX_REASON_CHARS as MAX_REASON_CHARS
from bot.telemetry.command_text import describe
from bot.telemetry.command_text import echo as echo

DEFAULT_MAX_AGE_S = 60.0
ENVELOPE_FIELDS = ("ts", "sig")


def _away_from_zero(seconds: float) -> str:
    """``seconds`` as signed whole seconds rounded away from zero (``+61``, ``-61``, ``+inf``)."""
    if not math.isfinite(seconds):
        return f"{seconds:+}"
    whole = math.ceil(abs(seconds))
    return f"-{whole}" if seconds < 0 else f"+{whole}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a command was refused; ``command_id`` (printable, at most 64 chars) when one was read."""

    command_id: str | None
    reason: str

    def __post_init__(self) -> None:
        if self.command_id is not None:
            object.__setattr__(self, "command_id", echo(self.command_id))
        object.__setattr__(self, "reason", echo(self.reason, MAX_REASON_CHARS))


def _load(raw: bytes | str) -> Any:
    """Bounded JSON (``bot.safety``); ``NaN``/``Infinity`` literals read as floats so that the
    schema refuses them naming the field. Raises ``PayloadRejected``."""
    try:
        return loads_bounded(raw, max_bytes=MAX_COMMAND_BYTES, max_depth=MAX_JSON_DEPTH)
    except PayloadRejected as refused:
        # the message is small and the recursion limit sane (loads_bounded saw to both): the
        # only refusal a second parse can get past is a non-finite literal
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
            value = json.loads(text, parse_constant=float)
        except (RecursionError, ValueError):
            raise refused from None
        if json_depth(value) > MAX_JSON_DEPTH:
            raise refused from None
        return value


def decode_command(raw: bytes | str) -> dict[str, Any] | Rejection:
    """The message as a JSON object with a string ``id``, or why not (never raises)."""
    size = len(raw) if isinstance(raw, bytes | bytearray) else len(raw.encode("utf-8", "replace"))
    if size > MAX_COMMAND_BYTES:
        return Rejection(None, f"too large: {size} bytes (limit {MAX_COMMAND_BYTES})")
    try:
        obj = _load(raw)
    except ValueError as exc:  # PayloadRejected, and int conversions past the digit limit
        return Rejection(None, f"malformed JSON: {exc}")
    if not isinstance(obj, dict):
        return Rejection(None, "malformed command: expected a JSON object")
    raw_id = obj.get("id")
    if raw_id in (None, ""):
        return Rejection(None, "missing id")
    if not isinstance(raw_id, str):
        return Rejection(None, "id: must be a string")
    return obj


def _validate_schema(obj: dict[str, Any]) -> Command | Rejection:
    command_id: str = obj["id"]
    name = obj.get("command")
    if name not in COMMAND_NAMES:
        expected = ", ".join(COMMAND_NAMES)
        if name is None:
            return Rejection(command_id, f"missing command (expected one of {expected})")
        shown = echo(str(name), 32) if isinstance(name, str) else type(name).__name__
        return Rejection(command_id, f"unknown command {shown!r} (expected one of {expected})")
    body = {key: value for key, value in obj.items() if key not in ENVELOPE_FIELDS}
    try:
        return COMMAND_ADAPTER.validate_python(body)
    except ValidationError as exc:
        return Rejection(command_id, "; ".join(describe(e) for e in exc.errors()))
    except (ValueError, ArithmeticError) as exc:  # e.g. digits past the int-str limit
        return Rejection(command_id, f"malformed command: {type(exc).__name__}")


def parse_command(raw: bytes | str) -> Command | Rejection:
    """Shape only: bounded parse and schema, no signature check and no memory of earlier ids
    (``CommandValidator`` adds both). Never raises."""
    obj = decode_command(raw)
    if isinstance(obj, Rejection):
        return obj
    return _validate_schema(obj)


IdStatus = Literal["queued", "applied", "rejected", "refused"]
_STORE_STATUS: dict[str, IdStatus] = {"ok": "applied", "rejected": "rejected"}


@dataclass(frozen=True, slots=True)
class Refusal(Rejection):
    """A signed command refused before the engine (stale, future, schema, queue full): its id
    is used up all the same, so ``command`` (bounded name) and ``reason`` must be recorded."""

    command: str = "?"


@dataclass(frozen=True, slots=True)
class Redelivery:
    """Another copy of a command already accepted: same id, same valid signature (a QoS-1
    redelivery or a replay). Not a new command; ``status``/``reason`` say what became of it."""

    command_id: str
    status: IdStatus
    reason: str | None


@dataclass(frozen=True, slots=True)
class _Use:
    """What became of one id; ``sig`` (None when loaded from the store) tells its copies."""

    status: IdStatus
    sig: str | None = None
    reason: str | None = None


Verdict = Command | Rejection | Redelivery


class CommandValidator:
    """Authenticates and validates commands; each id is used once, ever.

    An id is used up as soon as a message carrying it verifies against the operator key,
    whatever follows (stale or future ``ts``, schema error, queue full, engine refusal): a
    captured command can never become a delayed trigger. ``seen_ids``: ids recorded before a
    restart, as an iterable (all applied) or a mapping of id to the store's status
    (``ok``/``rejected``). With no ``operator_key`` every command is refused (secure by
    default). ``max_age_s``: how far ``ts`` may be from ``clock`` (wall time, seconds).
    """

    def __init__(
        self,
        seen_ids: Iterable[str] | Mapping[str, str] = (),
        *,
        operator_key: OperatorKey | None = None,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Clock | None = None,
    ) -> None:
        if max_age_s <= 0:
            raise ValueError("max_age_s must be > 0")
        self.operator_key = operator_key
        self.max_age_s = max_age_s
        self._clock: Clock = clock if clock is not None else WallClock()
        self._seen: dict[str, _Use] = {}
        if isinstance(seen_ids, Mapping):
            for command_id, status in seen_ids.items():
                self._seen[command_id] = _Use(_STORE_STATUS.get(status, "rejected"))
        else:
            self._seen.update(dict.fromkeys(seen_ids, _Use("applied")))

    def validate(self, raw: bytes | str, topic: str) -> Verdict:
        """A valid, signed, fresh, never-seen command (now remembered as queued), a
        ``Redelivery`` of one already accepted, or why not (a ``Refusal`` when the id is now
        used up). ``topic`` is where it arrived (part of what is signed). Never raises.
        """
        obj = decode_command(raw)
        if isinstance(obj, Rejection):
            return obj
        refused = self._authenticate(obj, topic)
        if refused is not None:
            return Rejection(obj["id"], refused)
        command_id: str = obj["id"]
        sig: str = obj["sig"]
        used = self._seen.get(command_id)
        if used is not None:
            if used.sig == sig:
                return Redelivery(command_id, used.status, used.reason)
            return Rejection(
                command_id, f"duplicate id {command_id!r}: command already {used.status}"
            )
        problem = _id_problem(command_id) or self._freshness(obj)
        result = _validate_schema(obj) if problem is None else Rejection(command_id, problem)
        if isinstance(result, Rejection):
            if _id_problem(command_id) is not None:
                return result  # no such id can ever be applied: nothing to use up
            self._seen[command_id] = _Use("rejected", sig, result.reason)
            return Refusal(command_id, result.reason, command=_name_of(obj))
        self._seen[command_id] = _Use("queued", sig)
        return result

    def _authenticate(self, obj: dict[str, Any], topic: str) -> str | None:
        if self.operator_key is None:
            return f"commands are disabled: the bot has no operator key ({OPERATOR_KEY_ENV})"
        if "sig" not in obj:
            return "unsigned command: sign it with the operator key (docs/mqtt.md, Signing)"
        if not self.operator_key.verify(topic, obj):
            return "bad signature"
        return None

    def _freshness(self, obj: dict[str, Any]) -> str | None:
        ts = obj.get("ts")
        if not isinstance(ts, int) or isinstance(ts, bool):
            return "ts: required, unix seconds as an integer"
        try:
            skew_s = float(ts) - self._clock.now()
        except OverflowError:
            skew_s = float("inf")
        if not abs(skew_s) <= self.max_age_s:
            limit = f"{self.max_age_s:g}"
            shown = _away_from_zero(skew_s)  # 60.4 s past a 60 s limit never reads "60"
            return f"stale command: ts is {shown} s from the bot's clock (limit {limit} s)"
        return None

    def mark_applied(self, command_id: str) -> None:
        """The engine applied this command: its id is never accepted again."""
        used = self._seen.get(command_id, _Use("applied"))
        self._seen[command_id] = _Use("applied", used.sig)

    def mark_rejected(self, command_id: str, reason: str | None = None) -> None:
        """The engine refused this command: its id is never accepted again either."""
        used = self._seen.get(command_id, _Use("rejected"))
        if used.status != "applied":
            self._seen[command_id] = _Use("rejected", used.sig, reason)

    def mark_refused(self, command_id: str, reason: str | None = None) -> None:
        """Refused before reaching the engine (queue full): the id is used up too."""
        used = self._seen.get(command_id, _Use("refused"))
        if used.status in ("refused", "queued"):
            self._seen[command_id] = _Use("refused", used.sig, reason)

    def status(self, command_id: str) -> IdStatus | None:
        """What became of ``command_id`` (None: never accepted)."""
        used = self._seen.get(command_id)
        return None if used is None else used.status

    def is_applied(self, command_id: str) -> bool:
        """Whether ``command_id`` is remembered as applied."""
        return self.status(command_id) == "applied"


def _id_problem(command_id: str) -> str | None:
    """Why ``command_id`` can never be a command's id (too long, not printable), or None."""
    if len(command_id) > MAX_ID_LENGTH:
        return f"id: longer than {MAX_ID_LENGTH} characters"
    if not command_id.isprintable():
        return "id: must be printable characters only"
    return None


def _name_of(obj: dict[str, Any]) -> str:
    name = obj.get("command")
    return echo(name, 32) if isinstance(name, str) and name else "?"
