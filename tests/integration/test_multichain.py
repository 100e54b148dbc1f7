"""Several chains in one bot, against two real anvils with different chain ids: a Uniswap V2
pair on one (base as token0), a V3 NFT and a V4 NFT on the other (base as token1, the V4
pool on the V3 pool's tokens). The second chain is reached through a TCP relay the tests cut
and restore (the chain keeps its state: the same node comes back)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.app import build_bot, take_snapshot
from bot.chain.multichain import MultiChainReader
from bot.chain.rpc import checksum, connect, load_abi
from bot.clock import WallClock
from bot.config import Settings, load_config
from bot.errors import ConfigError
from bot.events import Alert
from bot.sim.anvil import Anvil, AnvilOptions
from bot.sim.deploy import DeploymentSpec, LocalDeployment, deploy_local
from bot.sim.deploy_v3 import V3Deployment, V3DeploymentSpec, deploy_v3
from bot.sim.deploy_v4 import V4Deployment, V4DeploymentSpec, deploy_v4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tcp_proxy import TcpProxy
from v3_support import static_decrease_and_collect
from v4_support import decrease_and_take, posm

pytestmark = pytest.mark.integration

CHAIN_A, CHAIN_B = 31_337, 42_161


@dataclass
class TwoChains:
    """Two local chains, their deployments and the relay in front of chain B."""

    a: Anvil
    b: Anvil
    v2: LocalDeployment
    v3: V3Deployment
    v4: V4Deployment
    relay: TcpProxy

    @property
    def b_url(self) -> str:
        """Chain B as the bot reaches it: through the relay."""
        return f"http://127.0.0.1:{self.relay.port}"


@pytest.fixture(scope="module")
async def two_chains() -> AsyncIterator[TwoChains]:
    """Two anvils (chain ids 31337 and 42161) and their deployments, once per module."""
    async with open_two_chains() as world:
        yield world


@contextlib.asynccontextmanager
async def open_two_chains() -> AsyncIterator[TwoChains]:
    """Two anvils (chain ids 31337 and 42161), their deployments and chain B's relay."""
    async with (
        Anvil(AnvilOptions(chain_id=CHAIN_A)) as a,
        Anvil(AnvilOptions(chain_id=CHAIN_B)) as b,
    ):
        v2 = await deploy_local(
            a.rpc_url,
            DeploymentSpec(base_is_token0=True, second_lp_fraction=Decimal("0.25")),
        )
        v3 = await deploy_v3(b.rpc_url, V3DeploymentSpec(base_is_token0=False))
        v4 = await deploy_v4(b.rpc_url, V4DeploymentSpec(tokens=(v3.base_token, v3.quote_token)))
        relay = TcpProxy("127.0.0.1", b.port)
        await relay.start()
        try:
            yield TwoChains(a, b, v2, v3, v4, relay)
        finally:
            if relay._server is not None:
                await relay.stop()


def config_data(world: TwoChains, tmp_path: Path) -> dict[str, Any]:
    """One config: chain ``l1`` (V2) first, chain ``l2`` (V3 + V4) second."""
    return {
        "bot_id": "multichain",
        "chains": {
            "l1": {"rpc_urls": [world.a.rpc_url], "multicall": world.v2.multicall},
            "l2": {
                "rpc_urls": [world.b_url],
                "multicall": world.v3.multicall,
                "request_timeout_s": 2,
                "read_timeout_s": 5,
            },
        },
        "positions": [
            {
                "id": "v2-lp",
                "kind": "v2",
                "chain": "l1",
                "pool": world.v2.pair,
                "owner": world.v2.lp_account,
            },
            {
                "id": "v3-lp",
                "kind": "v3",
                "chain": "l2",
                "position_manager": world.v3.position_manager,
                "token_id": world.v3.token_id,
            },
            {
                "id": "v4-lp",
                "kind": "v4",
                "chain": "l2",
                "position_manager": world.v4.position_manager,
                "state_view": world.v4.state_view,
                "token_id": world.v4.token_id,
            },
        ],
        "hedge_asset": {
            "base_token": world.v2.base_token,
            "quote_token": world.v2.quote_token,
            "chains": {
                "l2": {"base_token": world.v3.base_token, "quote_token": world.v3.quote_token}
            },
        },
        "exchange": {
            "kind": "paper",
            "paper": {"state_path": str(tmp_path / "venue.json"), "initial_balance": 10**7},
        },
        "store": {"path": str(tmp_path / "store.db")},
        "risk": {
            "read_timeout_s": 15,
            "max_order_notional_quote": 5 * 10**6,
            "max_position_notional_quote": 5 * 10**6,
        },
    }


