"""Peers that mix real and bogus heads, and an honest peer ahead of a lagging HTTP node.

A lagging relay stands in front of anvil as the reader's only HTTP node: a block is hidden
from it (``eth_blockNumber`` stays below, ``eth_getBlockByNumber`` answers null) until ``lag``
seconds after the test mined it, and the relay counts the ``eth_getBlockByNumber`` it was
sent. The peers relay the real heads the test mines; a mixing one sends, 10 ms after each
real head N, one with a random hash at N+4 (a block not mined yet) or N+1 (mined later under
another hash). Blocks are mined every ``BLOCK_S``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import ClientSession, web
from structlog.testing import capture_logs
from web_serving import serving
from websockets.asyncio.server import ServerConnection, serve

from bot.chain.rpc import connect, rpc_request
from bot.chain.ws_heads import RECHECK_MAX_S, RECHECK_S, SETTLE_S, HeadSource, StreamedHeads
from bot.sim.anvil import Anvil
from tests.faults.test_fault_ws_heads import HANG_S, SUB, header, note, random_hash, until

pytestmark = pytest.mark.faults

BLOCK_S = 0.5


class Chain:
    """The test's view of anvil: when each block was mined, and the real heads."""

    def __init__(self, w3: Any) -> None:
        self.w3 = w3
        self.mined_at: dict[int, float] = {}
        self.listeners: list[asyncio.Queue[dict[str, Any]]] = []

    async def start(self) -> int:
        head = int(await rpc_request(self.w3, "eth_blockNumber"), 16)
        self.mined_at[head] = 0.0  # visible from the start
        return head

    async def mine(self) -> int:
        await rpc_request(self.w3, "evm_mine")
        block = await rpc_request(self.w3, "eth_getBlockByNumber", "latest", False)
        number = int(block["number"], 16)
        self.mined_at[number] = time.monotonic()
        for queue in self.listeners:
            queue.put_nowait(block)
        return number

    def visible(self, lag: float) -> int:
        now = time.monotonic()
        return max(n for n, at in self.mined_at.items() if at <= now - lag)


@asynccontextmanager
async def lagging_relay(target_url: str, chain: Chain, lag: float) -> AsyncIterator[Counter[str]]:
    """The requests relayed, by method (the relay's port under ``"port"``)."""
    relayed: Counter[str] = Counter()
    async with ClientSession() as session:

        async def relay(request: web.Request) -> web.Response:
            body = await request.read()
            call = json.loads(body)
            method = call["method"]
            relayed[method] += 1
            if lag and method == "eth_blockNumber":
                answer = hex(chain.visible(lag))
                return web.json_response({"jsonrpc": "2.0", "id": call["id"], "result": answer})
            param = call["params"][0] if method == "eth_getBlockByNumber" else ""
            if lag and param.startswith("0x") and int(param, 16) > chain.visible(lag):
                return web.json_response({"jsonrpc": "2.0", "id": call["id"], "result": None})
            headers = {"content-type": "application/json"}
            async with session.post(target_url, data=body, headers=headers) as answer:
                return web.Response(body=await answer.read(), content_type="application/json")

        app = web.Application()
        app.router.add_post("/", relay)
        async with serving(app) as port:
            relayed["port"] = port
            yield relayed


