"""A hostile WebSocket endpoint behind ``chain.ws_urls``: the heads go on from the poller.

A tiny ``websockets`` server answers ``eth_subscribe`` and then, one scenario per connection,
sends bad heads (a far-future block, a block past the lead with a hash the node does not
know, a number or timestamp past 2**63, a short hash, no number, not an object), text that is
not JSON, a 2 MiB frame, JSON nested 100,000 deep, a JSON array, a notification whose params
are a string, an error without an id, and no answer to the subscription at all. A bad head
the checks refuse is logged and the connection kept; anything web3 or the bounded parser
refuses ends the connection (logged, re-subscribed with backoff). No bogus number is ever
handed out, and blocks mined on anvil keep arriving through the HTTP poller. The endpoint's
path (an RPC key) is never logged.

Floods: a counting JSON-RPC relay in front of anvil (the reader's only HTTP node) counts what
peers streaming far-future or wrong-hash heads as fast as they can cost it, while an honest
subscription to anvil itself still gets every block ticked; a peer whose only head is an old
one with an unknown hash is re-subscribed ever more slowly.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import ClientSession, web
from structlog.testing import capture_logs
from web_serving import serving
from websockets.asyncio.server import ServerConnection, serve

from bot.chain.rpc import connect, rpc_request
from bot.chain.ws_heads import MAX_UNVERIFIED_LEAD_BLOCKS, RECHECK_S, HeadSource, StreamedHeads
from bot.safety import restore_recursion_limit
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.faults

SECRET = "SECRETKEY123"
SUB = "0x5ca1ab1e"
HANG_S = 20.0  # a guard against a hang, never a speed assertion


def note(result: Any) -> str:
    """One ``eth_subscription`` notification carrying ``result``."""
    params = {"subscription": SUB, "result": result}
    return json.dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": params})


def header(
    number: int, *, hash_hex: str = "ab" * 32, timestamp: int = 1_700_000_000
) -> dict[str, Any]:
    return {
        "number": hex(number),
        "hash": "0x" + hash_hex,
        "parentHash": "0x" + "cd" * 32,
        "timestamp": hex(timestamp),
    }


def scenarios(head: int) -> list[list[str | bytes] | None]:
    """What the server sends on its 1st, 2nd, ... connection after the subscription; then it
    closes that connection (code 1000). ``None``: the subscription is never answered. One bad
    head per connection: after a refused head the endpoint's next heads are ignored for a
    penalty, which the reconnection backoff (the same schedule, started later) outlasts."""
    far = head + 1000
    return [
        [note(header(far))],  # a far-future block: refused without asking the HTTP node
        [note(header(head + MAX_UNVERIFIED_LEAD_BLOCKS + 1, hash_hex="ee" * 32))],
        [note(header(2**64))],  # a number past 2**63-1
        [note(header(far, timestamp=2**64))],
        [note(header(far, hash_hex="ab" * 31))],  # a hash of 31 bytes
        [note({"hash": "0x" + "ab" * 32, "timestamp": "0x1"})],  # no number
        [note("0x" + "f" * 200_000)],  # not a header object
        ["this is not JSON {"],
        [b"\x00" * (2 * 1024 * 1024)],  # over the 1 MiB frame limit
        ["[" * 100_000],
        [json.dumps([1, 2, 3])],
        [json.dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": "x"})],
        [json.dumps({"jsonrpc": "2.0", "error": {"code": -1, "message": "boom"}})],
        None,
    ]


@asynccontextmanager
async def hostile_endpoint(head: int) -> AsyncIterator[tuple[str, Callable[[], int]]]:
    """The server's URL (its path a secret) and how many connections it has served."""
    plans = scenarios(head)
    served = 0

    async def handler(conn: ServerConnection) -> None:
        nonlocal served
        plan = plans[served] if served < len(plans) else []
        served += 1
        request = json.loads(await conn.recv())
        if plan is None:
            await conn.wait_closed()  # silent: the client gives up after its request timeout
            return
        await conn.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": SUB}))
        for message in plan:
            await conn.send(message)
        if plan:
            await conn.close()
        await conn.wait_closed()

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v2/{SECRET}", lambda: served


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(HANG_S):
        while not condition():  # noqa: ASYNC110 - counters of background tasks, not an event
            await asyncio.sleep(0.01)
    assert condition(), what


