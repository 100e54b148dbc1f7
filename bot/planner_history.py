"""The volatility the bot has observed, for ``hedgebot plan``: the engine's EWMA over the
store's latest pool prices, timed by the chain.

The store is the configured backend (``store.url``: PostgreSQL, else the SQLite file), opened
read-only (``bot.store.open_store``); nothing is created. Each price is dated by its block's
timestamp (``ChainSnapshot.block_timestamp``; several chains: the primary chain's), not by
when the bot recorded it: a localnet or a replay that mines blocks faster or slower than the
wall clock would otherwise annualise the moves over the wrong span. A value beyond
``MAX_SIGMA`` is clamped to it and the description says so (the GBM paths overflow past it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import StoreError
from bot.planner import MAX_SIGMA
from bot.planner_curves import ewma_sigma_annual
from bot.safety import describe_exc

__all__ = ["HISTORY_ROWS", "MIN_HISTORY", "ObservedSigma", "observed_sigma"]

MIN_HISTORY = 10  # prices before the observed EWMA is trusted
HISTORY_ROWS = 5_000  # the latest snapshots the EWMA is folded over


@dataclass(frozen=True, slots=True)
class ObservedSigma:
    """The observed annualised volatility (at most ``MAX_SIGMA``) and how it was obtained;
    ``sigma`` None: no usable history, ``source`` says why."""

    sigma: float | None
    source: str


async def observed_sigma(settings: Settings) -> ObservedSigma:
    """The engine's EWMA (``PolicyState.observe_price``) over the latest ``HISTORY_ROWS``
    stored pool prices at their block timestamps, annualised, clamped to ``MAX_SIGMA``.
    Never raises for a missing, unreachable or short store: ``sigma`` is None and ``source``
    says why."""
    if settings.store.url is None and not settings.store.path.is_file():
        return ObservedSigma(None, "no store")
    from bot.store import open_store

    try:
        store = await open_store(settings, read_only=True)
        try:
            index = await store.snapshot_index()
            first = index[-HISTORY_ROWS][0] if len(index) > HISTORY_ROWS else 0
            rows = await store.snapshot_page(first - 1, HISTORY_ROWS) if index else []
        finally:
            await store.close()
    except StoreError as exc:
        return ObservedSigma(None, f"store unreadable: {describe_exc(exc)}")
    times = [float(snapshot.block_timestamp) for _, _, snapshot in rows]
    prices = [snapshot.price for _, _, snapshot in rows]
    if len(rows) < MIN_HISTORY or times[-1] <= times[0]:
        return ObservedSigma(None, f"{len(rows)} stored prices, under {MIN_HISTORY} blocks")
    raw = ewma_sigma_annual(times, prices)
    if raw is None or not math.isfinite(raw):
        return ObservedSigma(None, "stored prices give no volatility")
    span_h = (times[-1] - times[0]) / 3600
    source = f"observed: EWMA of {len(rows)} stored prices over {span_h:,.1f} h of block time"
    if raw > MAX_SIGMA:
        note = f"{raw:,.2f} clamped to the maximum {MAX_SIGMA:g} (beyond it the GBM paths overflow)"
        return ObservedSigma(MAX_SIGMA, f"{source}; {note}")
    return ObservedSigma(raw, source)
