"""PnL attribution of a hedged LP: where every quote unit of the net change came from.

Fed one :class:`PnlObservation` per tick, :func:`step` keeps an :class:`Attribution` whose
:meth:`Attribution.breakdown` satisfies, exactly in ``Decimal`` (no tolerance)::

    net_pnl = lp_hold_pnl + il + lp_fees + hedge_pnl + funding
              - trading_fees - slippage - gas
            = total_value(now) - total_value(start)

with ``total_value = LP value + LP fees (uncollected + collected) + venue equity - gas spent``
and venue equity = collateral + Σ(−q·fill price) − fees + funding + position·mark.

Parts (names as in :mod:`bot.sim.backtest`; positive means money in, except the three costs):

* ``lp_hold_pnl_quote``  entry_base · (P_t − P_0): holding the entry amounts instead.
* ``il_quote``           (V_t − V_0) − lp_hold_pnl: LP value minus the value of holding the
  entry amounts at the current pool price (the two agree when V_0 = base_0·P_0 + quote_0).
* ``lp_fees_quote``      uncollected fees now − at start, plus fees collected since, plus
  the V2 fees that compound into the reserves: ``2·(L_t − L_0)·sqrt(P_t)``, where
  ``L = sqrt(base·quote)`` of the V2 positions only grows by swap fees (``x·y = k`` holds
  for swaps without fees), so ``il_quote`` keeps only the constant-product loss (<= 0).
* ``hedge_pnl_quote``    mark-to-market PnL of the perp (realised + unrealised) as if every
  fill had been at the tick's mark: Σ position_{k−1} · (M_k − M_{k−1}).
* ``funding_quote``      Σ funding amount_quote (+ received, − paid).
* ``trading_fees_quote`` Σ fill fee_quote (+ paid, rebates negative).
* ``slippage_quote``     Σ q · (fill price − mark of the tick), q signed (+ buy): + is a cost.
* ``gas_quote``          Σ gas_native · native_price_quote (+ paid).

Timing: an observation is the market state of tick k (pool price, LP, mark) together with
the fills, funding and gas of that tick. The start value is taken at the first observation's
market state *before* its fills, funding and gas, so the first trade's costs are counted.
Fills are judged against the observation's mark (the mark the decision was made on).

Arithmetic runs in a 120-digit context, so sums and products of realistic money values are
exact; nothing here rounds for display.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from decimal import Context, Decimal, localcontext

from bot.domain import ChainSnapshot, Fill, FundingPayment, Side

__all__ = [
    "PARTS",
    "Attribution",
    "PnlBreakdown",
    "PnlObservation",
    "attribute",
    "funding_payment_quote",
    "observation_from_snapshot",
    "signed_amount_base",
    "step",
]

_ZERO = Decimal(0)
_EXACT = Context(prec=120)

PARTS: tuple[tuple[str, int], ...] = (
    ("lp_hold_pnl_quote", 1),
    ("il_quote", 1),
    ("lp_fees_quote", 1),
    ("hedge_pnl_quote", 1),
    ("funding_quote", 1),
    ("trading_fees_quote", -1),
    ("slippage_quote", -1),
    ("gas_quote", -1),
)
"""Attribution parts and the sign with which each enters ``net_pnl_quote``."""


@dataclass(frozen=True, slots=True)
class PnlObservation:
    """One tick as the attribution sees it; amounts in human units, prices quote per base."""

    price: Decimal  # pool price
    lp_value_quote: Decimal  # LP principal, fees excluded
    lp_amount_base: Decimal
    lp_amount_quote: Decimal
    mark_price: Decimal  # perp mark the tick's decision (and its fills) are judged against
    fees_uncollected_quote: Decimal = _ZERO  # LP fees owed, valued at the pool price
    fees_collected_quote: Decimal = _ZERO  # LP fees collected during this tick
    fills: tuple[Fill, ...] = ()
    funding: tuple[FundingPayment, ...] = ()
    gas_native: Decimal = _ZERO  # native token spent on chain actions this tick
    native_price_quote: Decimal = _ZERO
    timestamp_s: float = 0.0  # for series and charts only; not used in the arithmetic
    v2_liquidity: Decimal = _ZERO  # Σ sqrt(base·quote) of V2 positions: grows only by fees


@dataclass(frozen=True, slots=True)
class PnlBreakdown:
    """Cumulative (or per-tick) PnL parts in quote; ``net_pnl_quote`` is their signed sum."""

    lp_hold_pnl_quote: Decimal = _ZERO
    il_quote: Decimal = _ZERO
    lp_fees_quote: Decimal = _ZERO
    hedge_pnl_quote: Decimal = _ZERO
    funding_quote: Decimal = _ZERO
    trading_fees_quote: Decimal = _ZERO
    slippage_quote: Decimal = _ZERO
    gas_quote: Decimal = _ZERO
    # informative split of the hedge, not part of the identity:
    hedge_realized_quote: Decimal = _ZERO  # Σ fill realized_pnl as the venue booked it
    hedge_unrealized_quote: Decimal = _ZERO  # hedge_pnl − slippage − hedge_realized

    @property
    def net_pnl_quote(self) -> Decimal:
        """Signed sum of the attribution parts (see ``PARTS``)."""
        with localcontext(_EXACT):
            return sum(
                (sign * getattr(self, name) for name, sign in PARTS),
                _ZERO,
            )

    @property
    def lp_pnl_quote(self) -> Decimal:
        """LP side: hold + IL + fees."""
        with localcontext(_EXACT):
            return self.lp_hold_pnl_quote + self.il_quote + self.lp_fees_quote

    @property
    def venue_pnl_quote(self) -> Decimal:
        """Venue equity change: hedge + funding − trading fees − slippage."""
        with localcontext(_EXACT):
            return (
                self.hedge_pnl_quote
                + self.funding_quote
                - self.trading_fees_quote
                - self.slippage_quote
            )

    def as_dict(self) -> dict[str, Decimal]:
        """Parts by backtest name, then ``net_pnl_quote`` and the informative hedge split."""
        out = {name: getattr(self, name) for name, _ in PARTS}
        out["net_pnl_quote"] = self.net_pnl_quote
        out["hedge_realized_quote"] = self.hedge_realized_quote
        out["hedge_unrealized_quote"] = self.hedge_unrealized_quote
        return out

    def __sub__(self, other: PnlBreakdown) -> PnlBreakdown:
        """Part-wise difference: ``after - before`` is the PnL of the ticks in between."""
        with localcontext(_EXACT):
            return PnlBreakdown(
                **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
            )


@dataclass(frozen=True, slots=True)
class _Start:
    """Market state at the first observation."""

    price: Decimal
    mark_price: Decimal
    lp_value_quote: Decimal
    entry_base: Decimal
    entry_quote: Decimal
    fees_quote: Decimal  # uncollected + collected in the first tick
    v2_liquidity: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class Attribution:
    """Accumulated attribution state; advance it with :func:`step`."""

    position_base: Decimal = _ZERO  # perp position from fills (signed, short negative)
    start: _Start | None = None
    ticks: int = 0
    price: Decimal = _ZERO
    mark_price: Decimal = _ZERO
    lp_value_quote: Decimal = _ZERO
    fees_uncollected_quote: Decimal = _ZERO
    fees_collected_quote: Decimal = _ZERO  # since (and including) the first tick
    hedge_pnl_quote: Decimal = _ZERO
    slippage_quote: Decimal = _ZERO
    trading_fees_quote: Decimal = _ZERO
    funding_quote: Decimal = _ZERO
    gas_quote: Decimal = _ZERO
    hedge_realized_quote: Decimal = _ZERO
    v2_liquidity: Decimal = _ZERO

    @classmethod
    def opening(cls, hedge_base: Decimal) -> Attribution:
        """No observation yet; ``hedge_base`` is the perp position before the first tick."""
        return cls(position_base=hedge_base)

    @property
    def started(self) -> bool:
        """True once an observation has been applied."""
        return self.start is not None

    def breakdown(self) -> PnlBreakdown:
        """Cumulative parts since the first observation (all zero before it)."""
        s = self.start
        if s is None:
            return PnlBreakdown()
        with localcontext(_EXACT):
            hold = s.entry_base * (self.price - s.price)
            v2_fees = 2 * (self.v2_liquidity - s.v2_liquidity) * self.price.sqrt()
            il = (self.lp_value_quote - s.lp_value_quote) - hold - v2_fees
            fees = self.fees_uncollected_quote + self.fees_collected_quote - s.fees_quote + v2_fees
            unrealized = self.hedge_pnl_quote - self.slippage_quote - self.hedge_realized_quote
            return PnlBreakdown(
                lp_hold_pnl_quote=hold,
                il_quote=il,
                lp_fees_quote=fees,
                hedge_pnl_quote=self.hedge_pnl_quote,
                funding_quote=self.funding_quote,
                trading_fees_quote=self.trading_fees_quote,
                slippage_quote=self.slippage_quote,
                gas_quote=self.gas_quote,
                hedge_realized_quote=self.hedge_realized_quote,
                hedge_unrealized_quote=unrealized,
            )


def signed_amount_base(fill: Fill) -> Decimal:
    """Position change of a fill: + for a buy, − for a sell."""
    return fill.amount_base if fill.side is Side.BUY else -fill.amount_base


def funding_payment_quote(position_base: Decimal, mark_price: Decimal, rate: Decimal) -> Decimal:
    """Funding received (+) or paid (−): longs pay shorts when the rate is positive."""
    with localcontext(_EXACT):
        return -position_base * mark_price * rate


def step(state: Attribution, obs: PnlObservation) -> Attribution:
    """Apply one tick. Pass each fill and funding payment once (the store's ``record_*``
    return False for ones already known)."""
    with localcontext(_EXACT):
        start = state.start
        if start is None:
            start = _Start(
                price=obs.price,
                mark_price=obs.mark_price,
                lp_value_quote=obs.lp_value_quote,
                entry_base=obs.lp_amount_base,
                entry_quote=obs.lp_amount_quote,
                fees_quote=obs.fees_uncollected_quote + obs.fees_collected_quote,
                v2_liquidity=obs.v2_liquidity,
            )
            previous_mark = obs.mark_price
        else:
            previous_mark = state.mark_price
        hedge_pnl = state.hedge_pnl_quote + state.position_base * (obs.mark_price - previous_mark)
        position = state.position_base
        slippage = state.slippage_quote
        trading_fees = state.trading_fees_quote
        realized = state.hedge_realized_quote
        for fill in obs.fills:
            q = signed_amount_base(fill)
            position += q
            slippage += q * (fill.price - obs.mark_price)
            trading_fees += fill.fee_quote
            realized += fill.realized_pnl
        funding = state.funding_quote + sum((p.amount_quote for p in obs.funding), _ZERO)
        gas = state.gas_quote + obs.gas_native * obs.native_price_quote
        return replace(
            state,
            position_base=position,
            start=start,
            ticks=state.ticks + 1,
            price=obs.price,
            mark_price=obs.mark_price,
            lp_value_quote=obs.lp_value_quote,
            fees_uncollected_quote=obs.fees_uncollected_quote,
            fees_collected_quote=state.fees_collected_quote + obs.fees_collected_quote,
            hedge_pnl_quote=hedge_pnl,
            slippage_quote=slippage,
            trading_fees_quote=trading_fees,
            funding_quote=funding,
            gas_quote=gas,
            hedge_realized_quote=realized,
            v2_liquidity=obs.v2_liquidity,
        )


def attribute(
    observations: Iterable[PnlObservation], hedge_base: Decimal = _ZERO
) -> list[Attribution]:
    """The state after each observation, starting from a perp position of ``hedge_base``."""
    state = Attribution.opening(hedge_base)
    states = []
    for obs in observations:
        state = step(state, obs)
        states.append(state)
    return states


def observation_from_snapshot(
    snapshot: ChainSnapshot,
    mark_price: Decimal,
    fills: Iterable[Fill] = (),
    funding: Iterable[FundingPayment] = (),
    *,
    fees_collected_quote: Decimal = _ZERO,
    gas_native: Decimal = _ZERO,
    native_price_quote: Decimal = _ZERO,
    timestamp_s: float | None = None,
) -> PnlObservation:
    """Sum the snapshot's LP positions into one observation (fees in base valued at the pool
    price). Base held outside the pools (``wallet_base``) is not attributed."""
    with localcontext(_EXACT):
        positions = snapshot.positions
        return PnlObservation(
            price=snapshot.price,
            lp_value_quote=sum((p.value_quote for p in positions), _ZERO),
            lp_amount_base=sum((p.amount_base for p in positions), _ZERO),
            lp_amount_quote=sum((p.amount_quote for p in positions), _ZERO),
            mark_price=mark_price,
            fees_uncollected_quote=sum(
                (p.fees_base * snapshot.price + p.fees_quote for p in positions), _ZERO
            ),
            fees_collected_quote=fees_collected_quote,
            fills=tuple(fills),
            funding=tuple(funding),
            gas_native=gas_native,
            native_price_quote=native_price_quote,
            timestamp_s=float(snapshot.block_timestamp) if timestamp_s is None else timestamp_s,
            v2_liquidity=sum(
                ((p.amount_base * p.amount_quote).sqrt() for p in positions if p.kind == "v2"),
                _ZERO,
            ),
        )
