"""What a tick hands back: the report the demo and tests read, the act step's outcome, and
the engine's counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.core.gate import RiskView
from bot.domain import ChainSnapshot, Decision, MarketQuote, Order, PerpPosition

__all__ = ["Acted", "EngineStats", "TickReport"]


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick saw and did; the demo and tests read these."""

    block: int
    snapshot: ChainSnapshot
    quote: MarketQuote
    position: PerpPosition
    decision: Decision
    order: Order | None
    pnl: dict[str, Decimal] = field(default_factory=dict)
    risk: RiskView | None = None


@dataclass(frozen=True, slots=True)
class Acted:
    """What ``act`` did: the order (None when none was placed) and the hedge after it."""

    order: Order | None
    position: PerpPosition

    @property
    def filled(self) -> bool:
        """Something of the order filled."""
        return self.order is not None and self.order.filled_base > 0


@dataclass
class EngineStats:
    """Counters for status output and metrics."""

    ticks: int = 0
    rebalances: int = 0
    skipped_blocks: int = 0
    errors: int = 0
    last_block: int | None = None
    last_tick_ok_s: float | None = None
    last_error: str | None = None
    alerts: list[str] = field(default_factory=list)
