"""Operator commands: schema and validation of what arrives on ``<prefix>/cmd``.

Wire form: ``{"id": "<unique>", "command": "<name>", "params": {...}, "ts": <unix s>,
"sig": "<hex>"}`` (``ts``/``sig``: ``bot.telemetry.auth``). Every message is untrusted: it is
size-bounded before parsing, parsed with a depth limit, authenticated, then checked against the
schema; anything else is refused with a bounded, printable one-line reason. Each id is accepted
once, ever: ids come preloaded from the store and every id accepted since is remembered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from bot.clock import WallClock
from bot.ports import Clock
from bot.safety import MAX_COMMAND_BYTES, MAX_JSON_DEPTH, PayloadRejected, json_depth, loads_bounded
from bot.telemetry.auth import OPERATOR_KEY_ENV, OperatorKey

MAX_ID_LENGTH = 64
MAX_REASON_CHARS = 300
MAX_BASE = Decimal("1e30")  # a threshold beyond any pool's supply: a typo, not a band
DEFAULT_MAX_AGE_S = 60.0
ENVELOPE_FIELDS = ("ts", "sig")

CommandName = Literal[
    "pause", "resume", "flatten", "rebalance_now", "set_hedge_ratio", "set_threshold"
]
COMMAND_NAMES: tuple[str, ...] = get_args(CommandName)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(_Strict):
    """Commands that take no parameters."""


class FlattenParams(_Strict):
    """Flattening closes the whole hedge, so it must be confirmed explicitly."""

    confirm: Annotated[bool, Field(strict=True)]

    @model_validator(mode="after")
    def _confirmed(self) -> FlattenParams:
        if not self.confirm:
            raise ValueError("confirm must be true")
        return self


class HedgeRatioParams(_Strict):
    """New hedge ratio: target = -value * LP delta."""

    value: Annotated[Decimal, Field(ge=0, le=2, allow_inf_nan=False)]


class ThresholdParams(_Strict):
    """New rebalancing band, absolute (base units) and/or as a fraction of the LP delta."""

    base: Annotated[Decimal, Field(gt=0, le=MAX_BASE, allow_inf_nan=False)] | None = None
    fraction: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> ThresholdParams:
        if self.base is None and self.fraction is None:
            raise ValueError("set base and/or fraction")
        return self


def _printable(command_id: str) -> str:
    if not command_id.isprintable():
        raise ValueError("must be printable characters only")
    return command_id


CommandId = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_printable)
]


class Pause(_Strict):
    """Stop trading; keep reading and publishing."""

    id: CommandId
    command: Literal["pause"]
    params: NoParams = NoParams()


class Resume(_Strict):
    """Trade again after a pause."""

    id: CommandId
    command: Literal["resume"]
    params: NoParams = NoParams()


class Flatten(_Strict):
    """Close the hedge (reduce-only) and pause."""

    id: CommandId
    command: Literal["flatten"]
    params: FlattenParams


class RebalanceNow(_Strict):
    """Trade to the target on the next tick regardless of the band."""

    id: CommandId
    command: Literal["rebalance_now"]
    params: NoParams = NoParams()


class SetHedgeRatio(_Strict):
    """Change the hedge ratio at run time."""

    id: CommandId
    command: Literal["set_hedge_ratio"]
    params: HedgeRatioParams


class SetThreshold(_Strict):
    """Change the rebalancing band at run time."""

    id: CommandId
    command: Literal["set_threshold"]
    params: ThresholdParams


Command = Annotated[
    Pause | Resume | Flatten | RebalanceNow | SetHedgeRatio | SetThreshold,
    Field(discriminator="command"),
]
_COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a command was refused; ``command_id`` (printable, at most 64 chars) when one was read."""

    command_id: str | None
    reason: str

    def __post_init__(self) -> None:
        if self.command_id is not None:
            object.__setattr__(self, "command_id", echo(self.command_id))
        object.__setattr__(self, "reason", echo(self.reason, MAX_REASON_CHARS))


def echo(text: str, limit: int = MAX_ID_LENGTH) -> str:
    """``text`` safe to log, publish and print: at most ``limit`` characters (a final ``…``
    marks a cut), non-printable characters and lone surrogates escaped (``\\x1b``,
    ``\\ud800``). Looks at no more of ``text`` than it can show."""
    out: list[str] = []
    size = 0
    for ch in text[: limit + 1]:
        shown = ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode()
        out.append(shown)
        size += len(shown)
        if size > limit:
            break
    shown_text = "".join(out)
    return shown_text if size <= limit else shown_text[: limit - 1] + "…"


