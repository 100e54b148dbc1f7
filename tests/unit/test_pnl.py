"""PnL attribution: worked examples, sign conventions and the exact sum identity."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal, localcontext
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.pnl import (
    PARTS,
    Attribution,
    PnlBreakdown,
    PnlObservation,
    attribute,
    funding_payment_quote,
    observation_from_snapshot,
    step,
)
from bot.domain import ChainSnapshot, Fill, FundingPayment, PositionExposure, Side

pytestmark = pytest.mark.unit

D = Decimal
SYMBOL = "ETH/USDT:USDT"


def fill(
    side: Side,
    amount: str,
    price: str,
    fee: str = "0",
    realized: str = "0",
    trade_id: str = "t",
) -> Fill:
    return Fill(trade_id, "c", "x", SYMBOL, side, D(amount), D(price), D(fee), D(realized), 0)


def funding(amount: Decimal, position: str = "-1", mark: str = "2000") -> FundingPayment:
    return FundingPayment("f", SYMBOL, amount, D("0.0001"), D(position), D(mark), 0)


def obs(price: str, **kw: object) -> PnlObservation:
    """An observation with a flat LP (no base): only the hedge moves."""
    base: dict[str, object] = {
        "price": D(price),
        "lp_value_quote": D(0),
        "lp_amount_base": D(0),
        "lp_amount_quote": D(0),
        "mark_price": D(price),
    }
    base.update(kw)
    return PnlObservation(**base)  # type: ignore[arg-type]


def test_short_hedge_loses_when_price_rises() -> None:
    """A short of 1 ETH held from 2000 to 2100 loses exactly 100 quote."""
    final = attribute([obs("2000"), obs("2100")], hedge_base=D(-1))[-1].breakdown()
    assert final.hedge_pnl_quote == D(-100)
    assert final.net_pnl_quote == D(-100)


def test_short_opened_and_closed_by_fills() -> None:
    """Sell 1 at the 2000 mark, buy back at the 2100 mark: -100 hedge PnL, all realised."""
    states = attribute(
        [
            obs("2000", fills=(fill(Side.SELL, "1", "2000", fee="1"),)),
            obs("2100", fills=(fill(Side.BUY, "1", "2100", fee="1.05", realized="-100"),)),
        ]
    )
    assert states[0].position_base == D(-1)
    assert states[-1].position_base == D(0)
    final = states[-1].breakdown()
    assert final.hedge_pnl_quote == D(-100)
    assert final.slippage_quote == D(0)
    assert final.trading_fees_quote == D("2.05")
    assert final.hedge_realized_quote == D(-100)
    assert final.hedge_unrealized_quote == D(0)
    assert final.net_pnl_quote == D("-102.05")


def test_funding_received_on_short_with_positive_rate() -> None:
    """With a positive rate the long pays the short: the short's funding is positive."""
    amount = funding_payment_quote(D(-1), D(2000), D("0.0001"))
    assert amount == D("0.2")
    assert funding_payment_quote(D(1), D(2000), D("0.0001")) == D("-0.2")
    final = attribute([obs("2000"), obs("2000", funding=(funding(amount),))], D(-1))[-1]
    assert final.breakdown().funding_quote == D("0.2")
    assert final.breakdown().net_pnl_quote == D("0.2")


@pytest.mark.parametrize(
    ("side", "price", "expected"),
    [
        (Side.SELL, "1999", "1"),  # sold below the mark: a cost
        (Side.BUY, "2001", "1"),  # bought above the mark: a cost
        (Side.SELL, "2001", "-1"),  # sold above the mark: a gain
        (Side.BUY, "1999", "-1"),
    ],
)
def test_slippage_is_a_signed_cost_against_the_mark(side: Side, price: str, expected: str) -> None:
    """Slippage is q·(fill − mark), q signed: a worse fill than the mark is positive."""
    final = attribute([obs("2000", fills=(fill(side, "1", price),))])[-1].breakdown()
    assert final.slippage_quote == D(expected)
    assert final.net_pnl_quote == -D(expected)


def test_v2_impermanent_loss_worked_example() -> None:
    """V2 LP of 1 base + 2000 quote; price 2000 -> 8000 leaves 0.5 base + 4000 quote.

    Hold is worth 10000, the LP 8000: IL -2000, hold PnL +6000, LP PnL +4000.
    """
    start = PnlObservation(D(2000), D(4000), D(1), D(2000), D(2000))
    end = PnlObservation(D(8000), D(8000), D("0.5"), D(4000), D(8000))
    final = attribute([start, end])[-1].breakdown()
    assert final.lp_hold_pnl_quote == D(6000)
    assert final.il_quote == D(-2000)
    assert final.lp_pnl_quote == D(4000)
    assert final.net_pnl_quote == D(4000)


def test_delta_neutral_v2_keeps_only_il() -> None:
    """Shorting the LP's 1 base at 2000: the hedge cancels the hold PnL, IL remains."""
    start = PnlObservation(D(2000), D(4000), D(1), D(2000), D(2000))
    end = PnlObservation(D(8000), D(8000), D("0.5"), D(4000), D(8000))
    final = attribute([start, end], hedge_base=D(-1))[-1].breakdown()
    assert final.hedge_pnl_quote == D(-6000)
    assert final.net_pnl_quote == D(-2000) == final.il_quote


