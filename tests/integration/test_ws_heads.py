"""Streamed heads: ``newHeads`` over anvil's WebSocket, merged with the HTTP poller.

anvil serves WebSocket on its HTTP port. A loopback TCP relay (``tests/tcp_proxy.py``) in
front of it is stopped and started again to cut the subscription mid-run. Each test asserts
which source saw a head first (``last_source``), never how fast it came.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tcp_proxy import TcpProxy
from web3 import AsyncWeb3

from bot.app import build_bot
from bot.chain.rpc import connect, rpc_request
from bot.chain.ws_heads import HeadSource, StreamedHeads, open_heads
from bot.clock import ManualClock
from bot.errors import ChainError
from bot.exchange.paper import PaperExchange, venue_params
from bot.exchange.venue import SimVenue
from bot.sim.anvil import Anvil
from bot.sim.deploy import LocalDeployment
from bot.sim.localnet import local_settings, start_world

pytestmark = pytest.mark.integration

HANG_S = 20.0  # a guard against a hang, never a speed assertion


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` (a counter of the stream); fail after HANG_S."""
    async with asyncio.timeout(HANG_S):
        while not condition():  # noqa: ASYNC110 - counters of background tasks, not an event
            await asyncio.sleep(0.01)
    assert condition(), what


async def next_head(heads: StreamedHeads) -> tuple[int, HeadSource | None]:
    number = await asyncio.wait_for(anext(heads), HANG_S)
    return number, heads.last_source


@asynccontextmanager
async def relay_to(http_url: str) -> AsyncIterator[TcpProxy]:
    host, port = http_url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    try:
        yield proxy
    finally:
        if proxy._server is not None:
            await proxy.stop()


