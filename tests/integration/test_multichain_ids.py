"""Each RPC endpoint answers its chain's id (issue 15), against the two real anvils of
test_multichain (chain ids 31337 and 42161): a second section on the same chain would count
its positions twice, an endpoint on another chain would read another chain's state, and
failover must never move a chain onto such an endpoint."""

from __future__ import annotations

import asyncio
import io
import re
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from web3 import AsyncWeb3

from bot.app import build_bot, take_snapshot
from bot.chain.chain_ids import check_chain_id
from bot.chain.failover import FailoverProvider
from bot.chain.multichain import ChainsUnreadable, MultiChainReader
from bot.chain.preflight import preflight
from bot.chain.rpc import checksum, rpc_request
from bot.clock import WallClock
from bot.config import Settings, load_config
from bot.config_chains import ChainConfig
from bot.errors import ChainError, ConfigError
from bot.preflight_cli import EXIT_CONFIG, run_preflight
from bot.status import read_status
from bot.status_render import render_status

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_multichain import CHAIN_A, CHAIN_B, Recorded, TwoChains, config_data, open_two_chains

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def two_chains() -> AsyncIterator[TwoChains]:
    """The two chains of test_multichain, once per module."""
    async with open_two_chains() as world:
        yield world


def load(data: dict[str, Any], tmp_path: Path) -> Settings:
    """``data`` written and loaded as ``hedgebot`` loads a config file."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


def with_dup_chain(world: TwoChains, tmp_path: Path) -> dict[str, Any]:
    """The config with chain ``l2`` copied as ``l2dup`` (``localhost`` for ``127.0.0.1``;
    sorted after ``l2`` as yaml.safe_dump writes it) and the V4 NFT listed again on it: one
    position, two sections."""
    data = config_data(world, tmp_path)
    dup = dict(data["chains"]["l2"])
    dup["rpc_urls"] = [u.replace("127.0.0.1", "localhost") for u in dup["rpc_urls"]]
    data["chains"]["l2dup"] = dup
    data["positions"].append({**data["positions"][2], "id": "v4-again", "chain": "l2dup"})
    data["hedge_asset"]["chains"]["l2dup"] = data["hedge_asset"]["chains"]["l2"]
    return data


async def test_two_sections_on_one_chain_are_refused_everywhere(
    two_chains: TwoChains, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A chain listed twice: check-config --online errors on chains.l2dup (exit 2), snapshot
    refuses to start instead of counting the V4 position twice."""
    settings = load(with_dup_chain(two_chains, tmp_path), tmp_path)
    findings = await preflight(settings)
    errors = [f for f in findings if f.severity == "error"]
    assert [f.field for f in errors] == ["chains.l2dup"]
    assert errors[0].kind == "wrong_chain"
    assert errors[0].message.startswith(f"chain l2dup is chain id {CHAIN_B}, as chain l2 is")
    assert "counted twice" in errors[0].message

    with pytest.raises(ConfigError, match=r"chains\.l2dup: chain l2dup is chain id 42161"):
        await take_snapshot(settings)

    assert await asyncio.to_thread(run_preflight, settings, "dup.yaml") == EXIT_CONFIG
    assert "error chains.l2dup: chain l2dup is chain id 42161" in capsys.readouterr().err


