"""A hung RPC endpoint (accepts TCP, never answers; or answers one byte a second) in front of a
healthy one, with the chain reader the daemon builds from settings (``build_bot`` →
``build_chain_reader`` → ``connect_web3``): the silent endpoint is cut off within the tick's
read budget, scored failed, and the healthy one answers in the same tick (issue 12 review 3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fault_world import fault_world

from bot.chain.failover import EndpointHealth, FailoverProvider
from bot.chain.reader import LpChainReader
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.faults

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Take the connection and the request, answer nothing."""
    await asyncio.Event().wait()


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer 200 with a chunked body that never ends: one byte a second."""
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
    )
    await writer.drain()
    while True:
        await asyncio.sleep(1)
        writer.write(b"1\r\n \r\n")
        await writer.drain()


@asynccontextmanager
async def tcp_endpoint(handle: Handler) -> AsyncIterator[str]:
    """A loopback TCP server running ``handle`` per connection; yields its http URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("handle", [_silent, _drip], ids=["silent", "drip"])
async def test_hung_endpoint_is_scored_and_next_answers_in_the_same_tick(
    anvil_node: Anvil, tmp_path: Path, handle: Handler
) -> None:
    """With request_timeout_s 2 and [hung, anvil]: every read of the tick is answered (by
    anvil), the hung endpoint is scored failed and cooled down, a failover is counted, and the
    hedge is placed; the next tick goes to anvil first."""
    async with tcp_endpoint(handle) as hung:
        chain = {"rpc_urls": [hung, anvil_node.rpc_url], "request_timeout_s": 2.0}
        async with fault_world(anvil_node, tmp_path, chain=chain) as fw:
            reader = fw.bot.engine.chain
            assert isinstance(reader, LpChainReader)  # the one build_bot made from settings
            provider = reader.w3.provider
            assert isinstance(provider, FailoverProvider)
            # as a daemon whose start did not touch it: the hung endpoint is tried first
            provider.health[0] = EndpointHealth(hung, label=provider.health[0].label)
            provider.failovers = 0
            block = await reader.latest_block()
            report = await fw.tick(block)
            assert report is not None
            assert report.order is not None
            assert len(fw.venue_orders()) == 1
            assert provider.health[0].failures == 1
            assert "no answer from http://127.0.0.1" in (provider.health[0].last_error or "")
            assert provider.health[1].failures == 0
            assert provider.failovers >= 1
            again = await fw.tick(await reader.latest_block())
            assert again is not None
            assert provider.health[1].failures == 0
