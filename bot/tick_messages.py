"""What the engine publishes about a tick: the MQTT ``state`` body and range transitions.

Pure functions of the tick's values; the telemetry bridge validates them against the
schemas in ``bot.telemetry.messages``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from bot.core.gate import MarginView
from bot.domain import ChainSnapshot, Decision, MarketQuote, PerpPosition, PositionExposure
from bot.events import RangeChange

__all__ = ["position_view", "range_transitions", "state_message"]

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


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def position_view(p: PositionExposure, *, detail: bool = False) -> dict[str, Any]:
    """One LP position as published in ``state``; ``detail`` adds gamma, fees, range and
    liquidity (``hedgebot snapshot --json``)."""
    view: dict[str, Any] = {
        "id": p.id,
        "kind": p.kind,
        "amount_base": str(p.amount_base),
        "amount_quote": str(p.amount_quote),
        "value_quote": str(p.value_quote),
        "delta_base": str(p.delta_base),
        "in_range": p.in_range,
    }
    if detail:
        view.update(
            gamma=str(p.gamma),
            fees_base=str(p.fees_base),
            fees_quote=str(p.fees_quote),
            tick_lower=p.tick_lower,
            tick_upper=p.tick_upper,
            liquidity=None if p.liquidity is None else str(p.liquidity),
        )
    return view


def range_transitions(
    previous: Mapping[str, bool], positions: Iterable[PositionExposure], block: int
) -> list[RangeChange]:
    """Positions whose in-range flag changed since the last tick, as ``RangeChange`` events
    (a position seen for the first time is no transition)."""
    return [
        RangeChange(
            block=block,
            position=p.id,
            entered=p.in_range,
            price=p.price,
            tick_lower=p.tick_lower,
            tick_upper=p.tick_upper,
            delta_base=p.delta_base,
        )
        for p in positions
        if previous.get(p.id) is not None and previous[p.id] != p.in_range
    ]


def state_message(
    *,
    bot_id: str,
    block: int,
    snapshot: ChainSnapshot,
    quote: MarketQuote,
    position: PerpPosition,
    decision: Decision,
    pnl: Mapping[str, Decimal],
    margin: MarginView,
    paused: bool,
    flattening: bool,
) -> dict[str, Any]:
    """The per-tick state published on MQTT ``state`` (hedge and drift after the order)."""
    return {
        "bot_id": bot_id,
        "block": block,
        "timestamp": snapshot.block_timestamp,
        "price": str(snapshot.price),
        "mark_price": str(quote.mark_price),
        "positions": [position_view(p) for p in snapshot.positions],
        "delta_base": str(decision.delta_base),
        "target_base": str(decision.target_base),
        "hedge_base": str(position.size_base),
        "drift_base": str(position.size_base - decision.target_base),
        "band_base": str(decision.band_base),
        "liquidation_price": _text(margin.liquidation_price),
        "margin_ratio": _text(margin.ratio)
        if margin.ratio is None or margin.ratio.is_finite()
        else None,
        "liquidation_distance_pct": _text(margin.distance_pct),
        "funding_rate": str(quote.funding_rate),
        "paused": paused,
        "flattening": flattening,
        "pnl": {
            short: str(pnl[name].quantize(_PNL_PLACES))
            for short, name in _PNL_PARTS.items()
            if name in pnl
        },
    }
