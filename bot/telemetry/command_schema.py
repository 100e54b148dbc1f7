"""The operator commands' schema: what a ``<prefix>/cmd`` message may ask, and with which params.

Every command model refuses unknown fields; numbers given as text must be ASCII decimal
notation (``bot.number_text``: ``"0.2_5"``, ``"１"`` or ``" 1 "`` are refused naming the
param, as in the config); JSON numbers keep their meaning. Validation and authentication of a
message are ``bot.telemetry.commands``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    TypeAdapter,
    model_validator,
)

from bot.number_text import refuse_loose_number_text
from bot.policy_config import MAX_HEDGE_RATIO, SETTING_DECIMALS
from bot.telemetry.command_text import MAX_ID_LENGTH

MAX_BASE = Decimal("1e30")  # a threshold beyond any pool's supply: a typo, not a band
MAX_DECIMALS = SETTING_DECIMALS  # the config's: finer is refused naming the field

CommandName = Literal[
    "pause", "resume", "flatten", "rebalance_now", "set_hedge_ratio", "set_threshold"
]
COMMAND_NAMES: tuple[str, ...] = get_args(CommandName)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _ascii_numbers(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        return refuse_loose_number_text(cls.__name__, data, handler)


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
    """New hedge ratio: target = -value * LP delta; 0 to the config's ``hedge.ratio`` bound
    (``MAX_HEDGE_RATIO``)."""

    value: Annotated[
        Decimal, Field(ge=0, le=MAX_HEDGE_RATIO, allow_inf_nan=False, decimal_places=MAX_DECIMALS)
    ]


class ThresholdParams(_Strict):
    """New rebalancing band, absolute (base units) and/or as a fraction of the LP delta."""

    base: (
        Annotated[
            Decimal, Field(gt=0, le=MAX_BASE, allow_inf_nan=False, decimal_places=MAX_DECIMALS)
        ]
        | None
    ) = None
    fraction: (
        Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False, decimal_places=MAX_DECIMALS)]
        | None
    ) = None

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
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)
