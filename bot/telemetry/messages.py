"""MQTT payloads: what the bot publishes on ``state``, ``events`` and ``cmd/ack``.

Frozen pydantic models at the edge (CONVENTIONS.md). ``Decimal`` values serialize as JSON
strings so no precision is lost; every payload carries ``schema_version`` so consumers can
refuse what they do not understand.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic_core import PydanticSerializationError

from bot.config_chains import CHAIN_NAME_PATTERN
from bot.core.v3_position import range_position
from bot.domain import PoolKind, PositionExposure

if TYPE_CHECKING:
    from bot.telemetry.auth import OperatorKey

SCHEMA_VERSION: Literal[1] = 1

EventType = Literal[
    "decision",
    "order",
    "fill",
    "funding",
    "range.exited",
    "range.entered",
    "position.arrived",
    "position.left",
    "alert",
    "error",
    "command",
    "trading_state",
]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION

    def to_json(self) -> bytes:
        """The wire form (UTF-8 JSON, Decimals as strings).

        Always encodable: text UTF-8 cannot carry (a lone surrogate from a peer) is written as
        a JSON ``\\uXXXX`` escape instead of failing the publish.
        """
        omitted = self._omitted()
        try:
            return self.model_dump_json(exclude=omitted).encode()
        except PydanticSerializationError:
            plain = self.model_dump(mode="json", exclude=omitted)
            return json.dumps(plain, separators=(",", ":")).encode()

    def _omitted(self) -> set[str]:
        """Fields left out of the wire form (none by default)."""
        return set()


ChainLabel = Annotated[str, Field(pattern=CHAIN_NAME_PATTERN)]  # a config's chain name


def plain_decimal(value: Decimal) -> str:
    """``value`` as exact decimal text in plain notation, never an exponent: ``1E-7`` ->
    ``0.0000001``, ``2E+3`` -> ``2000``, any zero (``0E-18``, ``-0``) -> ``0``; every digit
    kept (the value reads back equal). A non-finite value keeps its name."""
    if not value.is_finite():
        return str(value)
    return "0" if value.is_zero() else f"{value:f}"


# a Decimal that crosses the wire as plain decimal text (``plain_decimal``)
PlainDecimal = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str, when_used="json")]


class PositionState(BaseModel):
    """One LP position as shown in a state message; ``chain`` is the config's chain name of a
    multi-chain bot's position (None with one chain, and then left off the wire, so a
    single-chain state keeps its form of before).

    The fields after ``chain`` (always on the wire, null when unknown; plain decimal text):
    ``pool`` (checksummed pool address; V4: the pool id hex), ``price_lower``/``price_upper``
    (the range's edge prices, quote per base; null: full range, V2), ``range_position``
    (``(price - lower) / (upper - lower)``, unclamped: < 0 below, > 1 above the range; null:
    full range), ``fees_base``/``fees_quote`` (uncollected fees, human units; V2: 0, its fees
    compound into the amounts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: PoolKind
    amount_base: Decimal
    amount_quote: Decimal
    value_quote: Decimal
    delta_base: Decimal
    in_range: bool
    chain: ChainLabel | None = None
    pool: str | None = None
    price_lower: PlainDecimal | None = None
    price_upper: PlainDecimal | None = None
    range_position: PlainDecimal | None = None
    fees_base: PlainDecimal = Decimal(0)
    fees_quote: PlainDecimal = Decimal(0)

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.chain is None:
            data.pop("chain", None)
        return data

    @classmethod
    def from_exposure(cls, exposure: PositionExposure) -> PositionState:
        """The published view of a core ``PositionExposure`` (its ``chain`` tag, pool, range
        prices, where its price sits in the range and its fees included)."""
        return cls(
            id=exposure.id,
            kind=exposure.kind,
            amount_base=exposure.amount_base,
            amount_quote=exposure.amount_quote,
            value_quote=exposure.value_quote,
            delta_base=exposure.delta_base,
            in_range=exposure.in_range,
            chain=exposure.chain,
            pool=exposure.pool,
            price_lower=exposure.price_lower,
            price_upper=exposure.price_upper,
            range_position=range_position(
                exposure.price, exposure.price_lower, exposure.price_upper
            ),
            fees_base=exposure.fees_base,
            fees_quote=exposure.fees_quote,
        )


class PnlParts(BaseModel):
    """PnL attribution in quote units (``bot.core.pnl``); ``net`` is the signed sum:
    lp_hold + il + lp_fees + hedge + funding - trading_fees - slippage - gas."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lp_hold: Decimal = Decimal(0)  # the entry amounts' move with price: what the hedge offsets
    lp_fees: Decimal = Decimal(0)
    il: Decimal = Decimal(0)
    hedge: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    trading_fees: Decimal = Decimal(0)
    slippage: Decimal = Decimal(0)
    gas: Decimal = Decimal(0)
    net: Decimal = Decimal(0)


class GuardTrip(BaseModel):
    """One tripped guard as shown in a state message: the rule id (``daily_loss``,
    ``stale_block``, ``margin_critical``, ``kill_switch_freeze`` ...), when it tripped (unix
    s; None when the bot did not see it trip, e.g. before a restart) and what it said."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    since: float | None = None  # unix s
    detail: str | None = None


TradingStateName = Literal["active", "reducing", "halted"]
BlockNumber = Annotated[int, Field(ge=0)]


class StateMessage(_Payload):
    """Retained snapshot published after every tick."""

    bot_id: str
    block: int = Field(ge=0)
    timestamp: int = Field(ge=0, description="block timestamp, unix seconds")
    price: Decimal
    mark_price: Decimal | None = None
    positions: tuple[PositionState, ...] = ()
    delta_base: Decimal
    target_base: Decimal
    hedge_base: Decimal
    drift_base: Decimal
    band_base: Decimal
    margin_ratio: Decimal | None = None
    liquidation_price: Decimal | None = None
    liquidation_distance_pct: Decimal | None = None
    funding_rate: Decimal | None = None
    # the venue's next funding time (unix s, ``MarketQuote.next_funding_ts``); None: unknown
    # (a bot older than this field), and then left off the wire
    next_funding_ts: int | None = Field(default=None, ge=0)
    paused: bool = False
    flattening: bool = False
    pnl: PnlParts = PnlParts()
    # who published it and when (wall clock, unix s): a second instance of the bot id reads
    # them at start to tell a live instance from a stale retained ``online``
    published_at: float | None = None
    host: str | None = None
    pid: int | None = None
    # what may trade now, operator, kill switch and guards together (the strictest):
    # ``halted`` no order passes, ``reducing`` only reduce-only orders toward flat or a safe
    # size, ``active`` hedging; None from a bot older than these fields
    trading_state: TradingStateName | None = None
    trading_reasons: tuple[str, ...] = ()  # why not active, for people ("paused by operator")
    guards_tripped: tuple[GuardTrip, ...] = ()
    # several chains: the block each chain was read at, by the config's chain name (``block``
    # is the primary's); None with one chain, and then left off the wire (as before)
    blocks: dict[ChainLabel, BlockNumber] | None = Field(default=None, max_length=64)
    # HMAC of the other fields with the operator key over the ``state`` topic
    # (bot.telemetry.auth): what makes a retained state evidence of a running instance;
    # None from a bot without a key, and then left off the wire (readers ignore it)
    sig: str | None = None

    def signed_by(self, key: OperatorKey, topic: str) -> StateMessage:
        """This state with its ``sig``: ``key``'s signature of its wire form (without ``sig``)
        on ``topic`` (the bot's ``.../state``), as ``OperatorKey.verify`` checks it on the
        parsed payload."""
        body = json.loads(self.model_copy(update={"sig": None}).to_json())
        return self.model_copy(update={"sig": key.sign(topic, body)})

    def _omitted(self) -> set[str]:
        omitted = set() if self.blocks is not None else {"blocks"}
        if self.next_funding_ts is None:
            omitted.add("next_funding_ts")
        if self.sig is None:
            omitted.add("sig")
        # a state without the trading fields has the wire form of before
        if self.trading_state is None and not self.trading_reasons and not self.guards_tripped:
            omitted |= {"trading_state", "trading_reasons", "guards_tripped"}
        return omitted


class EventMessage(_Payload):
    """Something that happened, with a stable ``type`` consumers can switch on."""

    type: EventType
    ts: float = Field(description="unix seconds when it happened")
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, type_: EventType, ts: float, payload: object = None, **fields: Any) -> EventMessage:
        """An event whose ``data`` is a domain dataclass (``Decision``, ``Fill``...) and/or fields.

        Dataclasses become dicts, enums their values, tuples lists; Decimals stay Decimals and
        serialize as strings.
        """
        data: dict[str, Any] = {}
        if payload is not None:
            if not dataclasses.is_dataclass(payload) or isinstance(payload, type):
                raise TypeError(f"payload must be a dataclass instance, not {type(payload)!r}")
            data.update(_plain(dataclasses.asdict(payload)))
        data.update(_plain(fields))
        return cls(type=type_, ts=ts, data=data)


class CommandAck(_Payload):
    """Outcome of one command, published on ``cmd/ack``.

    ``id`` is None only when the command was so malformed that no id could be read (or it
    was retained). ``ref`` binds the ack to the one message it answers: the lowercase hex
    SHA-256 of that message's exact bytes (``bot.telemetry.inbox.message_ref``); it is inside
    what ``sig`` covers, so a copy of a command (same id) can never be answered for the
    original.
    """

    id: str | None
    status: Literal["ok", "rejected"]
    reason: str | None = None
    ref: str | None = None
    sig: str | None = None  # HMAC of the other fields with the operator key (bot.telemetry.auth)

    def _omitted(self) -> set[str]:
        # unset: the wire form of before
        return {name for name in ("ref", "sig") if getattr(self, name) is None}

    def signed_body(self) -> dict[str, Any]:
        """The fields the signature covers (everything but ``sig``), as JSON values."""
        return self.model_dump(mode="json", exclude={"sig"})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value