@asynccontextmanager
async def relaying_peer(chain: Chain, bogus_lead: int | None) -> AsyncIterator[str]:
    """A peer sending each real head as it is mined; with ``bogus_lead``, 10 ms later a head
    at that many blocks past it with a random hash."""

    async def handler(conn: ServerConnection) -> None:
        request = json.loads(await conn.recv())
        await conn.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": SUB}))
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        chain.listeners.append(queue)
        closed = asyncio.ensure_future(conn.wait_closed())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed.done():
                    getter.cancel()
                    return
                block = getter.result()
                await conn.send(note(block))
                if bogus_lead is not None:
                    await asyncio.sleep(0.01)
                    number = int(block["number"], 16) + bogus_lead
                    await conn.send(note(header(number, hash_hex=random_hash())))
        finally:
            closed.cancel()
            chain.listeners.remove(queue)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def asks_within(lag: float) -> int:
    """Requests for one block the node gets ``lag`` s after the peer sent it: the one at once,
    the rechecks (``RECHECK_S`` doubling to ``RECHECK_MAX_S``) before ``lag``, the one after."""
    asks, waited, delay = 2, 0.0, RECHECK_S
    while waited + delay < lag:
        waited, delay, asks = waited + delay, min(2 * delay, RECHECK_MAX_S), asks + 1
    return asks


async def run_blocks(
    anvil_node: Anvil, lag: float, bogus_lead: int | None, blocks: int, poll_s: float
) -> tuple[list[int], list[int], Counter[str], StreamedHeads, list[dict[str, Any]]]:
    """Mine ``blocks`` every ``BLOCK_S`` with one relaying peer; what was expected, what was
    handed out, what the node was asked, the heads, the logs."""
    direct = connect(anvil_node.rpc_url)
    chain = Chain(direct)
    yielded: list[int] = []
    try:
        start = await chain.start()
        async with lagging_relay(anvil_node.rpc_url, chain, lag) as relayed:
            w3 = connect(f"http://127.0.0.1:{relayed['port']}/")
            try:
                async with (
                    relaying_peer(chain, bogus_lead) as url,
                    StreamedHeads(w3, [url], poll_interval_s=poll_s) as heads,
                ):

                    async def consume() -> None:
                        async for number in heads:
                            yielded.append(number)

                    with capture_logs() as logs:
                        consumer = asyncio.create_task(consume())
                        await until(lambda: heads.subscriptions == 1, "not subscribed")
                        relayed.clear()
                        mined = [await chain.mine()]
                        for _ in range(blocks - 1):
                            await asyncio.sleep(BLOCK_S)
                            mined.append(await chain.mine())
                        await until(lambda: yielded[-1:] == mined[-1:], "the last block")
                        consumer.cancel()
            finally:
                await w3.provider.disconnect()
    finally:
        await direct.provider.disconnect()
    assert mined == list(range(start + 1, start + blocks + 1))
    return mined, [n for n in yielded if n > start], relayed, heads, logs


@pytest.mark.parametrize(("bogus_lead", "lag"), [(4, 0.0), (1, 0.0), (4, 0.3), (1, 0.3)])
async def test_a_peer_mixing_real_and_bogus_heads_climbs_the_penalty_and_costs_little(
    anvil_node: Anvil, bogus_lead: int, lag: float
) -> None:
    """Each real head followed by a random-hash head at N+4 or N+1: every block is still
    handed out (by the peer's real heads or by the poller while it is penalised), the strikes
    climb (a real head does not clear them), and the node is asked at most one block's asks
    per block plus, per refusal, one settle window of rechecks. The old reader reset the
    strikes on every real head and rechecked every 20 ms: ~18 requests per block."""
    blocks, poll_s = 16, 0.25
    mined, yielded, relayed, heads, logs = await run_blocks(
        anvil_node, lag, bogus_lead, blocks, poll_s
    )
    assert yielded == mined, "a real block was never handed out"
    strikes = [e["strikes"] for e in logs if e["event"] == "heads.ws_rejected"]
    rejected = heads.rejected
    window = asks_within(max(poll_s, SETTLE_S))  # a bogus head's asks until it is refused
    bound = blocks * asks_within(lag) + rejected * window
    print(
        f"lead={bogus_lead} lag={lag}: {relayed['eth_getBlockByNumber']} asks, "
        f"{rejected} refused, strikes {strikes}, bound {bound}"
    )
    assert relayed["eth_getBlockByNumber"] <= bound
    assert relayed["eth_getBlockByNumber"] <= 5 * blocks  # the old reader: ~18 per block
    assert rejected >= 2
    assert max(strikes) >= 2, strikes  # the strikes climbed


