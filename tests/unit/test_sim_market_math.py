"""Pure pieces of the simulated market: the seeded GBM and exact V2 swap sizing."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bot.sim.market import SeededGbm, swap_to_price, v2_amount_out

pytestmark = pytest.mark.unit


def test_same_seed_same_path() -> None:
    """A seed fixes the path; another seed gives another path."""

    def prices(seed: int) -> list[float]:
        path = SeededGbm(start_price=2000.0, sigma_annual=0.9, step_s=600, seed=seed)
        return [path.advance() for _ in range(50)]

    assert prices(7) == prices(7)
    assert prices(7) != prices(8)
    assert all(p > 0 for p in prices(7))


def test_zero_volatility_follows_drift() -> None:
    """With sigma 0 the path grows at exactly the drift rate."""
    path = SeededGbm(start_price=100.0, sigma_annual=0.0, drift_annual=0.1, step_s=365 * 86400)
    assert path.advance() == pytest.approx(100.0 * 2.718281828459045**0.1)


def test_amount_out_matches_uniswap_formula() -> None:
    """997/1000 of the input is swapped against x*y=k, rounded down."""
    assert v2_amount_out(1000, 10_000, 20_000) == 1000 * 997 * 20_000 // (
        10_000 * 1000 + 1000 * 997
    )


@pytest.mark.parametrize("target", [Fraction(3), Fraction(1, 3), Fraction(2001, 1000)])
def test_swap_reaches_target_with_smallest_input(target: Fraction) -> None:
    """The swap lands the price at or just past the target; one unit less falls short."""
    r0, r1 = 10**21, 2 * 10**21
    swap = swap_to_price(r0, r1, target)
    assert swap is not None
    assert swap.zero_for_one is (target < 2)
    r_in, r_out = (r0, r1) if swap.zero_for_one else (r1, r0)

    def price_after(amount_in: int) -> Fraction:
        out = v2_amount_out(amount_in, r_in, r_out)
        if swap.zero_for_one:
            return Fraction(r1 - out, r0 + amount_in)
        return Fraction(r1 + amount_in, r0 - out)

    after, short = price_after(swap.amount_in), price_after(swap.amount_in - 1)
    if swap.zero_for_one:
        assert after <= target < short
    else:
        assert short < target <= after
    assert abs(after / target - 1) < Fraction(1, 10**9)


def test_no_swap_when_at_target() -> None:
    """A pool already at the target needs no trade."""
    assert swap_to_price(100, 200, Fraction(2)) is None