_READABLE = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "required",
    "extra_forbidden": "unknown field",
    "literal_error": "must be {expected}",
    "string_too_long": "longer than {max_length} characters",
    "string_too_short": "must not be empty",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "string_unicode": "must be printable characters only",  # a lone surrogate
}


def _describe(error: Any) -> str:
    # loc starts with the union tag (the command name); drop it
    loc = [echo(str(part), 32) for part in error["loc"][1:]]
    where = ".".join(loc) or "(command)"
    template = _READABLE.get(error["type"])
    if template is not None:
        try:
            return f"{where}: {template.format(**(error.get('ctx') or {}))}"
        except KeyError:
            return f"{where}: {template}"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


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
        return _COMMAND_ADAPTER.validate_python(body)
    except ValidationError as exc:
        return Rejection(command_id, "; ".join(_describe(e) for e in exc.errors()))
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


class CommandValidator:
    """Authenticates and validates commands; each id is accepted once, ever.

    ``seen_ids``: ids recorded before a restart, as an iterable (all applied) or a mapping of
    id to the store's status (``ok``/``rejected``). With no ``operator_key`` every command is
    refused (secure by default). ``max_age_s``: how far ``ts`` may be from ``clock`` (wall
    time, seconds), either way.
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
        self._seen: dict[str, IdStatus] = {}
        if isinstance(seen_ids, Mapping):
            for command_id, status in seen_ids.items():
                self._seen[command_id] = _STORE_STATUS.get(status, "rejected")
        else:
            self._seen.update(dict.fromkeys(seen_ids, "applied"))

    def validate(self, raw: bytes | str, topic: str) -> Command | Rejection:
        """A valid, signed, fresh, never-seen command (now remembered as queued), or why not.

        ``topic`` is where it arrived (part of what is signed). Never raises.
        """
        obj = decode_command(raw)
        if isinstance(obj, Rejection):
            return obj
        refused = self._authenticate(obj, topic)
        if refused is not None:
            return Rejection(obj["id"], refused)
        result = _validate_schema(obj)
        if isinstance(result, Rejection):
            return result
        seen = self._seen.get(result.id)
        if seen is not None:
            return Rejection(result.id, f"duplicate id {result.id!r}: command already {seen}")
        self._seen[result.id] = "queued"
        return result

    def _authenticate(self, obj: dict[str, Any], topic: str) -> str | None:
        if self.operator_key is None:
            return f"commands are disabled: the bot has no operator key ({OPERATOR_KEY_ENV})"
        if "sig" not in obj:
            return "unsigned command: sign it with the operator key (docs/mqtt.md, Signing)"
        if not self.operator_key.verify(topic, obj):
            return "bad signature"
        ts = obj.get("ts")
        if not isinstance(ts, int) or isinstance(ts, bool):
            return "ts: required, unix seconds as an integer"
        try:
            skew_s = float(ts) - self._clock.now()
        except OverflowError:
            skew_s = float("inf")
        if not abs(skew_s) <= self.max_age_s:
            limit = f"{self.max_age_s:g}"
            return f"stale command: ts is {skew_s:+.0f} s from the bot's clock (limit {limit} s)"
        return None

    def mark_applied(self, command_id: str) -> None:
        """The engine applied this command: its id is never accepted again."""
        self._seen[command_id] = "applied"

    def mark_rejected(self, command_id: str) -> None:
        """The engine refused this command: its id is never accepted again either."""
        if self._seen.get(command_id) != "applied":
            self._seen[command_id] = "rejected"

    def mark_refused(self, command_id: str) -> None:
        """Refused before reaching the engine (queue full): a resend needs a new id."""
        if self._seen.get(command_id) in (None, "queued"):
            self._seen[command_id] = "refused"

    def status(self, command_id: str) -> IdStatus | None:
        """What became of ``command_id`` (None: never accepted)."""
        return self._seen.get(command_id)

    def is_applied(self, command_id: str) -> bool:
        """Whether ``command_id`` is remembered as applied."""
        return self._seen.get(command_id) == "applied"