@pytest.mark.parametrize("lag", [0.3, 0.7])
async def test_an_honest_peer_ahead_of_a_lagging_node_costs_a_few_asks_per_block(
    anvil_node: Anvil, lag: float
) -> None:
    """The node gets each block ``lag`` s after the peer sent it (0.7 s: past the 0.5 s poll
    interval): the peer's heads are handed out once the node has them, none refused, the
    peer never penalised, each block costing the asks of a 20 ms doubling schedule over the
    lag (old reader: a recheck every 20 ms, 15 per block at 0.3 s; at 0.7 s refused)."""
    blocks, poll_s = 10, 0.5
    mined, yielded, relayed, heads, _logs = await run_blocks(anvil_node, lag, None, blocks, poll_s)
    assert yielded == mined
    assert heads.rejected == 0
    assert heads.ignored == 0
    assert heads.first_seen[HeadSource.WS] >= blocks // 2  # the poller's 0.5 s cannot win all
    per_block = asks_within(lag + 0.05)  # 0.05 s: the relay's and the loop's slack
    print(f"lag={lag}: {relayed['eth_getBlockByNumber']} asks, bound {blocks * per_block}")
    assert relayed["eth_getBlockByNumber"] <= blocks * per_block
    assert per_block <= 7  # a few: 5 at 0.3 s, 6 at 0.7 s


async def test_a_peer_replaying_a_confirmed_head_then_closing_is_resubscribed_ever_slower(
    anvil_node: Anvil,
) -> None:
    """Beside an honest subscription, a peer answers each subscription with a real block the
    honest one already delivered (its hash the one the HTTP node confirmed) and closes: a
    known block is not a delivery, so its backoff grows, and ``heads.ws_dropped`` is logged on
    the 1st, 2nd, 4th, ... drop with the count (the old reader reset the backoff on it: 44
    reconnects in 40 s, each logged)."""
    w3 = connect(anvil_node.rpc_url)
    replayed: list[dict[str, Any]] = []
    connections = 0

    async def handler(conn: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        request = json.loads(await conn.recv())
        await conn.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": SUB}))
        while not replayed:  # noqa: ASYNC110 - the first connection waits for the block
            await asyncio.sleep(0.01)
        await conn.send(note(replayed[0]))
        await conn.close()

    try:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            honest = anvil_node.rpc_url.replace("http", "ws", 1)
            with capture_logs() as logs:
                async with StreamedHeads(
                    w3,
                    [honest, f"ws://127.0.0.1:{port}"],
                    poll_interval_s=5.0,
                    reconnect_min_s=0.01,
                    reconnect_max_s=0.08,
                ) as heads:
                    await asyncio.wait_for(anext(heads), HANG_S)
                    await until(lambda: heads.subscriptions >= 1, "not subscribed")
                    await rpc_request(w3, "evm_mine")
                    number = await asyncio.wait_for(anext(heads), HANG_S)
                    assert heads.last_source is HeadSource.WS  # its hash was confirmed
                    replayed.append(
                        await rpc_request(w3, "eth_getBlockByNumber", hex(number), False)
                    )
                    await until(lambda: connections >= 10, "not re-subscribed nine times")
                    rejected = heads.rejected
    finally:
        await w3.provider.disconnect()
    drops = [
        (e["dropped"], e["retry_in_s"], e["new_blocks"])
        for e in logs
        if e["event"] == "heads.ws_dropped" and e["index"] == 1
    ]
    # the 1st connection waited for the block, the 2nd on replayed it: none a new block
    assert drops[1:4] == [(2, 0.02, 0), (4, 0.08, 0), (8, 0.08, 0)], drops
    assert rejected == 0  # the replayed head is the confirmed block: no strike either
