"""Hostile JSON-RPC endpoints: deeply nested or oversized answers and keys inside URLs.

A tiny aiohttp server plays the hostile endpoint, as the only endpoint and as the fallback
behind a dead one. The process must survive every answer, the read must fail as
``ChainError`` (or fail over to a healthy endpoint), and an RPC key in a URL's path never
reaches a log line, an event or an error message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fault_world import fault_world
from structlog.testing import capture_logs
from test_fault_chain import dead_url, serve_posts, use_rpc

from bot.chain.failover import FailoverProvider
from bot.chain.heads import latest_block
from bot.chain.reader import connect_web3
from bot.chain.rpc import connect, eth_call
from bot.errors import ChainError
from bot.safety import MAX_RESPONSE_BYTES, restore_recursion_limit
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.faults

NESTED = 80_000
SECRET = "SECRETKEY123"

Answer = Callable[[dict[str, Any]], web.StreamResponse | bytes]


def deep_array(levels: int = NESTED) -> bytes:
    """``[[[...]]]`` nested ``levels`` deep: what crashed the C JSON decoder."""
    return b"[" * levels + b"]" * levels


def deep_result(levels: int = NESTED) -> bytes:
    """A well-formed JSON-RPC envelope whose result is nested ``levels`` deep."""
    return b'{"jsonrpc":"2.0","id":0,"result":' + deep_array(levels) + b"}"


@asynccontextmanager
async def hostile_rpc(answer: Answer) -> AsyncIterator[str]:
    """An HTTP JSON-RPC endpoint whose every answer is ``answer(request_json)``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        out = answer(body)
        if isinstance(out, bytes):
            return web.Response(body=out, content_type="application/json")
        return out

    async with serve_posts(handle) as base:
        yield f"{base}/v2/{SECRET}"


@pytest.fixture(autouse=True)
def sane_recursion_limit() -> None:
    """As the CLI does at start: undo the web3 stack's recursion limit of 100,000."""
    restore_recursion_limit()


async def test_deeply_nested_answer_of_the_only_endpoint_is_a_chain_error() -> None:
    """80,000 nested brackets as the whole body or as the result: ChainError, no crash."""
    for body in (deep_array(), deep_result()):
        async with hostile_rpc(lambda _req, body=body: body) as url:
            w3 = connect(url, request_timeout_s=5)
            try:
                with pytest.raises(ChainError, match="nested deeper") as caught:
                    await latest_block(w3, timeout_s=5)
                with pytest.raises(ChainError, match="nested deeper"):
                    await eth_call(w3, "0x" + "11" * 20, b"\x01", 1, timeout_s=5)
            finally:
                await w3.provider.disconnect()
        assert SECRET not in str(caught.value)


async def test_oversized_answer_is_refused_before_parsing() -> None:
    """A body over the configured maximum is refused whether or not it declares its length;
    the default maximum is bot.safety.MAX_RESPONSE_BYTES."""
    valid = json.dumps({"jsonrpc": "2.0", "id": 0, "result": "0x" + "00" * 4000}).encode()

    async with hostile_rpc(lambda _req: valid) as url:
        w3 = connect(url, request_timeout_s=5, max_response_bytes=1000)
        try:
            with pytest.raises(ChainError, match=r"declares \d+ bytes, over the limit of 1000"):
                await latest_block(w3, timeout_s=5)
        finally:
            await w3.provider.disconnect()
        w3 = connect(url, request_timeout_s=5)
        try:
            assert w3.provider.max_response_bytes == MAX_RESPONSE_BYTES  # type: ignore[attr-defined]
            assert await latest_block(w3, timeout_s=5) == 0  # within the default: read, parsed
        finally:
            await w3.provider.disconnect()


