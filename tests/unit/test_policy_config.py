"""Policy settings: one union member per policy builds it, for the daemon and the backtester."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from bot.app import build_policy
from bot.config import HedgeConfig, load_config
from bot.core.policy import CostAwareBandPolicy, IntervalPolicy, ThresholdPolicy
from bot.policy_config import (
    BandPolicyConfig,
    IntervalPolicyConfig,
    ThresholdPolicyConfig,
    parse_policy,
)
from bot.sim.backtest import add_subcommand

pytestmark = pytest.mark.unit

D = Decimal
CONFIGS = Path(__file__).resolve().parents[2] / "config"


def test_members_build_their_policy() -> None:
    """The discriminator picks the member; each builds the policy object decide takes."""
    assert parse_policy({"threshold_base": "0.5"}).build() == ThresholdPolicy(
        threshold_base=D("0.5"), threshold_fraction=D("0.05")
    )
    interval = parse_policy({"policy": "interval", "interval_s": 600, "backstop_s": 60})
    assert isinstance(interval, IntervalPolicyConfig)
    assert interval.build() == IntervalPolicy(interval_s=600.0, backstop_s=60.0)
    band = parse_policy({"policy": "band", "risk_aversion": "0.01", "band_cost_bps": "6"})
    assert isinstance(band, BandPolicyConfig)
    assert band.build() == CostAwareBandPolicy(cost_fraction=D("0.0006"), risk_aversion=D("0.01"))


def test_a_member_refuses_another_policys_field() -> None:
    """A union member is strict: a band member has no threshold, a bad value names its field."""
    with pytest.raises(ValidationError, match="threshold_base"):
        parse_policy({"policy": "band", "threshold_base": "1"})
    with pytest.raises(ValidationError, match="interval_s"):
        parse_policy({"policy": "interval", "interval_s": 0})
    with pytest.raises(ValidationError, match="set threshold_base and/or threshold_fraction"):
        ThresholdPolicyConfig(threshold_fraction=None)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({}, ThresholdPolicy(threshold_fraction=D("0.05"))),
        (
            {"policy": "interval", "interval_s": 900, "threshold_fraction": "0.2"},
            IntervalPolicy(interval_s=900.0),
        ),
        (
            {"policy": "band", "band_cost_bps": "7", "max_band_base": "2", "persistence_s": 30},
            CostAwareBandPolicy(
                cost_fraction=D("0.0007"),
                risk_aversion=D("0.001"),
                max_band_base=D(2),
                persistence_s=30.0,
            ),
        ),
    ],
)
def test_flat_hedge_section_builds_through_its_member(
    section: dict[str, object], expected: object
) -> None:
    """The flat ``hedge:`` section (as every config is written) builds the member named by
    ``policy``; fields of other policies are kept as written and unused, as before."""
    hedge = HedgeConfig.model_validate(section)
    assert hedge.build() == expected
    assert type(hedge.policy_config()).__name__.lower().startswith(hedge.policy)


@pytest.mark.parametrize("name", ["demo.yaml", "paper.yaml", "testnet.yaml"])
def test_shipped_configs_build_their_policy(name: str) -> None:
    """Every shipped config loads and the daemon's build_policy is the member's build()."""
    settings = load_config(CONFIGS / name, require_secrets=False)
    policy = build_policy(settings)
    assert policy == settings.hedge.policy_config().build()
    assert isinstance(policy, ThresholdPolicy)
    data = yaml.safe_load((CONFIGS / name).read_text())["hedge"]
    assert policy.threshold_base == D(str(data["threshold_base"]))


def _backtest_policy(argv: list[str]) -> object:
    parser = argparse.ArgumentParser()
    add_subcommand(parser.add_subparsers())
    args = parser.parse_args(["backtest", *argv])
    from bot.sim.backtest_cli import _policy_fields

    return parse_policy(_policy_fields(args)).build()


def test_backtest_cli_builds_through_the_same_models() -> None:
    """`backtest --policy ...` gives the policy the same hedge section would give the daemon."""
    band = _backtest_policy(["--policy", "band", "--taker-fee-bps", "4", "--slippage-bps", "3"])
    assert band == HedgeConfig(policy="band", band_cost_bps=D(7), risk_aversion=D("1e-4")).build()
    pct = _backtest_policy(["--threshold", "2.5%", "--backstop-s", "600"])
    assert pct == ThresholdPolicy(threshold_fraction=D("0.025"), backstop_s=600.0)
    base = _backtest_policy(["--threshold", "0.4"])
    assert base == HedgeConfig(threshold_base=D("0.4"), threshold_fraction=None).build()
    interval = _backtest_policy(["--policy", "interval", "--interval-s", "120"])
    assert interval == IntervalPolicy(interval_s=120.0)