def test_lp_fees_count_collections_but_not_before_the_window() -> None:
    """Fees collected in the first tick were earned before it; later ones count once."""
    states = attribute(
        [
            obs("2000", fees_uncollected_quote=D(0), fees_collected_quote=D(7)),
            obs("2000", fees_uncollected_quote=D(5)),
            obs("2000", fees_uncollected_quote=D(0), fees_collected_quote=D(5)),
            obs("2000", fees_uncollected_quote=D("1.5")),
        ]
    )
    assert [s.breakdown().lp_fees_quote for s in states] == [D(0), D(5), D(5), D("6.5")]


def test_gas_is_native_amount_times_price() -> None:
    """Gas of 0.001 native at 3000 quote costs 3 quote."""
    final = attribute([obs("2000", gas_native=D("0.001"), native_price_quote=D(3000))])[-1]
    assert final.breakdown().gas_quote == D(3)
    assert final.breakdown().net_pnl_quote == D(-3)


def test_before_any_observation_everything_is_zero() -> None:
    """An opening state reports zeros and keeps the opening hedge."""
    state = Attribution.opening(D("-2.5"))
    assert not state.started
    assert state.breakdown() == PnlBreakdown()
    assert state.position_base == D("-2.5")


def test_as_dict_uses_backtest_names() -> None:
    """Keys match the backtester's summary, plus gas, hold and the informative hedge split."""
    keys = set(PnlBreakdown().as_dict())
    assert {
        "lp_fees_quote",
        "il_quote",
        "hedge_pnl_quote",
        "funding_quote",
        "trading_fees_quote",
        "slippage_quote",
        "net_pnl_quote",
        "lp_hold_pnl_quote",
        "gas_quote",
    } <= keys


def test_observation_from_snapshot_sums_positions() -> None:
    """Two positions add up; fees in base are valued at the pool price."""

    def position(
        pid: str, base: str, quote: str, fees_base: str, fees_quote: str
    ) -> PositionExposure:
        value = D(base) * D(2000) + D(quote)
        return PositionExposure(
            pid, "v3", D(base), D(quote), value, D(base), D(0), D(2000), D(fees_base), D(fees_quote)
        )

    snap = ChainSnapshot(
        10,
        1_700_000_000,
        "0xabc",
        D(2000),
        (position("a", "1", "100", "0.01", "3"), position("b", "0.5", "50", "0", "1")),
    )
    o = observation_from_snapshot(snap, D(2001))
    assert o.lp_amount_base == D("1.5")
    assert o.lp_amount_quote == D(150)
    assert o.lp_value_quote == D(3150)
    assert o.fees_uncollected_quote == D(24)
    assert o.mark_price == D(2001)
    assert o.timestamp_s == 1_700_000_000.0


# --- the identity over random paths --------------------------------------------------------


def money(lo: str, hi: str, places: int = 6) -> st.SearchStrategy[Decimal]:
    return st.decimals(D(lo), D(hi), places=places, allow_nan=False, allow_infinity=False)


@st.composite
def ticks(draw: st.DrawFn) -> PnlObservation:
    mark = draw(money("100", "100000", 4))
    fills = tuple(
        Fill(
            f"t{i}",
            "c",
            "x",
            SYMBOL,
            draw(st.sampled_from([Side.BUY, Side.SELL])),
            draw(money("0.000001", "50")),
            draw(money("100", "100000", 4)),
            draw(money("-1", "100")),
            draw(money("-10000", "10000")),
            0,
        )
        for i in range(draw(st.integers(0, 3)))
    )
    payments = tuple(
        FundingPayment(f"f{i}", SYMBOL, draw(money("-500", "500")), D(0), D(0), mark, 0)
        for i in range(draw(st.integers(0, 2)))
    )
    return PnlObservation(
        price=draw(money("100", "100000", 4)),
        lp_value_quote=draw(money("0", "10000000")),
        lp_amount_base=draw(money("0", "1000")),
        lp_amount_quote=draw(money("0", "10000000")),
        mark_price=mark,
        fees_uncollected_quote=draw(money("0", "10000")),
        fees_collected_quote=draw(money("0", "10000")),
        fills=fills,
        funding=payments,
        gas_native=draw(money("0", "1", 9)),
        native_price_quote=draw(money("0", "10000", 2)),
    )


def signed(f: Fill) -> Decimal:
    return f.amount_base if f.side is Side.BUY else -f.amount_base


