"""What the engine reports about positions: the published view of one position and the
range transitions between ticks. Pure functions of the tick's values (the ``state`` message
itself is built once from a ``TickState`` by :mod:`bot.telemetry.wire`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from bot.domain import PositionExposure
from bot.events import RangeChange

__all__ = ["position_view", "range_transitions"]


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
            protocol=p.protocol or f"uniswap_{p.kind}",
            location=p.location,
            earns=p.earns,
        )
        if p.hooked is not None:
            view["hooked"] = p.hooked
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
