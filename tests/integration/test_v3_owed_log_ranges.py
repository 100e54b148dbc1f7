"""Withdrawn-principal logs behind an RPC that caps the block range of ``eth_getLogs``
(issue 11 review 6): read in ``chain.log_chunk_blocks`` ranges from ``chain.log_from_block``,
final ranges read once, so each later split queries only newer blocks.

The cap is a JSON-RPC proxy in front of anvil answering a wider ``eth_getLogs`` with the error
public RPCs give ("query exceeds max block range"); every other call passes through.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from v3_support import npm_contract, transact
from web3 import AsyncWeb3

from bot.chain.log_ranges import LogWindow
from bot.chain.rpc import connect
from bot.chain.uniswap_v3 import V3PositionReader
from bot.config import V3PositionConfig
from bot.errors import PositionReadError
from bot.sim.deploy_v3 import DEADLINE, V3Deployment

pytestmark = pytest.mark.integration

CAP = 5  # blocks per eth_getLogs the proxy allows


class RangeCappedRpc:
    """Forwards JSON-RPC to ``upstream``; ``eth_getLogs`` over more than ``CAP`` blocks is an
    error; the ranges asked are kept in ``ranges``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.ranges: list[tuple[int, int]] = []
        self.url = ""

    def _refusal(self, call: dict[str, Any]) -> dict[str, Any] | None:
        if call.get("method") != "eth_getLogs":
            return None
        query = call["params"][0]
        low, high = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        self.ranges.append((low, high))
        if high - low + 1 <= CAP:
            return None
        error = {"code": -32600, "message": f"query exceeds max block range {CAP}"}
        return {"jsonrpc": "2.0", "id": call.get("id"), "error": error}

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        call = json.loads(body)
        refusal = self._refusal(call) if isinstance(call, dict) else None
        if refusal is not None:
            return web.json_response(refusal)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.upstream, data=body, headers={"content-type": "application/json"}
            ) as upstream,
        ):
            return web.Response(body=await upstream.read(), content_type="application/json")


@asynccontextmanager
async def capped_rpc(upstream: str) -> AsyncIterator[RangeCappedRpc]:
    proxy = RangeCappedRpc(upstream)
    app = web.Application()
    app.router.add_post("/", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    proxy.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield proxy
    finally:
        await runner.cleanup()


def reader(w3: AsyncWeb3[Any], d: V3Deployment, window: LogWindow | None) -> V3PositionReader:
    config = V3PositionConfig(
        id="lp", kind="v3", position_manager=d.position_manager, token_id=d.token_id
    )
    return V3PositionReader(
        w3, [config], base_token=d.base_token, quote_token=d.quote_token,
        multicall=d.multicall, owed_logs=window,
    )  # fmt: skip


async def withdraw(w3: AsyncWeb3[Any], d: V3Deployment, divisor: int) -> int:
    """decreaseLiquidity of ``1/divisor`` of the NFT's liquidity, not collected; the block."""
    npm = npm_contract(w3, d)
    liquidity = int((await npm.functions.positions(d.token_id).call())[7])
    fn = npm.functions.decreaseLiquidity((d.token_id, liquidity // divisor, 0, 0, DEADLINE))
    await transact(w3, "decrease", fn, d.lp_account)
    return int(await w3.eth.block_number)


async def test_principal_logs_read_in_capped_ranges_and_only_new_blocks_later(
    v3: V3Deployment, w3: AsyncWeb3[Any]
) -> None:
    """Behind a 5-block cap: one query from block 0 is refused (the position unreadable);
    5-block ranges read the same exposure as an uncapped node; after a second withdrawal the
    next split asks only for blocks past the final ones it already read."""
    d = v3
    first = await withdraw(w3, d, 2)
    assert first > 3 * CAP  # the scan needs several ranges
    expected = (await reader(w3, d, None).read(first)).positions
    async with capped_rpc(d.rpc_url) as proxy:
        capped = connect(proxy.url)
        try:
            with pytest.raises(PositionReadError, match="exceeds max block range"):
                await reader(capped, d, LogWindow(chunk_blocks=10_000)).read(first)
            proxy.ranges.clear()
            chunked = reader(capped, d, LogWindow(from_block=0, chunk_blocks=CAP, reorg_depth=2))
            assert (await chunked.read(first)).positions == expected
            assert proxy.ranges[0][0] == 0
            assert max(high - low + 1 for low, high in proxy.ranges) <= CAP
            assert max(high for _, high in proxy.ranges) == first
            second = await withdraw(w3, d, 3)
            again = (await reader(w3, d, None).read(second)).positions
            proxy.ranges.clear()
            assert (await chunked.read(second)).positions == again
            assert proxy.ranges  # the state changed: logs were read
            assert min(low for low, _ in proxy.ranges) == first - 2 + 1  # past the final ones
        finally:
            await capped.provider.disconnect()