def total_values(
    path: list[PnlObservation], opening_base: Decimal, cash0: Decimal
) -> tuple[Decimal, list[Decimal], list[Decimal]]:
    """Independent book: a venue cash ledger marked to the mark, plus LP, fees and gas."""
    first = path[0]
    start = (
        first.lp_value_quote
        + first.fees_uncollected_quote
        + first.fees_collected_quote
        + cash0
        + opening_base * first.mark_price
    )
    cash, position, collected, gas = cash0, opening_base, D(0), D(0)
    totals, equity_changes = [], []
    equity0 = cash0 + opening_base * first.mark_price
    for o in path:
        for f in o.fills:
            position += signed(f)
            cash -= signed(f) * f.price + f.fee_quote
        cash += sum((p.amount_quote for p in o.funding), D(0))
        collected += o.fees_collected_quote
        gas += o.gas_native * o.native_price_quote
        equity = cash + position * o.mark_price
        totals.append(o.lp_value_quote + o.fees_uncollected_quote + collected + equity - gas)
        equity_changes.append(equity - equity0)
    return start, totals, equity_changes


@settings(max_examples=300, deadline=None)
@given(
    path=st.lists(ticks(), min_size=1, max_size=12),
    opening=money("-100", "100"),
    cash0=money("0", "1000000"),
)
def test_parts_sum_exactly_to_total_value_change(
    path: list[PnlObservation], opening: Decimal, cash0: Decimal
) -> None:
    """At every tick, the signed parts equal total value now minus at the start, exactly."""
    states = attribute(path, hedge_base=opening)
    with localcontext() as ctx:
        ctx.prec = 120
        start, totals, equity_changes = total_values(path, opening, cash0)
        for state, total, equity_change in zip(states, totals, equity_changes, strict=True):
            b = state.breakdown()
            assert b.net_pnl_quote == total - start
            assert b.venue_pnl_quote == equity_change
            assert b.net_pnl_quote == sum((s * getattr(b, n) for n, s in PARTS), D(0))


@settings(max_examples=200, deadline=None)
@given(path=st.lists(ticks(), min_size=2, max_size=10), opening=money("-100", "100"))
def test_per_tick_breakdowns_add_up_to_the_cumulative(
    path: list[PnlObservation], opening: Decimal
) -> None:
    """Summing the per-tick differences part by part gives the cumulative breakdown."""
    states = [Attribution.opening(opening), *attribute(path, hedge_base=opening)]
    per_tick = [after.breakdown() - before.breakdown() for before, after in pairwise(states)]
    names = [f.name for f in fields(PnlBreakdown)]
    with localcontext() as ctx:
        ctx.prec = 120
        total = {n: sum((getattr(b, n) for b in per_tick), D(0)) for n in names}
    assert PnlBreakdown(**total) == states[-1].breakdown()


@settings(max_examples=200, deadline=None)
@given(
    base0=money("0", "1000"),
    quote0=money("0", "1000000"),
    price0=money("100", "100000", 4),
    price=money("100", "100000", 4),
    value=money("0", "10000000"),
)
def test_il_is_lp_value_minus_holding_the_entry_amounts(
    base0: Decimal, quote0: Decimal, price0: Decimal, price: Decimal, value: Decimal
) -> None:
    """With a consistent start (V0 = base0·P0 + quote0), IL = V − (base0·P + quote0)."""
    start = PnlObservation(price0, base0 * price0 + quote0, base0, quote0, price0)
    now = PnlObservation(price, value, D(0), D(0), price)
    b = step(step(Attribution(), start), now).breakdown()
    assert b.il_quote == value - (base0 * price + quote0)
    assert b.lp_hold_pnl_quote == base0 * (price - price0)


def _v2_observation(base: Decimal, quote: Decimal) -> PnlObservation:
    with localcontext() as ctx:
        ctx.prec = 120
        price = quote / base
        return PnlObservation(
            price=price,
            lp_value_quote=base * price + quote,
            lp_amount_base=base,
            lp_amount_quote=quote,
            mark_price=price,
            v2_liquidity=(base * quote).sqrt(),
        )


def test_v2_fees_compounding_into_reserves_are_fees_not_il() -> None:
    """Reserves that grow by 0.5% at an unchanged price are 2000 of fees and no IL; a later
    fee-free move along x*y=k is pure (negative) IL, the fee liquidity revalued at the price."""
    state = step(Attribution.opening(Decimal(0)), _v2_observation(Decimal(100), Decimal(200_000)))
    state = step(state, _v2_observation(Decimal("100.5"), Decimal(201_000)))
    grown = state.breakdown()
    assert abs(grown.lp_fees_quote - 2000) < Decimal("1e-100")
    assert abs(grown.il_quote) < Decimal("1e-100")
    with localcontext() as ctx:
        ctx.prec = 120
        k = Decimal("100.5") * Decimal(201_000)
        base = (k / Decimal(2500)).sqrt()  # the pool moved to 2500 without fees
        quote = k / base
    state = step(state, _v2_observation(base, quote))
    moved = state.breakdown()
    with localcontext() as ctx:
        ctx.prec = 120
        fees_now = 2000 * (Decimal(2500) / Decimal(2000)).sqrt()  # fee liquidity at today's price
    assert abs(moved.lp_fees_quote - fees_now) < Decimal("1e-90")
    assert moved.il_quote < -100  # 2500/2000: about -0.6% of ~400k
    with localcontext() as ctx:
        ctx.prec = 120
        lp_parts = moved.lp_hold_pnl_quote + moved.il_quote + moved.lp_fees_quote
    assert moved.net_pnl_quote == lp_parts
