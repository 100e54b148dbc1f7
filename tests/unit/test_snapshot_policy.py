"""The store's snapshot policy: which ticks' snapshots and decisions get a row (pure)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.domain import ChainNotice, ChainSnapshot, Decision, PositionExposure, Side
from bot.store.settings import StoreConfig
from bot.store.snapshot_policy import KeptTick, SnapshotPolicy

pytestmark = pytest.mark.unit

D = Decimal
POLICY = SnapshotPolicy(D("0.001"), 60.0)


def snap(delta: str = "10", value: str = "40000", liquidity: int | None = 7) -> ChainSnapshot:
    lp = PositionExposure(
        "lp", "v3", D(delta), D(20000), D(value), D(delta), D(0), D(2000), liquidity=liquidity
    )
    return ChainSnapshot(1, 1, "0x1", D(2000), (lp,))


def hold(reason: str = "inside band") -> Decision:
    return Decision("hold", reason, D(10), D(-10), D(-10), D(0), D("0.5"))


KEPT = KeptTick(snap(), 1000.0, hold())


def test_the_first_snapshot_is_kept() -> None:
    """Nothing kept yet: this one is."""
    assert POLICY.snapshot_reason(KeptTick(), snap(), 0.0, traded=False) == "first"


def test_a_quiet_tick_within_tolerance_and_interval_is_skipped() -> None:
    """Delta and value moved by at most the tolerance, 59 s later: no row."""
    assert POLICY.snapshot_reason(KEPT, snap("10.01", "40040"), 1059.0, traded=False) is None


@pytest.mark.parametrize(
    ("snapshot", "now", "traded", "reason"),
    [
        (snap(), 1001.0, True, "traded"),
        (snap("10.0101"), 1001.0, False, "delta"),
        (snap("9.9899"), 1001.0, False, "delta"),
        (snap(value="40040.1"), 1001.0, False, "value"),
        (snap(liquidity=8), 1001.0, False, "positions"),
        (replace(snap(), positions=()), 1001.0, False, "positions"),
        (
            replace(snap(), notices=(ChainNotice("position.duplicate", "x"),)),
            1001.0,
            False,
            "positions",
        ),
        (snap(), 1060.0, False, "interval"),
    ],
)
def test_each_reason_keeps_the_snapshot(
    snapshot: ChainSnapshot, now: float, traded: bool, reason: str
) -> None:
    """A trade, a delta or value move beyond the tolerance (either sign), a position's
    liquidity, the set of positions, a notice, and the interval each keep it."""
    assert POLICY.snapshot_reason(KEPT, snapshot, now, traded=traded) == reason


def test_a_move_from_zero_delta_is_a_change() -> None:
    """Relative to zero, any move is beyond the tolerance."""
    kept = KeptTick(snap("0"), 1000.0)
    assert POLICY.snapshot_reason(kept, snap("0.000001"), 1001.0, traded=False) == "delta"


def test_zero_tolerance_and_interval_keep_every_tick() -> None:
    """The setting that restores the old behaviour: every snapshot kept."""
    every = SnapshotPolicy(D(0), 0.0)
    assert every.snapshot_reason(KEPT, snap(), 1000.0, traded=False) == "interval"


def test_decisions_kept_on_snapshot_trade_or_change_only() -> None:
    """A hold repeating the last kept one adds no row; a new reason, a rebalance, or a kept
    snapshot does."""
    assert not POLICY.keeps_decision(KEPT, hold(), snapshot_kept=False)
    assert POLICY.keeps_decision(KEPT, hold(), snapshot_kept=True)
    assert POLICY.keeps_decision(KEPT, hold("paused"), snapshot_kept=False)
    assert POLICY.keeps_decision(KEPT, replace(hold(), action="rebalance"), snapshot_kept=False)
    assert POLICY.keeps_decision(KeptTick(), hold(), snapshot_kept=False)


def test_the_store_section_carries_the_policy_settings() -> None:
    """store.snapshot_tolerance / snapshot_interval_s / retention, with their defaults;
    a negative tolerance is refused."""
    config = StoreConfig.model_validate(
        {"snapshot_tolerance": "0.002", "retention": {"full_days": 3, "interval_s": 600}}
    )
    assert config.snapshot_tolerance == D("0.002")
    assert config.snapshot_interval_s == 60.0
    assert (config.retention.full_days, config.retention.interval_s) == (3, 600)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        StoreConfig.model_validate({"snapshot_tolerance": "-1"})


def test_a_repeat_within_tolerance_extends_the_run_and_anything_else_opens_one() -> None:
    """Target, hedge and band within 1e-3 of the run's head: the same run; beyond it, a
    different note or order side, or a rebalance (head or repeat): a row of its own."""
    head = hold()
    assert POLICY.same_run(head, replace(head, target_base=D("-10.009"), hedge_base=D("-10.01")))
    assert not POLICY.keeps_decision(
        KeptTick(snap(), 0.0, head), replace(head, band_base=D("0.5004")), snapshot_kept=False
    )
    assert not POLICY.same_run(head, replace(head, target_base=D("-10.011")))
    assert not POLICY.same_run(head, replace(head, hedge_base=D("-9.98")))
    assert not POLICY.same_run(head, replace(head, band_base=D("0.6")))
    assert not POLICY.same_run(head, replace(head, notes=("margin warning",)))
    assert not POLICY.same_run(head, replace(head, order_side=Side.SELL))
    assert not POLICY.same_run(replace(head, action="rebalance"), head)
    assert not POLICY.same_run(head, replace(head, action="rebalance"))
    assert not POLICY.same_run(replace(head, hedge_base=D(0)), replace(head, hedge_base=D("1e-9")))