async def test_endless_chunked_answer_is_cut_at_the_limit() -> None:
    """A chunked body with no length, larger than the default maximum, is cut as it streams."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"jsonrpc":"2.0","id":0,"result":"0x')
        chunk = b"0" * (1024 * 1024)
        for _ in range(MAX_RESPONSE_BYTES // len(chunk) + 2):
            await response.write(chunk)
        return response

    async with serve_posts(endless) as url:
        w3 = connect(url, request_timeout_s=10)
        try:
            with pytest.raises(
                ChainError, match=f"exceeds the limit of {MAX_RESPONSE_BYTES} bytes"
            ):
                await latest_block(w3, timeout_s=10)
        finally:
            await w3.provider.disconnect()


async def test_hostile_fallback_endpoint_is_scored_down_and_skipped(anvil_node: Anvil) -> None:
    """Behind a dead primary, a fallback answering 80,000 nested brackets fails over to the
    healthy third endpoint; with only the dead and the hostile one the read is a ChainError."""
    async with hostile_rpc(lambda _req: deep_array()) as hostile:
        w3 = connect_web3([dead_url(), hostile, anvil_node.rpc_url], 5)
        provider = w3.provider
        assert isinstance(provider, FailoverProvider)
        try:
            assert await latest_block(w3, timeout_s=10) >= 0
            assert provider.health[2].successes == 1
            assert provider.health[0].failures == 1
            assert provider.health[1].failures == 1
            assert "nested deeper" in str(provider.health[1].last_error)
            assert provider.health[2].failures == 0
            assert provider.failovers == 1
        finally:
            await provider.disconnect()
        w3 = connect_web3([dead_url(), hostile], 5)
        try:
            with pytest.raises(ChainError, match="nested deeper"):
                await latest_block(w3, timeout_s=10)
        finally:
            await w3.provider.disconnect()  # type: ignore[attr-defined]


async def test_engine_survives_a_hostile_only_endpoint_and_recovers(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The bot's only RPC answers nested brackets: the tick fails as a chain error, nothing is
    traded; pointed back at a healthy node the next tick trades."""
    async with fault_world(anvil_node, tmp_path) as fw:
        block = await fw.bot.chain.latest_block()
        async with hostile_rpc(lambda _req: deep_result()) as hostile:
            await use_rpc(fw, [hostile])
            assert await fw.tick(block) is None
        assert fw.telemetry.errors()[-1]["source"] == "chain"
        assert "nested deeper" in fw.telemetry.errors()[-1]["error"]
        assert fw.venue_orders() == []
        await use_rpc(fw, [anvil_node.rpc_url])
        assert await fw.tick(block) is not None
        assert len(fw.venue_orders()) == 1


def _texts(exc: BaseException | None) -> list[str]:
    """The message of ``exc`` and of every exception chained to it."""
    out: list[str] = []
    while exc is not None:
        out.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return out


async def test_rpc_key_in_the_url_path_is_never_logged_or_raised(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """A dead endpoint with a key in its path, as primary and as the only endpoint: no log
    line, error event, health record or exception message contains the key."""
    secret_url = f"{dead_url()}/v2/{SECRET}"
    async with fault_world(anvil_node, tmp_path) as fw:
        with capture_logs() as logs:
            provider = await use_rpc(fw, [secret_url, anvil_node.rpc_url])
            assert provider is not None
            assert await fw.tick() is not None  # failed over
            assert provider.health[0].failures == 1
            await use_rpc(fw, [secret_url])
            assert await fw.tick() is None
            w3 = connect(secret_url, request_timeout_s=2)
            with pytest.raises(ChainError) as caught:
                await latest_block(w3, timeout_s=2)
            await w3.provider.disconnect()
            await fw.bot.engine.chain.close()
            multi = connect_web3([secret_url, secret_url], 2)
            with pytest.raises(ChainError) as caught_multi:
                await latest_block(multi, timeout_s=2)
            shown = str(multi.provider)
            await multi.provider.disconnect()  # type: ignore[attr-defined]
        events = fw.telemetry.errors()
    assert any(e["event"] == "rpc.endpoint_failed" for e in logs)
    assert any(e["event"] == "tick.failed" for e in logs)
    assert events
    assert events[-1]["source"] == "chain"
    leaks = [
        text
        for text in [
            *(json.dumps(e, default=str) for e in logs),
            *(json.dumps(e, default=str) for e in events),
            *_texts(caught.value),
            *_texts(caught_multi.value),
            str(provider.health[0].last_error),
            str(provider),
            shown,
        ]
        if SECRET in text
    ]
    assert leaks == []
    assert "http://127.0.0.1:" in shown
    assert "/…" in shown
