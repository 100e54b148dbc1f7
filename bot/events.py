"""Frozen event types: what happened during a tick, typed where it happens.

The engine builds these at the source and hands them to one :class:`bot.ports.EventSink`
fan-out (log, MQTT, store, metrics, dashboard, notifier). Each type knows its stable MQTT
``type`` (:attr:`Event.kind`) and its wire ``data`` (:meth:`Event.data`): the JSON bodies
documented in ``docs/mqtt.md`` and the store's ``events`` rows are built from these values
only, never from loose dicts travelling between layers. :class:`TickState` is what a tick
publishes as the retained ``state`` (the telemetry adapter turns it into the wire message
once, :func:`bot.telemetry.wire.state_message`).

Values in ``data()`` are JSON-ready: Decimals as strings (as on the wire), enums as values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from bot.domain import (
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    MarketQuote,
    Order,
    PerpPosition,
    PositionMove,
)

if TYPE_CHECKING:
    from bot.core.gate import MarginView
    from bot.core.trading_status import TradingStatus

__all__ = [
    "Alert",
    "CommandEvent",
    "DecisionEvent",
    "Event",
    "FillEvent",
    "FundingEvent",
    "OrderEvent",
    "PositionMoved",
    "RangeChange",
    "TickFailed",
    "TickState",
    "TradingStateChanged",
]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event: :attr:`kind` is the MQTT ``events`` ``type`` and the store's
    ``events.type``."""

    wire_type: ClassVar[str] = ""

    @property
    def kind(self) -> str:
        """The stable wire type (``alert``, ``order``, ``fill``, ``range.exited`` ...)."""
        return self.wire_type

    def data(self) -> dict[str, Any]:
        """The wire ``data`` object."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Alert(Event):
    """Something an operator should know (``alert`` events; the store's ``alert`` rows).

    ``name`` is the stable alert id (``risk.stale_block``, ``order.rejected``...);
    ``logged`` False when the caller has already logged the line (e.g. with a traceback).
    """

    wire_type: ClassVar[str] = "alert"
    name: str
    context: tuple[tuple[str, Any], ...] = ()
    logged: bool = True

    @classmethod
    def of(cls, name: str, *, logged: bool = True, **context: Any) -> Alert:
        """An alert with ``context`` as key/values (JSON-ready values)."""
        return cls(name, tuple(context.items()), logged)

    def data(self) -> dict[str, Any]:
        return {"alert": self.name, **dict(self.context)}


@dataclass(frozen=True, slots=True)
class OrderEvent(Event):
    """An order the venue answered with a terminal status."""

    wire_type: ClassVar[str] = "order"
    order: Order

    def data(self) -> dict[str, Any]:
        o = self.order
        return {
            "client_order_id": o.client_order_id,
            "side": o.side.value,
            "amount_base": str(o.amount_base),
            "filled_base": str(o.filled_base),
            "average_price": _text(o.average_price),
            "status": o.status.value,
            "reduce_only": o.reduce_only,
            "fee_quote": str(o.fee_quote),
        }


@dataclass(frozen=True, slots=True)
class FillEvent(Event):
    """One execution of ours, stored for the first time."""

    wire_type: ClassVar[str] = "fill"
    fill: Fill

    def data(self) -> dict[str, Any]:
        f = self.fill
        return {
            "trade_id": f.trade_id,
            "client_order_id": f.client_order_id,
            "side": f.side.value,
            "amount_base": str(f.amount_base),
            "price": str(f.price),
            "fee_quote": str(f.fee_quote),
        }


@dataclass(frozen=True, slots=True)
class FundingEvent(Event):
    """One funding payment, stored for the first time."""

    wire_type: ClassVar[str] = "funding"
    payment: FundingPayment

    def data(self) -> dict[str, Any]:
        p = self.payment
        return {
            "amount_quote": str(p.amount_quote),
            "rate": str(p.rate),
            "position_base": str(p.position_base),
            "timestamp": p.timestamp,
        }


@dataclass(frozen=True, slots=True)
class DecisionEvent(Event):
    """What the gated policy decided at a block (published when it is not a hold)."""

    wire_type: ClassVar[str] = "decision"
    block: int
    decision: Decision

    def data(self) -> dict[str, Any]:
        d = self.decision
        return {
            "block": self.block,
            "action": d.action,
            "reason": d.reason,
            "drift_base": str(d.drift_base),
            "band_base": str(d.band_base),
            "order_side": None if d.order_side is None else d.order_side.value,
            "order_amount_base": str(d.order_amount_base),
        }


@dataclass(frozen=True, slots=True)
class RangeChange(Event):
    """A position left (``range.exited``) or re-entered (``range.entered``) its range."""

    block: int
    position: str
    entered: bool
    price: Decimal
    tick_lower: int | None
    tick_upper: int | None
    delta_base: Decimal

    @property
    def name(self) -> str:
        """``range.entered`` or ``range.exited`` (the MQTT type and the log event)."""
        return "range.entered" if self.entered else "range.exited"

    @property
    def kind(self) -> str:
        return self.name

    def data(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "position": self.position,
            "price": str(self.price),
            "tick_lower": self.tick_lower,
            "tick_upper": self.tick_upper,
            "delta_base": str(self.delta_base),
        }


@dataclass(frozen=True, slots=True)
class PositionMoved(Event):
    """A position arrived at (``position.arrived``) or left (``position.left``) a location:
    the wallet or a staker (``staked:<address>``); a move is one of each."""

    move: PositionMove

    @property
    def kind(self) -> str:
        return "position.arrived" if self.move.arrived else "position.left"

    def data(self) -> dict[str, Any]:
        m = self.move
        return {
            "block": m.block,
            "position": m.position,
            "location": m.location,
            "protocol": m.protocol,
            "token_id": m.token_id,
        }


@dataclass(frozen=True, slots=True)
class TickFailed(Event):
    """A tick (or a part of it) failed: ``source`` is ``chain``, ``exchange``, ``store`` or
    ``engine``; ``error`` the bounded, escaped description."""

    wire_type: ClassVar[str] = "error"
    source: str
    error: str
    logged: bool = True  # False: the caller logged it already (with the traceback)

    def data(self) -> dict[str, Any]:
        return {"source": self.source, "error": self.error}


@dataclass(frozen=True, slots=True)
class TradingStateChanged(Event):
    """The operator state changed (``trading_state.changed``), with what caused it."""

    wire_type: ClassVar[str] = "trading_state"
    previous: str
    current: str
    cause: str
    hedge_ratio: Decimal | None = None
    threshold: tuple[Decimal | None, Decimal | None] | None = None

    def data(self) -> dict[str, Any]:
        threshold = self.threshold
        return {
            "previous": self.previous,
            "current": self.current,
            "cause": self.cause,
            "hedge_ratio": _text(self.hedge_ratio),
            "threshold_base": None if threshold is None else _text(threshold[0]),
            "threshold_fraction": None if threshold is None else _text(threshold[1]),
        }


@dataclass(frozen=True, slots=True)
class CommandEvent(Event):
    """An operator command applied or refused (the store's ``commands`` rows)."""

    wire_type: ClassVar[str] = "command"
    command_id: str
    command: str
    status: str  # "ok" | "rejected"
    params: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def data(self) -> dict[str, Any]:
        return {"params": self.params, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class TickState:
    """What one tick that read the chain publishes as the retained ``state``: the chain
    snapshot, the venue's quote and hedge position (after the tick's order), the gated
    decision, the PnL attribution (``PnlBreakdown.as_dict()`` names, quote), the hedge's
    margin view, the operator's switches and the trading status (operator, kill switch and
    guards together)."""

    bot_id: str
    block: int
    snapshot: ChainSnapshot
    quote: MarketQuote
    position: PerpPosition
    decision: Decision
    pnl: Mapping[str, Decimal]
    margin: MarginView
    paused: bool
    flattening: bool
    trading: TradingStatus | None = None
