"""The one mapping from the engine's typed values to the MQTT payloads of ``messages.py``.

:func:`state_message` turns a :class:`bot.events.TickState` into the retained ``state``
message; :func:`event_message` turns any :class:`bot.events.Event` into an ``events``
message (``type`` = :attr:`Event.kind`, ``data`` = :meth:`Event.data`). Every consumer (MQTT,
metrics, dashboard feed, notifier) reads the resulting typed messages. ``docs/mqtt.md`` is
the contract for both.
"""

from __future__ import annotations

from decimal import Decimal
from typing import get_args

from bot.events import Event, TickState
from bot.telemetry.messages import (
    EventMessage,
    EventType,
    GuardTrip,
    PnlParts,
    PositionState,
    StateMessage,
)

__all__ = ["EVENT_TYPES", "UnknownEventType", "event_message", "state_message"]

EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))
_PNL_PLACES = Decimal("1e-10")  # published PnL precision (the store replays it exactly)
# MQTT ``state.pnl`` field -> ``PnlBreakdown.as_dict()`` name
_PNL_PARTS = {
    "lp_hold": "lp_hold_pnl_quote",
    "lp_fees": "lp_fees_quote",
    "il": "il_quote",
    "hedge": "hedge_pnl_quote",
    "funding": "funding_quote",
    "trading_fees": "trading_fees_quote",
    "slippage": "slippage_quote",
    "gas": "gas_quote",
    "net": "net_pnl_quote",
}


def _wire_pnl(value: Decimal) -> Decimal:
    """``value`` rounded to 1e-10 quote; a zero as ``0`` (never ``0E-10``), the same number."""
    rounded = value.quantize(_PNL_PLACES)
    return Decimal(0) if rounded.is_zero() else rounded


class UnknownEventType(ValueError):
    """An event whose kind is no ``EventType`` of the wire contract."""


def state_message(
    tick: TickState,
    *,
    published_at: float | None = None,
    host: str | None = None,
    pid: int | None = None,
) -> StateMessage:
    """The ``state`` message of a tick (hedge and drift after the tick's order; PnL parts
    rounded to 1e-10 quote; a non-finite margin ratio published as unknown; ``blocks`` by
    chain only when several chains were read). Raises
    ``pydantic.ValidationError`` when a value breaks the schema (e.g. a negative block)."""
    snapshot, position, decision = tick.snapshot, tick.position, tick.decision
    margin, trading = tick.margin, tick.trading
    ratio = margin.ratio if margin.ratio is None or margin.ratio.is_finite() else None
    pnl = {
        short: _wire_pnl(tick.pnl[name]) for short, name in _PNL_PARTS.items() if name in tick.pnl
    }
    return StateMessage(
        bot_id=tick.bot_id,
        block=tick.block,
        timestamp=snapshot.block_timestamp,
        price=snapshot.price,
        mark_price=tick.quote.mark_price,
        positions=tuple(PositionState.from_exposure(p) for p in snapshot.positions),
        delta_base=decision.delta_base,
        target_base=decision.target_base,
        hedge_base=position.size_base,
        drift_base=position.size_base - decision.target_base,
        band_base=decision.band_base,
        margin_ratio=ratio,
        liquidation_price=margin.liquidation_price,
        liquidation_distance_pct=margin.distance_pct,
        funding_rate=tick.quote.funding_rate,
        next_funding_ts=tick.quote.next_funding_ts if tick.quote.next_funding_ts > 0 else None,
        paused=tick.paused,
        flattening=tick.flattening,
        pnl=PnlParts(**pnl),
        published_at=published_at,
        host=host,
        pid=pid,
        trading_state=None if trading is None else trading.state.value,
        trading_reasons=() if trading is None else trading.reasons,
        guards_tripped=()
        if trading is None
        else tuple(GuardTrip(name=g.name, since=g.since, detail=g.detail) for g in trading.guards),
        blocks=dict(snapshot.blocks) or None,
    )


def event_message(event: Event, ts: float) -> EventMessage:
    """The ``events`` message of ``event`` at ``ts`` (unix s); ``UnknownEventType`` when its
    kind is not in the contract."""
    kind = event.kind
    if kind not in EVENT_TYPES:
        raise UnknownEventType(f"event type {kind!r} is not in the MQTT contract")
    return EventMessage.model_validate({"type": kind, "ts": ts, "data": event.data()})