def settings_of(world: TwoChains, tmp_path: Path) -> Settings:
    """The config, loaded as ``hedgebot`` loads it (every check applied)."""
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data(world, tmp_path)))
    return load_config(path)


async def v2_withdrawal(w3: AsyncWeb3[Any], d: LocalDeployment, block: int) -> tuple[int, int]:
    """(base, quote) raw units that burning the LP's whole balance pays at ``block``: its
    share of the reserves, rounded down as ``UniswapV2Pair.burn`` (no fee-to set)."""
    pair = w3.eth.contract(address=checksum(d.pair), abi=load_abi("uniswap_v2_pair"))
    balance = await pair.functions.balanceOf(d.lp_account).call(block_identifier=block)
    supply = await pair.functions.totalSupply().call(block_identifier=block)
    r0, r1, _ = await pair.functions.getReserves().call(block_identifier=block)
    amounts = (balance * r0 // supply, balance * r1 // supply)
    return amounts if d.base_is_token0 else (amounts[1], amounts[0])


def human(raw: int, decimals: int) -> Decimal:
    return Decimal(raw).scaleb(-decimals)


async def test_snapshot_json_sums_each_chains_withdrawals_to_the_wei(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """snapshot --json: each position carries its chain and pays what a withdrawal pays, to
    the wei; the delta is their exact sum; blocks name each chain's block."""
    world = two_chains
    settings = settings_of(world, tmp_path)
    snap = await take_snapshot(settings)
    rows = {p["id"]: p for p in snap["positions"]}
    assert {i: p["chain"] for i, p in rows.items()} == {"v2-lp": "l1", "v3-lp": "l2", "v4-lp": "l2"}
    assert set(snap["blocks"]) == {"l1", "l2"}
    assert snap["block"] == snap["blocks"]["l1"]
    wa, wb = connect(world.a.rpc_url), connect(world.b.rpc_url)
    try:
        v2_base, v2_quote = await v2_withdrawal(wa, world.v2, snap["blocks"]["l1"])
        block_b = snap["blocks"]["l2"]
        (a0, a1), (f0, f1) = await static_decrease_and_collect(
            wb, world.v3, world.v3.token_id, world.v3.lp_account, block_b
        )
        assert (f0, f1) == (0, 0)  # no swaps yet: no fees
        v3_base, v3_quote = (a1, a0)  # base is token1 on chain l2
        liquidity = (
            await posm(wb, world.v4).functions.getPositionLiquidity(world.v4.token_id).call()
        )
        p0, p1 = await decrease_and_take(
            wb, world.v4, world.v4.token_id, liquidity, world.v4.lp_account
        )
        v4_base, v4_quote = (p0, p1) if world.v4.base_is_token0 else (p1, p0)
    finally:
        await wa.provider.disconnect()
        await wb.provider.disconnect()
    assert not world.v4.base_is_token0
    assert not world.v3.base_is_token0
    bd, qd = world.v3.base_decimals, world.v3.quote_decimals
    expected = {
        "v2-lp": (human(v2_base, bd), human(v2_quote, qd)),
        "v3-lp": (human(v3_base, bd), human(v3_quote, qd)),
        "v4-lp": (human(v4_base, bd), human(v4_quote, qd)),
    }
    for pid, (base, quote) in expected.items():
        assert Decimal(rows[pid]["amount_base"]) == base, pid
        assert Decimal(rows[pid]["amount_quote"]) == quote, pid
        assert Decimal(rows[pid]["delta_base"]) == base, pid  # fees not in delta, none owed
    assert Decimal(snap["delta_base"]) == sum(b for b, _ in expected.values())
    assert all(b > 0 for b, _ in expected.values())


async def test_config_errors_name_the_chain_and_field(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """A position naming no chain, or an unknown one, is refused by field."""
    import yaml

    data = config_data(two_chains, tmp_path)
    data["positions"][0].pop("chain")
    data["positions"][1]["chain"] = "l3"
    data["hedge_asset"]["chains"]["l9"] = data["hedge_asset"]["chains"]["l2"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert "positions.0.chain: required with several chains (l1, l2)" in lines
    assert "positions.1.chain: unknown chain 'l3' (chains: l1, l2)" in lines
    assert "hedge_asset.chains.l9: unknown chain 'l9' (chains: l1, l2)" in lines


class Recorded:
    """The engine's telemetry, kept: every event and state it publishes."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.states: list[Any] = []

    def publish_state(self, state: Any) -> None:
        self.states.append(state)

    def publish_event(self, event: Any) -> None:
        self.events.append(event)

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Not needed here."""

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """The context of each alert ``name`` published so far."""
        return [dict(e.context) for e in self.events if isinstance(e, Alert) and e.name == name]


async def test_engine_hedges_the_sum_and_a_cut_chain_blocks_trading_until_it_returns(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """The paper hedge is the sum over both chains; cutting chain l2 blocks trading with a
    chain.unreadable alert naming it (unknown is not zero); restoring it resumes."""
    world = two_chains
    settings = settings_of(world, tmp_path)
    telemetry = Recorded()
    bot = await build_bot(settings, clock=WallClock(), telemetry=telemetry)
    try:
        assert isinstance(bot.chain, MultiChainReader)
        await bot.engine.start()
        block = await bot.chain.latest_block()
        report = await bot.engine.tick(block)
        assert report is not None
        snap = await bot.chain.snapshot(block)
        total = sum((p.delta_base for p in snap.positions), Decimal(0))
        assert {p.chain for p in snap.positions} == {"l1", "l2"}
        hedge = (await bot.exchange.position()).size_base
        step = Decimal("0.001")  # the paper venue's amount step
        assert total > 0
        assert abs(hedge + total) <= step / 2
        ticks_ok = bot.engine.stats.ticks

        await world.relay.stop()  # chain l2 unreachable: its node is cut off
        failed = await bot.engine.tick(block)
        assert failed is None
        down = telemetry.alerts("chain.unreadable")
        assert len(down) == 1
        assert tuple(down[0]["entries"]) == ("l2",)
        assert "chain l2" in down[0]["detail"]
        assert (await bot.exchange.position()).size_base == hedge  # nothing traded

        await world.relay.start()  # the same node, same state, back on the same port
        resumed = await bot.engine.tick(block)
        assert resumed is not None
        up = telemetry.alerts("chain.readable")
        assert len(up) == 1
        assert tuple(up[0]["entries"]) == ("l2",)
        assert bot.engine.stats.ticks > ticks_ok
    finally:
        await bot.close()


async def test_a_new_head_on_either_chain_triggers_a_tick(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """The merged head stream hands out the primary's head for a block mined on either
    chain, and records the other chain's newest head for its reads."""
    import asyncio

    from bot.chain.multichain import open_chain_heads
    from bot.chain.rpc import rpc_request

    world = two_chains
    data = config_data(world, tmp_path)
    for chain in data["chains"].values():
        chain["poll_interval_s"] = 0.05
    settings = Settings(**data)
    reader = MultiChainReader(settings, WallClock())
    wb = connect(world.b.rpc_url)
    try:
        async with open_chain_heads(reader, settings.chain) as heads:
            first = await asyncio.wait_for(anext(aiter(heads)), 30)
            while reader.head("l2") is None:  # both chains' first heads: either may come first
                assert await asyncio.wait_for(anext(aiter(heads)), 30) == first
            assert first == await reader.latest_block()
            b_before = reader.head("l2")
            await rpc_request(wb, "evm_mine")  # a block on chain l2 only
            again = await asyncio.wait_for(anext(aiter(heads)), 30)
            while reader.head("l2") == b_before:
                again = await asyncio.wait_for(anext(aiter(heads)), 30)
            assert again == first  # the primary did not move: its head, again
            assert b_before is not None
            assert reader.head("l2") == b_before + 1
    finally:
        await wb.provider.disconnect()
        await reader.close()