async def test_mined_blocks_arrive_by_subscription_not_by_poll(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """With a poller too slow to see them, blocks mined by evm_mine are handed out one by one
    and each was first seen on the newHeads subscription."""
    start = await w3.eth.block_number
    async with StreamedHeads(w3, [ws_url(fresh_chain.rpc_url)], poll_interval_s=600) as heads:
        assert await next_head(heads) in {(start, HeadSource.POLL), (start, HeadSource.RESYNC)}
        await until(lambda: heads.subscriptions == 1, "never subscribed")
        for offset in (1, 2, 3):
            await rpc_request(w3, "evm_mine")
            assert await next_head(heads) == (start + offset, HeadSource.WS)
        assert heads.first_seen[HeadSource.WS] == 3
        assert heads.skipped == 0


async def test_several_endpoints_first_seen_wins_and_duplicates_are_dropped(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """Two subscriptions to the same node: each block is handed out once, the newest only when
    several were mined at once (the passed-over ones counted)."""
    url = ws_url(fresh_chain.rpc_url)
    start = await w3.eth.block_number
    async with StreamedHeads(w3, [url, url], poll_interval_s=600) as heads:
        await next_head(heads)
        await until(lambda: heads.subscriptions == 2, "never subscribed twice")
        await rpc_request(w3, "evm_mine")
        assert await next_head(heads) == (start + 1, HeadSource.WS)
        await rpc_request(w3, "anvil_mine", 3)
        await until(lambda: heads.first_seen[HeadSource.WS] == 4, "three heads not streamed")
        assert await next_head(heads) == (start + 4, HeadSource.WS)
        assert heads.skipped == 2
        waiting = asyncio.ensure_future(anext(heads))
        await rpc_request(w3, "evm_mine")
        assert await asyncio.wait_for(waiting, HANG_S) == start + 5
        assert heads.first_seen[HeadSource.WS] == 5  # the second endpoint's copies dropped


async def test_dropped_subscription_resyncs_the_block_mined_while_it_was_down(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """The socket is cut, a block is mined while it is down and the poller sleeps: when the
    subscription comes back, that block is fetched once over HTTP and handed out."""
    start = await w3.eth.block_number
    async with relay_to(fresh_chain.rpc_url) as proxy:
        url = f"ws://127.0.0.1:{proxy.port}"
        async with StreamedHeads(
            w3, [url], poll_interval_s=600, reconnect_min_s=0.02, reconnect_max_s=0.1
        ) as heads:
            await next_head(heads)
            await until(lambda: heads.subscriptions == 1, "never subscribed")
            await proxy.stop()
            await until(lambda: heads.subscriptions == 0, "the cut was not noticed")
            await rpc_request(w3, "evm_mine")
            await proxy.start()
            assert await next_head(heads) == (start + 1, HeadSource.RESYNC)
            await until(lambda: heads.subscriptions == 1, "never subscribed again")
            await rpc_request(w3, "evm_mine")
            assert await next_head(heads) == (start + 2, HeadSource.WS)
            assert heads.reconnects >= 1


async def test_engine_ticks_every_newest_block_across_a_cut_subscription(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The daemon's head source (open_heads with ws_urls) drives the engine: swaps are ticked
    from the subscription; with the socket cut the poller carries on; after it comes back the
    subscription does again. Every newest block gets its tick."""
    async with start_world(anvil_node.rpc_url, seed=11) as world, relay_to(world.rpc_url) as proxy:
        settings = local_settings(world, tmp_path, bot_id="ws")
        chain = settings.chain.model_copy(
            update={"ws_urls": [f"ws://127.0.0.1:{proxy.port}"], "poll_interval_s": 0.2}
        )
        clock = ManualClock(float(world.start_timestamp))
        venue = SimVenue(venue_params(settings.exchange), clock)
        bot = await build_bot(
            settings, clock=clock, exchange=PaperExchange(venue, tmp_path / "venue.json")
        )
        stop = asyncio.Event()
        try:
            await bot.engine.start()
            async with open_heads(bot.chain.w3, chain) as heads:
                assert isinstance(heads, StreamedHeads)
                running = asyncio.create_task(bot.engine.run(heads, stop))
                timestamp = world.start_timestamp
                sources: list[HeadSource | None] = []

                async def swap_and_tick(price: Decimal) -> None:
                    nonlocal timestamp
                    timestamp += world.driver.step_s
                    clock.set(float(timestamp))  # the block's own time, before it exists
                    venue.set_mark(price)
                    step = await world.driver.move_to(price)
                    await until(
                        lambda: bot.engine.stats.last_block == step.block_number,
                        f"no tick on block {step.block_number}",
                    )
                    sources.append(heads.last_source)

                await until(lambda: heads.subscriptions == 1, "never subscribed")
                await swap_and_tick(world.target_price * Decimal("1.02"))
                await proxy.stop()
                await until(lambda: heads.subscriptions == 0, "the cut was not noticed")
                await swap_and_tick(world.target_price * Decimal("0.98"))
                await proxy.start()
                await until(lambda: heads.subscriptions == 1, "never subscribed again")
                await swap_and_tick(world.target_price * Decimal("1.01"))
                stop.set()
                await asyncio.wait_for(running, HANG_S)
            # with the socket cut only the poller can have seen the second block; the other
            # two were streamed (a poll landing between the mine and its notification could
            # beat the stream to one of them, never to both in practice)
            assert sources[1] == HeadSource.POLL
            assert HeadSource.WS in (sources[0], sources[2])
            assert heads.first_seen[HeadSource.WS] >= 1
            assert bot.engine.stats.errors == 0, bot.engine.stats.last_error
            assert bot.engine.stats.skipped_blocks == 0  # the start block and three swaps
            assert bot.engine.stats.ticks == 4
        finally:
            stop.set()
            await bot.close()


async def test_heartbeat_repeats_the_last_block_while_every_source_is_silent(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """No new block from the subscription or the poller for heartbeat_s: the last block is
    handed out again (so the stale-chain guards can trip); a mined block ends the repeats."""
    start = await w3.eth.block_number
    async with StreamedHeads(
        w3, [ws_url(fresh_chain.rpc_url)], poll_interval_s=600, heartbeat_s=0.2
    ) as heads:
        assert (await next_head(heads))[0] == start
        assert (await next_head(heads))[0] == start
        assert heads.repeats == 1
        await until(lambda: heads.subscriptions == 1, "never subscribed")
        await rpc_request(w3, "evm_mine")
        assert await next_head(heads) == (start + 1, HeadSource.WS)


async def test_a_failed_poll_is_a_chain_error_and_the_stream_stays_usable() -> None:
    """HTTP node down and no WebSocket answering: each failed poll raises ChainError from the
    iterator once, as the plain poller does; the iterator keeps working."""
    dead = connect("http://127.0.0.1:9", request_timeout_s=1.0)
    try:
        async with StreamedHeads(
            dead, ["ws://127.0.0.1:9"], poll_interval_s=0.01, request_timeout_s=1.0
        ) as heads:
            for _ in range(2):
                with pytest.raises(ChainError, match="eth_blockNumber"):
                    await asyncio.wait_for(anext(heads), HANG_S)
            assert heads.subscriptions == 0
    finally:
        await dead.provider.disconnect()