async def test_hostile_ws_endpoint_is_logged_and_retried_while_the_poller_carries_on(
    anvil_node: Anvil,
) -> None:
    """Every bad message is refused or ends the connection (logged, masked, retried); no
    bogus head is handed out; a block mined meanwhile arrives through the poller."""
    restore_recursion_limit()
    w3 = connect(anvil_node.rpc_url)
    try:
        start = int(await rpc_request(w3, "eth_blockNumber"), 16)
        async with hostile_endpoint(start) as (url, served):
            with capture_logs() as logs:
                async with StreamedHeads(
                    w3,
                    [url],
                    poll_interval_s=0.05,
                    request_timeout_s=0.5,
                    reconnect_min_s=0.01,
                    reconnect_max_s=0.05,
                ) as heads:
                    assert await asyncio.wait_for(anext(heads), HANG_S) == start
                    await until(lambda: served() > len(scenarios(start)), "scenarios not served")
                    await rpc_request(w3, "evm_mine")
                    assert await asyncio.wait_for(anext(heads), HANG_S) == start + 1
                    # over HTTP: the poller (or the read after the last reconnect)
                    assert heads.last_source in {HeadSource.POLL, HeadSource.RESYNC}
                    assert heads.first_seen[HeadSource.WS] == 0
                    assert heads.rejected == 6  # the first four connections', no number, a string
                    assert heads.ignored == 0
                    assert heads.reconnects == len(scenarios(start))  # each connection ended
    finally:
        await w3.provider.disconnect()
    rejected = [e for e in logs if e["event"] == "heads.ws_rejected"]
    dropped = [e for e in logs if e["event"] == "heads.ws_dropped"]
    assert "refused unasked" in rejected[0]["error"]  # the far-future block
    assert "refused unasked" in rejected[1]["error"]  # one past the lead
    assert "head timestamp" in rejected[2]["error"]  # the 4th refusal (1st, 2nd, 4th logged)
    assert [e["rejected"] for e in rejected] == [1, 2, 4]  # a flood is not logged line by line
    errors = " | ".join(str(e["error"]) for e in dropped)
    causes = ("not JSON", "1009", "nested deeper", "not a JSON object", "hash", "TimeoutError")
    for cause in causes:
        assert cause in errors, errors
    assert {e["endpoint"] for e in dropped} == {url.removesuffix(f"/v2/{SECRET}") + "/…"}
    assert SECRET not in repr(logs)


@asynccontextmanager
async def ahead_endpoint(w3: Any, lead: int) -> AsyncIterator[str]:
    """A peer that keeps announcing the HTTP node's head + ``lead`` (a hash it cannot know:
    a forged or a not-yet-mined block), every 10 ms."""

    async def handler(conn: ServerConnection) -> None:
        request = json.loads(await conn.recv())
        await conn.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": SUB}))
        while True:
            head = int(await rpc_request(w3, "eth_blockNumber"), 16)
            await conn.send(note(header(head + lead, hash_hex=f"{head:064x}")))
            await asyncio.sleep(0.01)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


