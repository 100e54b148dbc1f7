"""The bot page's per-position view (issue 18 item 1) from a real `hedgebot run` on `hedgebot
localnet` (V2, V3 and V4 pools): with the market stopped, the state on `/api/state` names the
pool the localnet deployed, the range edge prices the core math gives at the position's ticks,
where the price sits in it, and the same amounts, delta and fees as `snapshot --json`."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from daemon_support import start_bot, until
from position_view_support import cli_json, decisions, expected_pool, pool_localnet, state_at

from bot.core.v3 import tick_to_price
from bot.sim.mosquitto import Broker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

E18 = Decimal("1e-18")  # `snapshot --json` rounds decimals to 18 places (bot.display)


@pytest.mark.parametrize("pool_kind", ["v2", "v3", "v4"])
async def test_the_state_shows_chain_pool_range_amounts_delta_and_fees(
    pool_kind: str, mqtt_broker: Broker, tmp_path: Path
) -> None:
    """Market stopped: each position of the state served to the page has the localnet's pool,
    ``price_lower``/``price_upper`` equal to ``tick_to_price`` at the snapshot's ticks (None:
    V2), ``range_position`` from them, and the snapshot's chain, amounts, delta and fees."""
    async with pool_localnet(tmp_path / "localnet", pool_kind) as (out, localnet):
        info = json.loads((out / "localnet.json").read_text())
        contracts = info["contracts"]
        prefix = f"hedgebot-posview/{uuid.uuid4().hex[:8]}"
        bot = await start_bot(out, tmp_path / "bot", f"pv-{pool_kind}", mqtt_broker, prefix)
        try:
            await until(lambda: decisions(bot) >= 3, 90, "ticks")
            localnet.proc.send_signal(signal.SIGSTOP)
            try:
                await asyncio.sleep(1.5)  # the swap in flight is mined
                snapshot = await cli_json("snapshot", "--config", str(bot.config), "--json")
                body = await state_at(bot, snapshot["block"])
            finally:
                localnet.proc.send_signal(signal.SIGCONT)
        finally:
            await bot.proc.stop()
    (position,) = body["state"]["positions"]
    (snap,) = snapshot["positions"]
    assert position["id"] == snap["id"]
    assert position.get("chain", body["chain"]) == snap["chain"]
    assert position["pool"] == expected_pool(pool_kind, contracts)
    for name in ("amount_base", "amount_quote", "value_quote", "delta_base"):  # snapshot: 1e-18
        assert Decimal(position[name]).quantize(E18) == Decimal(snap[name]), name
    assert Decimal(position["fees_base"]) == Decimal(snap["fees_base"])
    assert Decimal(position["fees_quote"]) == Decimal(snap["fees_quote"])
    assert position["in_range"] is snap["in_range"]
    if pool_kind == "v2":
        assert (position["price_lower"], position["price_upper"]) == (None, None)
        assert position["range_position"] is None
        return
    assert Decimal(position["fees_base"]) + Decimal(position["fees_quote"]) > 0  # swaps paid
    edges = sorted(
        tick_to_price(
            tick,
            base_is_token0=contracts["base_is_token0"],
            base_decimals=contracts["base_decimals"],
            quote_decimals=contracts["quote_decimals"],
        )
        for tick in (snap["tick_lower"], snap["tick_upper"])
    )
    assert Decimal(position["price_lower"]) == edges[0]
    assert Decimal(position["price_upper"]) == edges[1]
    price = Decimal(body["state"]["price"])  # exact (the snapshot's is rounded to 1e-18)
    assert price.quantize(E18) == Decimal(snapshot["price"])
    with localcontext() as ctx:
        ctx.prec = 40
        where = (price - edges[0]) / (edges[1] - edges[0])
    assert Decimal(position["range_position"]) == where
    assert position["in_range"] is (edges[0] <= price <= edges[1])