async def test_an_endpoint_on_another_chain_is_named_with_both_ids(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """chain l2 expects 42161 but its RPC is chain A's node: refused with the chain, the
    endpoint and both ids, before any position is read."""
    world = two_chains
    data = config_data(world, tmp_path)
    data["chains"]["l2"].update(rpc_urls=[world.a.rpc_url], chain_id=CHAIN_B)
    settings = load(data, tmp_path)
    expected = (
        f"chains.l2.rpc_urls.0: chain l2: node at {world.a.rpc_url} answers chain id "
        f"{CHAIN_A}, expected {CHAIN_B}"
    )
    findings = await preflight(settings)
    assert [str(f) for f in findings] == [expected]  # nothing else read: no noise
    with pytest.raises(ConfigError) as caught:
        await take_snapshot(settings)
    assert str(caught.value) == expected


async def test_endpoints_of_one_section_must_agree_without_a_chain_id(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """No chain_id given: the second endpoint answering another id than the first is
    refused (it would be a failover onto another chain)."""
    world = two_chains
    data = config_data(world, tmp_path)
    data["chains"]["l2"]["rpc_urls"] = [world.b_url, world.a.rpc_url]
    settings = load(data, tmp_path)
    with pytest.raises(ConfigError) as caught:
        await take_snapshot(settings)
    assert str(caught.value) == (
        f"chains.l2.rpc_urls.1: chain l2: node at {world.a.rpc_url} answers chain id "
        f"{CHAIN_A}, expected {CHAIN_B} (as {world.b_url} answers)"
    )


async def test_the_right_chain_id_reads_as_before(two_chains: TwoChains, tmp_path: Path) -> None:
    """Each section's right chain_id: the snapshot reads every chain, nothing doubled."""
    data = config_data(two_chains, tmp_path)
    data["chains"]["l1"]["chain_id"] = CHAIN_A
    data["chains"]["l2"]["chain_id"] = CHAIN_B
    snap = await take_snapshot(load(data, tmp_path))
    assert sorted(p["id"] for p in snap["positions"]) == ["v2-lp", "v3-lp", "v4-lp"]
    assert Decimal(snap["delta_base"]) == sum(Decimal(p["delta_base"]) for p in snap["positions"])


async def test_failover_never_moves_a_chain_onto_another_chain_id(
    two_chains: TwoChains,
) -> None:
    """Pinned to 42161 with chain A's node as the second endpoint: while chain B's relay is
    cut, requests fail (never answered by chain A); when it returns, they succeed again."""
    world = two_chains
    provider = FailoverProvider([world.b_url, world.a.rpc_url], request_timeout_s=2)
    w3 = AsyncWeb3(provider)
    try:
        config = ChainConfig(rpc_urls=[world.b_url, world.a.rpc_url], chain_id=CHAIN_B)
        chain_id, findings = await check_chain_id(w3, config, "l2")
        assert chain_id == CHAIN_B
        assert [f.field for f in findings] == ["chain.rpc_urls.1"]
        assert provider.chain_id == CHAIN_B  # pinned
        assert int(await rpc_request(w3, "eth_chainId"), 16) == CHAIN_B

        await world.relay.stop()
        try:
            with pytest.raises(ChainError):  # chain A's head is never handed out as B's
                await rpc_request(w3, "eth_blockNumber")
            assert provider.health[1].chain_id is None  # asked again before its next use
            assert provider.health[1].last_error is not None
            assert f"answers chain id {CHAIN_A}, expected {CHAIN_B}" in (
                provider.health[1].last_error
            )
        finally:
            await world.relay.start()
        for health in provider.health:
            health.cooldown_until_s = 0.0  # no waiting for the cooldown in a test
        assert int(await rpc_request(w3, "eth_chainId"), 16) == CHAIN_B
        assert provider.health[0].chain_id == CHAIN_B
    finally:
        await provider.disconnect()


async def test_check_config_online_refuses_an_nft_the_owner_does_not_hold(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """A V3 and a V4 NFT listed with an ``owner`` that does not hold them: check-config
    --online names each position's owner field and the real holder (before: OK, then the
    snapshot refused them as transferred); the true holders pass."""
    world = two_chains
    stranger = "0x000000000000000000000000000000000000dEaD"
    data = config_data(world, tmp_path)
    data["positions"][1]["owner"] = stranger
    data["positions"][2]["owner"] = stranger
    findings = await preflight(load(data, tmp_path))
    wrong = {f.field: f.message for f in findings if f.kind == "not_owner"}
    assert set(wrong) == {"positions.1.owner", "positions.2.owner"}
    assert wrong["positions.1.owner"] == (
        f"NFT {world.v3.token_id} on {checksum(world.v3.position_manager)} is held by "
        f"{checksum(world.v3.lp_account)}, not by the configured owner {checksum(stranger)} "
        "(transferred?)"
    )
    assert f"is held by {checksum(world.v4.lp_account)}" in wrong["positions.2.owner"]
    assert all(f.severity == "error" for f in findings if f.kind == "not_owner")

    data["positions"][1]["owner"] = world.v3.lp_account
    data["positions"][2]["owner"] = world.v4.lp_account
    findings = await preflight(load(data, tmp_path))
    assert [f for f in findings if f.severity == "error"] == []


async def test_an_unreadable_chain_is_named_once_in_its_alert(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """Chain l2 cut: the chain.unreadable notice says ``chain l2:`` once (before:
    ``chain l2: chain l2: …``)."""
    world = two_chains
    reader = MultiChainReader(load(config_data(world, tmp_path), tmp_path), WallClock())
    try:
        block = await reader.latest_block()
        await world.relay.stop()
        try:
            with pytest.raises(ChainError) as caught:
                await reader.snapshot(block)
        finally:
            await world.relay.start()
        assert isinstance(caught.value, ChainsUnreadable)
        notices = caught.value.notices
        assert [n.alert for n in notices] == ["chain.unreadable"]
        assert notices[0].detail.startswith("chain l2: ")
        assert notices[0].detail.count("chain l2") == 1
    finally:
        await reader.close()


async def test_status_shows_reducing_while_a_chain_is_unreadable(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """The daemon's tick fails on cut chain l2 (stored chain.unreadable): status shows
    REDUCING naming the chain and when (before: ``trading ACTIVE``); after the chain reads
    again (stored chain.readable) it is active again."""
    world = two_chains
    settings = load(config_data(world, tmp_path), tmp_path)
    bot = await build_bot(settings, clock=WallClock(), telemetry=Recorded())
    try:
        await bot.engine.start()
        block = await bot.chain.latest_block()
        assert await bot.engine.tick(block) is not None
        await world.relay.stop()
        try:
            assert await bot.engine.tick(block) is None
            status = await asyncio.to_thread(read_status, settings, now_s=time.time())
        finally:
            await world.relay.start()
        trading = status["trading"]
        assert trading["state"] == "reducing"
        (down,) = trading["chains_unreadable"]
        assert down["chain"] == "l2"
        assert down["detail"].count("chain l2") == 1
        (reason,) = [r for r in trading["reasons"] if r.startswith("chain l2")]
        assert reason.startswith("chain l2 unreadable since ")
        assert "(only protective reductions): chain l2: " in reason
        console = Console(file=io.StringIO(), record=True, width=80)
        render_status(status, console)
        assert "trading REDUCING: chain l2 unreadable since" in console.export_text()

        await rpc_request(bot.chain.w3, "evm_mine")  # a new primary block: no stale guard
        assert await bot.engine.tick(block + 1) is not None  # l2 reads: chain.readable
        status = await asyncio.to_thread(read_status, settings, now_s=time.time())
        assert status["trading"]["state"] == "active"
        assert status["trading"]["chains_unreadable"] == []
    finally:
        await bot.close()


async def test_a_wrong_token_names_the_whole_configs_position_path(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """Chain l2's quote token is another contract: each finding names ``positions.1`` and
    ``positions.2`` (the whole config's), in its field path and its message (before: the
    message said ``(positions.0)``, chain l2's own index)."""
    world = two_chains
    data = config_data(world, tmp_path)
    data["hedge_asset"]["chains"]["l2"]["quote_token"] = world.v3.multicall  # code, no token
    findings = await preflight(load(data, tmp_path))
    wrong = [f for f in findings if f.kind == "not_pair"]
    assert {f.field for f in wrong} == {"hedge_asset.chains.l2.quote_token"}
    paths = sorted(p for f in wrong for p in re.findall(r"\(positions\.\d+\)", f.message))
    assert paths == ["(positions.1)", "(positions.2)"]
    assert all(f.message.startswith(checksum(world.v3.multicall)) for f in wrong)
