"""Cancelled JSON-RPC requests never wedge the others: web3's session cache took a
process-wide lock in executor threads and leaked it when a request was cancelled while
waiting for it, after which every request of every provider hung and the process could not
exit. Our transport owns its session; this pins it against a real anvil."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest

from bot.chain.rpc import connect, rpc_request
from bot.errors import ChainError
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.integration


async def test_a_hundred_cancelled_requests_leave_the_next_one_fast(anvil_node: Anvil) -> None:
    """100 providers whose requests are cut off by short deadlines: a request on another
    provider still answers at once, and no thread is left waiting for a lock."""
    threads_before = threading.active_count()
    main = connect(anvil_node.rpc_url, request_timeout_s=5)
    others = [connect(anvil_node.rpc_url, request_timeout_s=5) for _ in range(100)]

    async def cut_short(index: int) -> None:
        with contextlib.suppress(ChainError):
            await rpc_request(others[index], "eth_blockNumber", timeout_s=0.002 * (index % 7 + 1))

    try:
        await asyncio.gather(*(cut_short(i) for i in range(100)))
        started = time.monotonic()
        block = await rpc_request(main, "eth_blockNumber", timeout_s=5)
        assert int(block, 16) >= 0
        assert time.monotonic() - started < 1.0
        assert threading.active_count() <= threads_before + 2
    finally:
        for w3 in [main, *others]:
            await w3.provider.disconnect()
