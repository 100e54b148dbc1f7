"""Hostile *values* in well-formed JSON-RPC answers: quantities, hashes and messages.

An endpoint answering ``eth_blockNumber`` with 200,000 hex digits killed the daemon (the
int→str conversion limit, raised again in the tick's crash handler). Every quantity a node
returns is now bounded where it is parsed (block number and timestamp < 2**63, hashes exactly
32 bytes) and an out-of-range value is a bad answer of that endpoint: ``ChainError`` when it is
the only one, a failover to the next one otherwise. Peer text (an error message of 100 KB with
an ESC byte) reaches errors and events bounded and escaped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import structlog
from fault_world import fault_world
from test_fault_chain import use_rpc
from test_fault_rpc_hostile import hostile_rpc

from bot.chain.failover import FailoverProvider
from bot.chain.heads import block_info, latest_block
from bot.chain.reader import connect_web3
from bot.chain.rpc import connect
from bot.errors import ChainError
from bot.logging import configure_logging
from bot.safety import MAX_PEER_TEXT, restore_recursion_limit
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.faults

BIGINT = "0x" + "f" * 200_000
GOOD_HASH = "0x" + "ab" * 32


@pytest.fixture(autouse=True)
def sane_recursion_limit() -> None:
    """As the CLI does at start."""
    restore_recursion_limit()


def answer(result: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 0, "result": result}).encode()


def block(**fields: Any) -> dict[str, Any]:
    """A block answer with sane fields, overridden by ``fields``."""
    body = {"number": "0x10", "timestamp": "0x65000000", "hash": GOOD_HASH}
    body.update(fields)
    return body


def by_method(results: dict[str, Any]) -> Any:
    """An answer function: ``results[method]`` for each request."""
    return lambda request: answer(results[request["method"]])


@pytest.mark.parametrize(
    ("result", "raw", "shown"),
    [
        (BIGINT, None, "not a quantity within"),
        (hex(2**63), None, "is outside 0..0x7fffffffffffffff"),  # one past the bound
        ("0x", None, "not a quantity"),
        ("0xzz", None, "not a hex quantity"),
        ("-0x1", None, "not a quantity"),
        (12, None, None),  # an int where hex text belongs: shown as a malformed answer
        (None, b'{"jsonrpc":"2.0","id":0,"result":' + b"9" * 100_000 + b"}", "not usable JSON"),
        (None, b'{"jsonrpc":"2.0","id":0,"result":1e400}', "overflows a float"),
    ],
)
async def test_out_of_range_block_number_of_the_only_endpoint_is_a_chain_error(
    result: Any, raw: bytes | None, shown: str | None
) -> None:
    """eth_blockNumber beyond 2**63-1, empty, not hex, negative, a 100,000-digit JSON number
    or a float overflow: ChainError with a bounded message, never ValueError or a crash."""
    body = raw if raw is not None else answer(result)
    async with hostile_rpc(lambda _req: body) as url:
        w3 = connect(url, request_timeout_s=5)
        try:
            with pytest.raises(ChainError) as caught:
                await latest_block(w3, timeout_s=5)
        finally:
            await w3.provider.disconnect()
    message = str(caught.value)
    assert message.startswith("eth_blockNumber")
    assert len(message) < 2 * MAX_PEER_TEXT
    if shown is not None:
        assert shown in message


async def test_largest_block_number_is_read() -> None:
    """The bound itself, 2**63-1, is a valid block number."""
    async with hostile_rpc(lambda _req: answer(hex(2**63 - 1))) as url:
        w3 = connect(url, request_timeout_s=5)
        try:
            assert await latest_block(w3, timeout_s=5) == 2**63 - 1
        finally:
            await w3.provider.disconnect()


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"timestamp": hex(2**64)}, "timestamp"),
        ({"timestamp": BIGINT}, "timestamp"),
        ({"number": BIGINT}, "number"),
        ({"hash": "0x" + "ab" * 31}, "hash: not 32 bytes"),
        ({"hash": "0x" + "ab" * 500_000}, "hash: not 32 bytes"),
        ({"hash": "0x" + "zz" * 32}, "hash: not hex"),
        ({"gasLimit": BIGINT}, "gasLimit"),
        ({"hash": None}, "no hash"),
    ],
)
async def test_block_with_an_impossible_field_is_a_chain_error(
    fields: dict[str, Any], shown: str
) -> None:
    """A block whose timestamp, number, hash or gas is out of range or of the wrong length:
    ChainError naming the field."""
    results = {"eth_getBlockByNumber": block(**fields)}
    async with hostile_rpc(by_method(results)) as url:
        w3 = connect(url, request_timeout_s=5)
        try:
            with pytest.raises(ChainError, match=shown) as caught:
                await block_info(w3, 16, timeout_s=5)
            results["eth_getBlockByNumber"] = block()
            info = await block_info(w3, 16, timeout_s=5)  # a sane block from the same node
        finally:
            await w3.provider.disconnect()
    assert len(str(caught.value)) < 2 * MAX_PEER_TEXT
    assert (info.number, info.timestamp, info.hash) == (16, 0x65000000, GOOD_HASH)


async def test_bad_answer_of_the_first_endpoint_fails_over(anvil_node: Anvil) -> None:
    """The first endpoint answers a 200,000-digit block number and a block with a 1 MB hash:
    both reads fail over to the healthy node, and the hostile endpoint is scored down."""
    results = {
        "eth_blockNumber": BIGINT,
        "eth_getBlockByNumber": block(hash="0x" + "ab" * 500_000),
    }
    async with hostile_rpc(by_method(results)) as hostile:
        w3 = connect_web3([hostile, anvil_node.rpc_url], 5)
        provider = w3.provider
        assert isinstance(provider, FailoverProvider)
        try:
            number = await latest_block(w3, timeout_s=10)
            assert provider.health[0].failures == 1
            assert "eth_blockNumber" in str(provider.health[0].last_error)
            assert provider.health[1].successes == 1
            provider.health[0].cooldown_until_s = 0.0  # try the hostile one first again
            provider.health[0].failures = 0
            info = await block_info(w3, number, timeout_s=10)
            assert provider.health[0].failures == 1
            assert "hash" in str(provider.health[0].last_error)
            assert provider.failovers == 2
        finally:
            await provider.disconnect()
    assert info.number == number
    assert len(info.hash) == 66


async def test_engine_tick_survives_a_bigint_endpoint_and_reports_it_bounded(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The bot's only RPC answers a 200,000-digit block number, then a 100 KB error message
    with ESC: each tick fails as a chain error, the error event is bounded and escaped, nothing
    is traded; back on a healthy node the next tick trades."""
    hostile_error = {
        "jsonrpc": "2.0",
        "id": 0,
        "error": {"code": -32000, "message": "x" * 100_000 + "[/evil]\x1b[31m"},
    }
    async with fault_world(anvil_node, tmp_path) as fw:
        good = await fw.bot.chain.latest_block()
        async with hostile_rpc(lambda _req: answer(BIGINT)) as hostile:
            await use_rpc(fw, [hostile])
            with pytest.raises(ChainError, match="not a quantity"):
                await fw.bot.engine.chain.latest_block()
            assert await fw.tick(good) is None  # its block read fails the same way
        bigint_error = fw.telemetry.errors()[-1]
        async with hostile_rpc(lambda _req: json.dumps(hostile_error).encode()) as hostile:
            await use_rpc(fw, [hostile])
            assert await fw.tick(good) is None
        message_error = fw.telemetry.errors()[-1]
        assert fw.venue_orders() == []
        await use_rpc(fw, [anvil_node.rpc_url])
        assert await fw.tick(good) is not None
        assert len(fw.venue_orders()) == 1
    for event in (bigint_error, message_error):
        assert event["source"] == "chain"
        assert len(event["error"]) < 4 * MAX_PEER_TEXT
        assert "\x1b" not in event["error"]
    assert "\\x1b" not in message_error["error"]  # cut long before: 100 KB of x
    assert "…(+" in message_error["error"]


