"""The planner's observed volatility (issue 18 review): read from the configured store backend
(SQLite file or PostgreSQL, both real), timed by the blocks' timestamps (not by when the bot
recorded the prices) and never beyond ``MAX_SIGMA``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from store_backends import BACKENDS, Backend, backend_for

from bot.config import Settings, load_config
from bot.domain import ChainSnapshot
from bot.planner import MAX_SIGMA
from bot.planner_curves import ewma_sigma_annual
from bot.planner_history import MIN_HISTORY, observed_sigma

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PAPER = Path(__file__).parents[2] / "config" / "paper.yaml"
BLOCK_S = 60  # the chain's block time: what the price moves are timed by
RECORD_S = 1  # the bot recorded them a second apart (a localnet mining fast)


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend_for(request.param, tmp_path)


def _settings(backend: Backend) -> Settings:
    config = backend.store_config()
    env = {"HEDGEBOT_STORE__PATH": config["path"]}
    if "url" in config:
        env["HEDGEBOT_STORE__URL"] = config["url"]
        env["HEDGEBOT_STORE__PG_SCHEMA"] = config["pg_schema"]
    return load_config(PAPER, env, require_secrets=False)


async def _record(backend: Backend, settings: Settings, prices: list[float]) -> None:
    store = await backend.open(settings.bot_id)
    try:
        for i, price in enumerate(prices):
            snapshot = ChainSnapshot(
                block_number=100 + i,
                block_timestamp=1_700_000_000 + BLOCK_S * i,
                block_hash=f"0x{i:064x}",
                price=Decimal(str(price)),
                positions=(),
            )
            await store.record_snapshot(1_800_000_000 + RECORD_S * i, snapshot)
    finally:
        await store.close()


async def test_the_observed_volatility_is_timed_by_block_timestamps(
    store_backend: Backend,
) -> None:
    """Prices a block (60 s) apart, recorded a second apart: the EWMA over block time, read
    from the configured backend (a PostgreSQL bot's own history, not a SQLite file)."""
    settings = _settings(store_backend)
    prices = [2000 * (1.001 if i % 2 else 0.999) for i in range(40)]
    await _record(store_backend, settings, prices)
    observed = await observed_sigma(settings)
    expected = ewma_sigma_annual(
        [1_700_000_000 + BLOCK_S * i for i in range(40)], [Decimal(str(p)) for p in prices]
    )
    wall = ewma_sigma_annual(
        [1_800_000_000 + RECORD_S * i for i in range(40)], [Decimal(str(p)) for p in prices]
    )
    assert expected is not None
    assert wall is not None
    assert observed.sigma is not None
    assert math.isclose(observed.sigma, expected, rel_tol=1e-12)
    assert not math.isclose(observed.sigma, wall, rel_tol=0.5)  # sqrt(60) apart
    assert observed.source == "observed: EWMA of 40 stored prices over 0.7 h of block time"


async def test_a_wild_observed_volatility_is_clamped_and_said(store_backend: Backend) -> None:
    """±20 % a block is far beyond 1000 % a year: the planner gets ``MAX_SIGMA`` and the
    source says what was observed and that it was clamped."""
    settings = _settings(store_backend)
    await _record(store_backend, settings, [2000 * (1.2 if i % 2 else 0.8) for i in range(30)])
    observed = await observed_sigma(settings)
    assert observed.sigma == MAX_SIGMA
    assert "clamped to the maximum 10" in observed.source


async def test_too_short_a_history_is_no_observation(store_backend: Backend) -> None:
    """Fewer than MIN_HISTORY prices: None, and the reason."""
    settings = _settings(store_backend)
    await _record(store_backend, settings, [2000.0] * (MIN_HISTORY - 1))
    observed = await observed_sigma(settings)
    assert observed.sigma is None
    assert f"under {MIN_HISTORY}" in observed.source
