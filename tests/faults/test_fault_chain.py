"""Chain faults: RPC endpoints down, slow or behind (through a real HTTP proxy in front of
anvil), and reorgs made with anvil's own ``anvil_rollback``."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from fault_world import FaultWorld, fault_world

from bot.chain.failover import FailoverProvider
from bot.chain.reader import LpChainReader, connect_web3
from bot.chain.rpc import connect, rpc_request
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.faults


def dead_url() -> str:
    """A local port with nothing listening (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@asynccontextmanager
async def rpc_proxy(
    upstream: str, *, latency_s: float = 0.0, lag_blocks: int = 0
) -> AsyncIterator[str]:
    """A JSON-RPC proxy to ``upstream`` that answers late and/or reports an old head."""
    session = aiohttp.ClientSession()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(latency_s)
        async with session.post(
            upstream, data=body, headers={"content-type": "application/json"}
        ) as up:
            answer = await up.json()
        if lag_blocks and json.loads(body).get("method") == "eth_blockNumber":
            answer["result"] = hex(int(answer["result"], 16) - lag_blocks)
        return web.json_response(answer)

    try:
        async with serve_posts(handle) as url:
            yield url
    finally:
        await session.close()


@asynccontextmanager
async def serve_posts(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]], path: str = "/{tail:.*}"
) -> AsyncIterator[str]:
    """A local HTTP server answering POSTs to ``path`` with ``handle``; yields its base URL."""
    app = web.Application()
    app.router.add_post(path, handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def use_rpc(
    fw: FaultWorld, urls: list[str], timeout_s: float = 0.5
) -> FailoverProvider | None:
    """Point the running bot's chain reader at ``urls``."""
    await fw.bot.chain.close()
    w3 = connect_web3(urls, timeout_s, max_lag_blocks=3)
    fw.bot.engine.chain = LpChainReader(w3, fw.settings)
    provider = w3.provider
    return provider if isinstance(provider, FailoverProvider) else None


async def test_rpc_down_fails_over_to_the_next_endpoint(anvil_node: Anvil, tmp_path: Path) -> None:
    """First endpoint refuses connections: reads go to the second, the hedge is placed, and the
    dead endpoint is scored down and put in cooldown."""
    async with fault_world(anvil_node, tmp_path) as fw:
        provider = await use_rpc(fw, [dead_url(), anvil_node.rpc_url])
        assert provider is not None
        report = await fw.tick(await fw.bot.engine.chain.latest_block())
        assert report is not None
        assert report.order is not None
        assert provider.failovers >= 1
        assert provider.health[0].failures >= 1
        assert provider.health[1].failures == 0
        assert len(fw.venue_orders()) == 1


async def test_every_rpc_down_trades_nothing(anvil_node: Anvil, tmp_path: Path) -> None:
    """All endpoints down: the tick fails with a chain error, no order; recovery trades once."""
    async with fault_world(anvil_node, tmp_path) as fw:
        block = await fw.bot.chain.latest_block()
        await use_rpc(fw, [dead_url(), dead_url()])
        assert await fw.tick(block) is None
        assert fw.telemetry.errors()[-1]["source"] == "chain"
        assert fw.venue_orders() == []
        await use_rpc(fw, [anvil_node.rpc_url])
        assert (await fw.tick(block)) is not None
        assert len(fw.venue_orders()) == 1


async def test_slow_rpc_is_bounded_and_failed_over(anvil_node: Anvil, tmp_path: Path) -> None:
    """An endpoint slower than request_timeout_s costs at most the timeout, then the healthy
    one answers; it stays in cooldown, so later requests skip it."""
    async with (
        fault_world(anvil_node, tmp_path) as fw,
        rpc_proxy(anvil_node.rpc_url, latency_s=5.0) as slow,
    ):
        provider = await use_rpc(fw, [slow, anvil_node.rpc_url], timeout_s=0.3)
        assert provider is not None
        started = time.monotonic()
        report = await fw.tick(await fw.bot.engine.chain.latest_block())
        assert time.monotonic() - started < 3.0
        assert report is not None
        assert report.order is not None
        assert provider.health[0].failures == 1  # tried once, then skipped while cooling down


async def test_rpc_behind_the_head_is_skipped(anvil_node: Anvil, tmp_path: Path) -> None:
    """An endpoint reporting a head 10 blocks old is treated as failed once a better head is
    known; alone, its old block is stale and blocks trading."""
    async with (
        fault_world(anvil_node, tmp_path) as fw,
        rpc_proxy(anvil_node.rpc_url, lag_blocks=10) as lagging,
    ):
        for _ in range(12):
            await fw.move(fw.world.target_price)
        head = await fw.bot.chain.latest_block()
        provider = await use_rpc(fw, [anvil_node.rpc_url, lagging])
        assert provider is not None
        assert await fw.bot.engine.chain.latest_block() == head
        provider.health[0].cooldown_until_s = float("inf")  # prefer the lagging one now
        provider.health[0].failures = 1
        assert await fw.bot.engine.chain.latest_block() == head  # lagging answer refused
        assert provider.health[1].failures == 1

        await use_rpc(fw, [lagging])
        old = await fw.bot.engine.chain.latest_block()
        assert old == head - 10
        report = await fw.tick(old)
        assert report is not None
        assert "stale_block" in report.decision.reason
        assert fw.venue_orders() == []


async def test_reorg_of_a_ticked_block_recomputes_without_double_acting(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The block the bot hedged on is replaced (anvil_rollback, then a different block at the
    same height): a chain.reorg alert, the tick recomputes from the venue's position, and no
    second hedge is placed."""
    async with fault_world(anvil_node, tmp_path) as fw:
        block = await fw.move(fw.world.target_price)
        first = await fw.tick(block)
        assert first is not None
        assert first.order is not None
        w3 = connect(anvil_node.rpc_url)
        try:
            await rpc_request(w3, "anvil_rollback", 1)
            assert int(await rpc_request(w3, "eth_blockNumber"), 16) == block - 1
        finally:
            await w3.provider.disconnect()
        replaced = await fw.move(fw.world.target_price * Decimal("1.002"))
        assert replaced == block
        again = await fw.tick(block)
        assert again is not None
        assert "chain.reorg" in fw.telemetry.alerts()
        assert again.snapshot.block_hash != first.snapshot.block_hash
        assert again.decision.action == "hold"
        assert len(fw.venue_orders()) == 1