@pytest.mark.parametrize("lead", [1, MAX_UNVERIFIED_LEAD_BLOCKS])
async def test_a_peer_ahead_of_the_http_node_never_hides_the_real_blocks(
    anvil_node: Anvil, lead: int
) -> None:
    """Within the lead, a head the HTTP node does not have is never handed out (a tick on it
    could not read the chain); every real block mined meanwhile is handed out, by the poller
    (the peer's heads for those numbers carry other hashes)."""
    w3 = connect(anvil_node.rpc_url)
    yielded: list[int] = []
    try:
        start = int(await rpc_request(w3, "eth_blockNumber"), 16)
        async with (
            ahead_endpoint(w3, lead) as url,
            StreamedHeads(w3, [url], poll_interval_s=0.05, request_timeout_s=0.5) as heads,
        ):
            yielded.append(await asyncio.wait_for(anext(heads), HANG_S))
            await until(lambda: heads.subscriptions == 1, "not subscribed")
            for _ in range(5):
                await rpc_request(w3, "evm_mine")
                real = int(await rpc_request(w3, "eth_blockNumber"), 16)
                while yielded[-1] < real:
                    yielded.append(await asyncio.wait_for(anext(heads), HANG_S))
                    assert yielded[-1] <= real, "a block the HTTP node does not have"
            ws_first = heads.first_seen[HeadSource.WS]
    finally:
        await w3.provider.disconnect()
    assert yielded[0] == start
    assert yielded[-1] == start + 5
    assert ws_first == 0  # every peer head was forged: none was handed out


@asynccontextmanager
async def counting_relay(target_url: str) -> AsyncIterator[tuple[str, Counter[str]]]:
    """A loopback JSON-RPC relay to ``target_url`` and the requests it relayed, by method."""
    relayed: Counter[str] = Counter()
    async with ClientSession() as session:

        async def relay(request: web.Request) -> web.Response:
            body = await request.read()
            payload = json.loads(body)
            for call in payload if isinstance(payload, list) else [payload]:
                relayed[call["method"]] += 1
            headers = {"content-type": "application/json"}
            async with session.post(target_url, data=body, headers=headers) as answer:
                return web.Response(body=await answer.read(), content_type="application/json")

        app = web.Application()
        app.router.add_post("/", relay)
        async with serving(app) as port:
            yield f"http://127.0.0.1:{port}/", relayed


def random_hash() -> str:
    return os.urandom(32).hex()


@asynccontextmanager
async def flooding_endpoint(w3: Any, kind: str) -> AsyncIterator[str]:
    """A peer streaming heads as fast as it can: ``far`` a million blocks past the node's head,
    ``near`` the node's head + 1 … + lead, each with a hash no block has."""

    async def handler(conn: ServerConnection) -> None:
        request = json.loads(await conn.recv())
        await conn.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": SUB}))
        sent = 0
        while True:
            if sent % 64 == 0:
                head = int(await rpc_request(w3, "eth_blockNumber"), 16)
            if kind == "far":
                batch = [head + 10**6 + sent]
            else:
                batch = [head + k for k in range(1, MAX_UNVERIFIED_LEAD_BLOCKS + 1)]
            for number in batch:
                await conn.send(note(header(number, hash_hex=random_hash())))
            sent += 1
            await asyncio.sleep(0.001)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def test_far_future_heads_are_refused_without_a_single_request(anvil_node: Anvil) -> None:
    """A peer streaming heads a million blocks ahead costs the HTTP node no
    ``eth_getBlockByNumber`` at all; its heads are dropped unread after the first refusal."""
    direct = connect(anvil_node.rpc_url)
    try:
        async with counting_relay(anvil_node.rpc_url) as (relay_url, relayed):
            w3 = connect(relay_url)
            try:
                async with (
                    flooding_endpoint(direct, "far") as url,
                    StreamedHeads(w3, [url], poll_interval_s=0.2) as heads,
                ):
                    await until(lambda: heads.ignored >= 200, "the flood was not ignored")
                    rejected, ignored = heads.rejected, heads.ignored
            finally:
                await w3.provider.disconnect()
    finally:
        await direct.provider.disconnect()
    assert relayed["eth_getBlockByNumber"] == 0
    assert 1 <= rejected < ignored  # the first refusal, then one per penalty (0.5 s, 1 s, …)


