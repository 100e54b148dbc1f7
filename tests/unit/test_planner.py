"""The hedge planner's pure core: grid, range edges, hedge options, volatility, JSON form."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from bot.core.margin import liquidation_price_isolated
from bot.core.policy import ThresholdPolicy
from bot.planner import (
    ForecastModel,
    FundingView,
    MarginModel,
    PlanInputs,
    PositionCurve,
    ewma_sigma_annual,
    plan_hedge,
)
from bot.sim.backtest import VenueModel

pytestmark = pytest.mark.unit

V2 = PositionCurve("v2", "v2", Decimal(1000) * Decimal(2000).sqrt())
V3 = PositionCurve("v3", "v3", Decimal(500), Decimal(1800), Decimal(2400))


def inputs(curves: tuple[PositionCurve, ...], **changes: object) -> PlanInputs:
    price = Decimal(2000)
    delta = sum((c.delta(price) for c in curves), Decimal(0))
    base = {
        "block": 7,
        "block_timestamp": 1_700_000_000,
        "price": price,
        "mark_price": price,
        "delta_base": delta,
        "value_quote": sum((c.value(price) for c in curves), Decimal(0)),
        "curves": curves,
        "wallet_base": Decimal(0),
        "funding": FundingView(Decimal("0.0001"), 8 * 3600, "config"),
        "margin": MarginModel(4),
        "forecast": ForecastModel(
            ThresholdPolicy(None, Decimal("0.05"), 0.0, None), 1.0, VenueModel(), 0.6, "given", 3
        ),
    }
    base.update(changes)
    return PlanInputs(**base)  # type: ignore[arg-type]


def test_v3_edges_are_grid_rows_with_all_base_below_and_none_above() -> None:
    """The range edges are rows of their own; delta is all base at and below the lower edge
    and 0 at and above the upper one."""
    plan = plan_hedge(inputs((V3,)))
    edges = {row.edge: row for row in plan.grid if row.edge}
    assert set(edges) == {"v3 lower edge", "v3 upper edge"}
    all_base = Decimal(500) * (1 / Decimal(1800).sqrt() - 1 / Decimal(2400).sqrt())
    assert abs(edges["v3 lower edge"].delta_base - all_base) < Decimal("1e-17")
    assert edges["v3 upper edge"].delta_base == 0
    assert plan.grid[0].delta_base == edges["v3 lower edge"].delta_base  # -50 %: below
    assert plan.grid[-1].delta_base == 0
    # 1800 and 2400 are the -10 % and +20 % points: one row each, labelled
    assert len(plan.grid) == 11
    assert edges["v3 lower edge"].move_pct == Decimal("-10.00")
    assert edges["v3 upper edge"].move_pct == Decimal("20.00")
    off_grid = plan_hedge(
        inputs((PositionCurve("r", "v3", Decimal(500), Decimal(1850), Decimal(2450)),))
    )
    assert len(off_grid.grid) == 13


def test_hedge_options_size_margin_liquidation_and_funding() -> None:
    """hedge = -ratio·delta; isolated margin = notional/leverage; the core liquidation price;
    funding received by a short at a positive rate, 3 intervals a day."""
    plan = plan_hedge(inputs((V2,)))
    assert [h.ratio for h in plan.hedges] == [Decimal("0.5"), Decimal("0.75"), 1, Decimal("1.25")]
    one = plan.hedges[2]
    assert one.hedge_base == Decimal("-1000.000000000000000000")
    assert one.notional_quote == Decimal(2_000_000)
    assert one.margin_quote == Decimal(500_000)
    expected = liquidation_price_isolated(Decimal(-1000), Decimal(2000), Decimal(500_000))
    assert expected is not None
    assert abs(one.liquidation_price - expected) < Decimal("1e-17")  # type: ignore[operator]
    assert one.funding_per_day_quote == Decimal(600)  # 1000 x 2000 x 1 bp x 3
    assert one.liquidation_distance_pct is not None
    assert one.liquidation_distance_pct > 0


def test_cross_margin_uses_the_wallet_balance() -> None:
    """Cross margin backs every ratio with the same account balance."""
    plan = plan_hedge(inputs((V2,), margin=MarginModel(4, "cross", Decimal(123_456))))
    assert {h.margin_quote for h in plan.hedges} == {Decimal(123_456)}


def test_forecast_is_seeded_and_the_json_form_is_strings() -> None:
    """Same inputs, same forecast; as_dict() is JSON with every number a string."""
    first, second = plan_hedge(inputs((V2, V3))), plan_hedge(inputs((V2, V3)))
    assert first.forecast == second.forecast
    assert first.forecast.days == 3
    assert "V3" in first.forecast.model
    text = json.dumps(first.as_dict())
    data = json.loads(text)
    assert data["grid"][0]["price"] == "1000.000000000000000000"
    assert isinstance(data["forecast"]["expected_rebalances"], str)


def test_ewma_sigma_of_a_constant_volatility_path() -> None:
    """Alternating ±1 % log moves every minute: the EWMA is 1 % per √minute, annualised."""
    prices, price = [], Decimal(2000)
    for i in range(200):
        prices.append(price)
        price = price * Decimal(math.exp(0.01 if i % 2 else -0.01))
    sigma = ewma_sigma_annual([60.0 * i for i in range(200)], prices)
    assert sigma is not None
    assert sigma == pytest.approx(0.01 * math.sqrt(365 * 24 * 60), rel=1e-6)
    assert ewma_sigma_annual([0.0], [Decimal(1)]) is None


def test_bad_prices_are_refused() -> None:
    """A zero mark or a non-finite volatility is a ValueError, not a plan."""
    with pytest.raises(ValueError, match="price and mark"):
        plan_hedge(inputs((V2,), mark_price=Decimal(0)))
    bad = ForecastModel(
        ThresholdPolicy(None, Decimal("0.05"), 0.0, None), 1.0, VenueModel(), math.inf, "x"
    )
    with pytest.raises(ValueError, match="volatility"):
        plan_hedge(inputs((V2,), forecast=bad))