class _HostileReader:
    """The real chain reader, except that ``snapshot`` raises ``error`` (what a library could
    raise with a peer's value in it)."""

    def __init__(self, real: Any, error: Exception) -> None:
        self._real, self._error = real, error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def snapshot(self, block_number: int) -> Any:
        raise self._error


async def test_tick_crash_handler_never_raises_on_hostile_exception_content(
    anvil_node: Anvil, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tick ended by a ValueError carrying a 5,000-digit int (its str() raises) or 100 KB of
    text with ESC: the tick fails cleanly, and every line the real JSON logging writes is one
    parseable, bounded line with no raw ESC; the error event is bounded too."""
    saved = structlog.get_config()
    async with fault_world(anvil_node, tmp_path) as fw:
        real = fw.bot.engine.chain
        block_number = await fw.bot.chain.latest_block()
        try:
            configure_logging("info", "json")
            for error in (ValueError(10**5000), ValueError("\x1b[31m" + "y" * 100_000)):
                fw.bot.engine.chain = _HostileReader(real, error)
                assert await fw.tick(block_number) is None
        finally:
            structlog.configure(**saved)
            fw.bot.engine.chain = real
        errors = fw.telemetry.errors()[-2:]
    lines = capsys.readouterr().err.splitlines()
    failed = [json.loads(line) for line in lines if '"tick.failed"' in line]
    assert len(failed) == 2
    assert failed[0]["error"] == "ValueError: <unprintable message>"
    assert failed[1]["error"].startswith("ValueError: \\x1b[31myyy")
    assert all(len(line) < 20_000 and "\x1b" not in line for line in lines)
    assert [e["error"] for e in errors] == [f["error"] for f in failed]
    assert all(len(e["error"]) < 2 * MAX_PEER_TEXT for e in errors)
