"""Operator commands: schema and validation of what arrives on ``<prefix>/cmd``.

Wire form: ``{"id": "<unique>", "command": "<name>", "params": {...}}``. Anything not in the
schema is refused with a one-line reason, and a command id is applied at most once: the
validator remembers (a bounded number of) ids already queued or applied.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

MAX_ID_LENGTH = 64

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

    base: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    fraction: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> ThresholdParams:
        if self.base is None and self.fraction is None:
            raise ValueError("set base and/or fraction")
        return self


CommandId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


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
    """Why a command was refused; ``command_id`` when one could be read."""

    command_id: str | None
    reason: str


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
}


def _describe(error: Any) -> str:
    # loc starts with the union tag (the command name); drop it
    loc = [str(part) for part in error["loc"][1:]]
    where = ".".join(loc) or "(command)"
    template = _READABLE.get(error["type"])
    if template is not None:
        try:
            return f"{where}: {template.format(**(error.get('ctx') or {}))}"
        except KeyError:
            return f"{where}: {template}"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


def parse_command(raw: bytes | str) -> Command | Rejection:
    """Parse and validate one message; no memory of earlier ids (see ``CommandValidator``)."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        obj = json.loads(text, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejection(None, f"malformed JSON: {exc}")
    if not isinstance(obj, dict):
        return Rejection(None, "malformed command: expected a JSON object")
    raw_id = obj.get("id")
    command_id = raw_id if isinstance(raw_id, str) and raw_id else None
    if "id" not in obj or raw_id in (None, ""):
        return Rejection(None, "missing id")
    if not isinstance(raw_id, str):
        return Rejection(None, "id: must be a string")
    name = obj.get("command")
    if name not in COMMAND_NAMES:
        expected = ", ".join(COMMAND_NAMES)
        if name is None:
            return Rejection(command_id, f"missing command (expected one of {expected})")
        return Rejection(command_id, f"unknown command {name!r} (expected one of {expected})")
    try:
        return _COMMAND_ADAPTER.validate_python(obj)
    except ValidationError as exc:
        return Rejection(command_id, "; ".join(_describe(e) for e in exc.errors()))


class CommandValidator:
    """Validates commands and refuses an id already queued or applied.

    The memory is bounded (oldest ids forgotten first); the store can pre-load the ids of
    commands applied before a restart.
    """

    def __init__(self, applied_ids: Iterable[str] = (), max_ids: int = 10_000) -> None:
        if max_ids < 1:
            raise ValueError("max_ids must be >= 1")
        self._max_ids = max_ids
        self._seen: OrderedDict[str, Literal["queued", "applied"]] = OrderedDict()
        for command_id in applied_ids:
            self.mark_applied(command_id)

    def validate(self, raw: bytes | str) -> Command | Rejection:
        """A valid, never-seen command (now remembered as queued), or why not."""
        result = parse_command(raw)
        if isinstance(result, Rejection):
            return result
        seen = self._seen.get(result.id)
        if seen is not None:
            return Rejection(result.id, f"duplicate id {result.id!r}: command already {seen}")
        self._remember(result.id, "queued")
        return result

    def mark_applied(self, command_id: str) -> None:
        """The engine applied this command: its id is never accepted again."""
        self._remember(command_id, "applied")

    def release(self, command_id: str) -> None:
        """A queued command was not applied (the engine rejected it): its id may be reused."""
        if self._seen.get(command_id) == "queued":
            del self._seen[command_id]

    def is_applied(self, command_id: str) -> bool:
        """Whether ``command_id`` is remembered as applied."""
        return self._seen.get(command_id) == "applied"

    def _remember(self, command_id: str, status: Literal["queued", "applied"]) -> None:
        self._seen[command_id] = status
        self._seen.move_to_end(command_id)
        while len(self._seen) > self._max_ids:
            self._seen.popitem(last=False)
