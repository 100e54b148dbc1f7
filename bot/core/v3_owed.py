"""Split a V3 position's ``tokensOwed`` into withdrawn principal and fees, pure.

The chain stores only the sum. ``NonfungiblePositionManager.decreaseLiquidity`` adds to
``tokensOwed`` first the fees accrued since the position's last update
(``mulDiv(feeGrowthInside - feeGrowthInsideLast, liquidity, Q128)``) and then the principal
``pool.burn`` returned, which it emits as ``DecreaseLiquidity(tokenId, liquidity, amount0,
amount1)``; ``increaseLiquidity`` and ``collect`` (with liquidity) fold in fees only. A pool
position is the same with ``pool.burn`` (event ``Burn``) and ``pool.collect`` (``Collect``).
So the principal owed is the sum of the withdrawal events' amounts minus what collects took
of it; the fees are the rest of ``tokensOwed``. A ``collect`` of less than everything is
counted against principal first (the LP takes its capital back before income, the convention
of the Uniswap subgraph's ``collectedFees = collected - withdrawn``); a full collect, the usual
case, leaves nothing to convention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["OwedEvent", "principal_owed"]


@dataclass(frozen=True, slots=True)
class OwedEvent:
    """One withdrawal (adds principal) or collect (takes tokens) of a position, raw units.

    ``order`` sorts events as the chain ran them: ``(block number, log index)``.
    """

    order: tuple[int, int]
    kind: Literal["withdraw", "collect"]
    amount0: int
    amount1: int


def principal_owed(
    events: Iterable[OwedEvent], tokens_owed: tuple[int, int], start: tuple[int, int] = (0, 0)
) -> tuple[int, int]:
    """(principal0, principal1) of ``tokens_owed`` after ``events`` (any order), raw units.

    ``start`` is the principal owed before the first event (0 when the events start where
    ``tokensOwed`` was 0 or at the position's creation). The result never exceeds
    ``tokens_owed``: the rest of it is fees.
    """
    principal = list(start)
    for event in sorted(events, key=lambda e: e.order):
        for i, amount in enumerate((event.amount0, event.amount1)):
            if event.kind == "withdraw":
                principal[i] += amount
            else:
                principal[i] -= min(principal[i], amount)
    return min(principal[0], tokens_owed[0]), min(principal[1], tokens_owed[1])