async def test_flooding_peers_cost_a_bounded_number_of_requests_and_every_block_ticks(
    anvil_node: Anvil,
) -> None:
    """Two peers flood far-future and wrong-hash near heads while blocks are mined one by one:
    an honest subscription to the node still hands out every block, and the confirmations
    sent stay within one per block plus, per flooding peer and penalty, one request and the
    rechecks of one poll interval (the old reader sent one per bad head, ~300/s)."""
    poll_s, blocks = 0.2, 20
    penalties = 6  # 0.5 + 1 + 2 + 4 + 8 s: more than the run lasts
    per_penalty = 1 + round(poll_s / RECHECK_S)
    direct = connect(anvil_node.rpc_url)
    yielded: list[int] = []
    try:
        async with counting_relay(anvil_node.rpc_url) as (relay_url, relayed):
            w3 = connect(relay_url)
            try:
                async with (
                    flooding_endpoint(direct, "far") as far_url,
                    flooding_endpoint(direct, "near") as near_url,
                    StreamedHeads(
                        w3,
                        [far_url, near_url, anvil_node.rpc_url.replace("http", "ws", 1)],
                        poll_interval_s=poll_s,
                    ) as heads,
                ):
                    with capture_logs() as logs:
                        start = await asyncio.wait_for(anext(heads), HANG_S)
                        await until(lambda: heads.subscriptions == 3, "not subscribed")
                        began = time.monotonic()
                        for _ in range(blocks):
                            await rpc_request(direct, "evm_mine")
                            real = int(await rpc_request(direct, "eth_blockNumber"), 16)
                            while not yielded or yielded[-1] < real:
                                yielded.append(await asyncio.wait_for(anext(heads), HANG_S))
                                assert yielded[-1] <= real, "a block the HTTP node lacks"
                            await asyncio.sleep(0.05)
                        lasted_s = time.monotonic() - began
                        confirmations = relayed["eth_getBlockByNumber"]
                        ignored, ws_first = heads.ignored, heads.first_seen[HeadSource.WS]
            finally:
                await w3.provider.disconnect()
    finally:
        await direct.provider.disconnect()
    assert yielded == list(range(start + 1, start + blocks + 1))  # every block, in order
    assert ws_first >= 1  # the honest subscription still works beside the floods
    assert lasted_s < 0.5 * (2**penalties - 1), "the run outlasted the penalties budgeted"
    assert confirmations <= blocks + penalties * per_penalty, confirmations
    assert ignored >= 200  # both peers really flooded; their heads were dropped unread
    rejected_lines = [e for e in logs if e["event"] == "heads.ws_rejected"]
    assert len(rejected_lines) <= 2 * (penalties + 1)  # 1st, 2nd, 4th, ... per endpoint


async def test_stale_heads_with_unknown_hashes_never_reset_the_reconnection_backoff(
    anvil_node: Anvil,
) -> None:
    """A peer that answers each subscription with block 1 under a random hash and closes is
    re-subscribed ever more slowly: a head nobody checked does not make the endpoint healthy."""
    connections = 0

    async def handler(conn: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        request = json.loads(await conn.recv())
        await conn.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": SUB}))
        await conn.send(note(header(1, hash_hex=random_hash())))
        await conn.close()

    w3 = connect(anvil_node.rpc_url)
    try:
        await rpc_request(w3, "anvil_mine", 2)  # block 1 is an old block
        async with serve(handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            with capture_logs() as logs:
                async with StreamedHeads(
                    w3,
                    [f"ws://127.0.0.1:{port}"],
                    poll_interval_s=0.05,
                    reconnect_min_s=0.01,
                    reconnect_max_s=0.08,
                ) as heads:
                    await until(lambda: connections >= 9, "not re-subscribed eight times")
                    rejected = heads.rejected
    finally:
        await w3.provider.disconnect()
    delays = [(e["dropped"], e["retry_in_s"]) for e in logs if e["event"] == "heads.ws_dropped"]
    assert delays[:4] == [(1, 0.01), (2, 0.02), (4, 0.08), (8, 0.08)]  # 1st, 2nd, 4th, ...
    assert rejected == 0  # an old head is not checked (no request), nor held against the peer
