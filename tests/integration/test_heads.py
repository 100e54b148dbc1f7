"""Block heads by polling: increasing numbers, and the newest only when several arrived."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.chain.heads import HeadPoller, block_info, poll_heads
from bot.chain.rpc import connect, rpc_request
from bot.errors import ChainError
from bot.sim.deploy import LocalDeployment

pytestmark = pytest.mark.integration


async def test_yields_increasing_blocks_and_skips_to_newest(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """One new block is yielded as is; three at once yield only the newest, two counted skipped."""
    start = await w3.eth.block_number
    heads = HeadPoller(w3, poll_interval_s=0.02, start_after=start)
    await rpc_request(w3, "evm_mine")
    assert await asyncio.wait_for(anext(heads), 5) == start + 1
    await rpc_request(w3, "anvil_mine", 3)
    assert await asyncio.wait_for(anext(heads), 5) == start + 4
    assert heads.skipped == 2
    waiting = asyncio.ensure_future(anext(heads))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await rpc_request(w3, "evm_mine")
    assert await asyncio.wait_for(waiting, 5) == start + 5


async def test_first_poll_yields_current_head(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """Without start_after the current head comes first."""
    heads = HeadPoller(w3, poll_interval_s=0.02)
    assert await asyncio.wait_for(anext(heads), 5) == await w3.eth.block_number


async def test_block_info_matches_node(fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]) -> None:
    """block_info returns the number, timestamp and hash the node reports."""
    number = await w3.eth.block_number
    info = await block_info(w3, number)
    block = await w3.eth.get_block(number)
    assert (info.number, info.timestamp) == (number, block["timestamp"])
    assert info.hash == "0x" + bytes(block["hash"]).hex()
    with pytest.raises(ChainError):
        await block_info(w3, number + 1000)


async def test_dead_node_raises_chain_error_and_poller_survives() -> None:
    """A failed poll raises ChainError; the poller object stays usable."""
    dead = connect("http://127.0.0.1:9", request_timeout_s=1.0)
    heads = HeadPoller(dead, poll_interval_s=0.01, request_timeout_s=1.0)
    for _ in range(2):
        with pytest.raises(ChainError):
            await anext(heads)
    await dead.provider.disconnect()


async def test_poll_heads_ends_when_stop_is_set(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """Setting the stop event ends the iteration promptly, even while waiting for a block."""
    stop = asyncio.Event()
    heads = poll_heads(w3, 10.0, stop)
    seen = [number async for number in _until_stopped(heads, stop)]
    assert seen == [await w3.eth.block_number]


async def _until_stopped(heads: HeadPoller, stop: asyncio.Event) -> Any:
    async for number in heads:
        yield number
        asyncio.get_running_loop().call_later(0.05, stop.set)


async def test_heartbeat_hands_out_the_last_block_again_while_the_chain_is_silent(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """No new block for heartbeat_s: the last one comes again (so the engine still ticks and
    its stale-chain guards can trip); a new block ends the repeats."""
    start = await w3.eth.block_number
    heads = HeadPoller(w3, poll_interval_s=0.02, heartbeat_s=0.2)
    assert await asyncio.wait_for(anext(heads), 5) == start
    waiting = asyncio.ensure_future(anext(heads))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # silent for less than the heartbeat: nothing yet
    assert await asyncio.wait_for(waiting, 5) == start
    assert heads.repeats == 1
    await rpc_request(w3, "evm_mine")
    assert await asyncio.wait_for(anext(heads), 5) == start + 1
    assert heads.repeats == 1


def test_heartbeat_must_be_positive(w3: AsyncWeb3[Any]) -> None:
    """A zero heartbeat is refused at construction."""
    with pytest.raises(ValueError, match="heartbeat_s"):
        HeadPoller(w3, heartbeat_s=0)
