"""Fuzz of the JSON-RPC client as the daemon builds it: every answer ends in ``ChainError``.

The chain reader is built by ``build_chain_reader`` from a config loaded by ``load_config``
(one endpoint, or two behind the failover provider; ``chain.max_response_bytes`` 8 KiB), and
pointed at a local server whose answers Hypothesis draws (issue 12, acceptance): random
bytes, JSON nested up to 100,000 deep, huge numbers (``10**5000``, ``1e400``), invalid UTF-8,
bodies over the configured maximum, JSON-RPC objects of the wrong shape (no id, no result, odd
error codes, results of the wrong type), wrong content types, and HTTP framing a real server
would not send (a lying ``Content-Length``, chunked garbage, a body cut by a close). The
answer goes to one drawn JSON-RPC method; the others get a sane answer, so a bad ``eth_call``
reaches the ABI decoders behind a good block header.

Each call (head, header, one ``eth_call``, a whole V2 + V3 snapshot) must return a value of
its type or raise ``ChainError``: never another exception, never a hang (a guard of 30 s per
call, well above the 2 s request timeout), and the interpreter's recursion limit stays sane.
aiohttp serves the well-framed answers; a raw asyncio socket server the broken framings.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.chain.heads import block_info
from bot.chain.multichain import build_chain_reader
from bot.chain.reader import LpChainReader
from bot.chain.rpc import eth_call, rpc_request
from bot.clock import ManualClock
from bot.config import Settings, load_config
from bot.errors import ChainError
from bot.safety import DEFAULT_RECURSION_LIMIT, restore_recursion_limit

pytestmark = pytest.mark.faults

MAX_RESPONSE_BYTES = 8192  # the config's chain.max_response_bytes for this module
GUARD_S = 30.0  # a hang guard per call, not a timing: the request timeout is 2 s
ID = b"@ID@"  # replaced by the request's id
FUZZED = ("eth_blockNumber", "eth_getBlockByNumber", "eth_call", "eth_chainId", "eth_getCode")

_SANE: dict[str, Any] = {
    "eth_blockNumber": "0x10",
    "eth_chainId": "0x7a69",
    "eth_getBlockByNumber": {
        "number": "0x10",
        "timestamp": "0x65000000",
        "hash": "0x" + "ab" * 32,
        "parentHash": "0x" + "cd" * 32,
    },
    "eth_getCode": "0x6000",
    "eth_call": "0x",
    "eth_getLogs": [],
}


@dataclass(frozen=True)
class Answer:
    """One drawn answer: ``body`` (``@ID@`` is the request's id) for the requests to
    ``method``, sent with ``status``/``content_type`` in ``framing``: ``length`` (an honest
    Content-Length) or ``chunked`` by aiohttp; ``lying`` (Content-Length off by ``skew``),
    ``garbage`` (chunked framing with ``junk`` sizes), ``close`` (no length, cut by closing)
    over a raw socket."""

    method: str
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    framing: str = "length"
    skew: int = 0
    junk: bytes = b""

    @property
    def raw(self) -> bool:
        return self.framing in ("lying", "garbage", "close")


class World:
    """The servers (in a thread of their own) and the answer they give now."""

    def __init__(self) -> None:
        self.answer = Answer("eth_blockNumber", b"")
        self.loop = asyncio.new_event_loop()
        self.http_port = 0
        self.raw_port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(30), "fuzz servers did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._open())
        self._ready.set()
        self.loop.run_forever()

    async def _open(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/{tail:.*}", self._http)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        server = await asyncio.start_server(self._raw, "127.0.0.1", 0)
        self.raw_port = server.sockets[0].getsockname()[1]

    def _body_for(self, request: dict[str, Any]) -> bytes | None:
        """The drawn body for the drawn method, else None (answer sanely)."""
        if request.get("method") != self.answer.method:
            return None
        return self.answer.body.replace(ID, json.dumps(request.get("id")).encode())

    @staticmethod
    def _sane(request: dict[str, Any]) -> bytes:
        method = request.get("method")
        if method in _SANE:
            return json.dumps(
                {"jsonrpc": "2.0", "id": request.get("id"), "result": _SANE[method]}
            ).encode()
        error = {"code": -32601, "message": "method not found"}
        return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}).encode()

    async def _http(self, request: web.Request) -> web.StreamResponse:
        asked = json.loads(await request.read())
        body = self._body_for(asked)
        if body is None:
            return web.Response(body=self._sane(asked), content_type="application/json")
        answer = self.answer
        headers = {"Content-Type": answer.content_type}
        if answer.framing == "length":
            return web.Response(body=body, status=answer.status, headers=headers)
        response = web.StreamResponse(status=answer.status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 1000):
            await response.write(body[start : start + 1000])
        await response.write_eof()
        return response

    async def _raw(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One HTTP/1.1 exchange with hand-made framing, then close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            asked = json.loads(await reader.readexactly(length))
            body = self._body_for(asked)
            if body is None:  # a sane answer, honestly framed
                sane = self._sane(asked)
                status = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                framing = b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(sane)
                writer.write(status + framing + sane)
            else:
                writer.write(self._frame(body))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _frame(self, body: bytes) -> bytes:
        answer = self.answer
        status = f"HTTP/1.1 {answer.status} X\r\nContent-Type: {answer.content_type}\r\n".encode()
        if answer.framing == "lying":
            return (
                status
                + b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                % max(0, len(body) + answer.skew)
                + body
            )
        if answer.framing == "garbage":
            return status + b"Transfer-Encoding: chunked\r\n\r\n" + answer.junk + body
        return status + b"Connection: close\r\n\r\n" + body  # "close": cut by the close


# ---- the answers ------------------------------------------------------------------------------


def _envelope(result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + ID + b',"result":' + result + b"}"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["jsonrpc", "id", "result", "error", "code", "message", "data", "x"])
            | st.text(max_size=6),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)

HUGE_NUMBERS = [
    b"1" + b"0" * 5000,  # 10**5000: past the 4,300-digit conversion limit
    b"1" + b"0" * 4000,  # an int the decoder accepts, far past any quantity
    b"1e400",
    b"-1e400",
    b"1E+99999",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"-0",
    b"0.000000000000000000000000000001",
    b'"0x' + b"f" * 5000 + b'"',
    b'"0x' + b"0" * 100_000 + b'1"',
    b'"-0x1"',
    b'"0x"',
]


@st.composite
def deep(draw: st.DrawFn) -> bytes:
    """``[[[...]]]`` or ``{"a":{"a":...}}`` up to 100,000 deep (often near the interpreter's
    recursion limit, where a parse succeeds and a later walk could overflow), balanced or
    not: the whole body, or the result, the id, or an error's message or data."""
    levels = draw(st.integers(1, 100_000) | st.integers(DEFAULT_RECURSION_LIMIT - 120, 1100))
    opening, closing = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    inner = b"1" if opening != b"[" else b""
    closes = levels if draw(st.booleans()) else draw(st.integers(0, levels))
    value = opening * levels + inner + closing * closes
    where = draw(st.sampled_from(["body", "result", "id", "message", "data"]))
    if where == "body":
        return value
    if where == "result":
        return _envelope(value)
    if where == "id":
        return b'{"jsonrpc":"2.0","id":' + value + b',"result":"0x1"}'
    error = b'{"code":-32000,"message":"m","' + where.encode() + b'":' + value + b"}"
    return b'{"jsonrpc":"2.0","id":' + ID + b',"error":' + error + b"}"


@st.composite
def huge_number(draw: st.DrawFn) -> bytes:
    """A huge or non-finite number as the result, the id, an error code, or a block field."""
    number = draw(st.sampled_from(HUGE_NUMBERS))
    where = draw(st.sampled_from(["result", "id", "code", "block"]))
    if where == "result":
        return _envelope(number)
    if where == "id":
        return b'{"jsonrpc":"2.0","id":' + number + b',"result":"0x1"}'
    if where == "code":
        return b'{"jsonrpc":"2.0","id":' + ID + b',"error":{"code":' + number + b',"message":"m"}}'
    field = draw(st.sampled_from([b"number", b"timestamp", b"hash"]))
    return _envelope(
        b'{"number":"0x10","timestamp":"0x1","hash":"0x00","' + field + b'":' + number + b"}"
    )


@st.composite
def bad_utf8(draw: st.DrawFn) -> bytes:
    """Bytes that are not UTF-8 (or lone surrogates escaped) inside a JSON string."""
    junk = draw(
        st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xf8\x88"])
        | st.binary(min_size=1, max_size=20)
    )
    escaped = draw(st.sampled_from([b"", b"\\ud800", b"\\udfff\\ud800"]))
    return _envelope(b'"0x' + junk + escaped + b'"')


@st.composite
def oversized(draw: st.DrawFn) -> bytes:
    """A well-formed answer larger than ``chain.max_response_bytes``."""
    extra = draw(st.integers(min_value=1, max_value=3 * MAX_RESPONSE_BYTES))
    return _envelope(b'"0x' + b"00" * ((MAX_RESPONSE_BYTES + extra) // 2) + b'"')


@st.composite
def wrong_shape(draw: st.DrawFn) -> bytes:
    """A JSON-RPC object of the wrong shape: any JSON value, or an envelope with a missing or
    odd id, a result of any type, an error object of odd code/message/data."""
    if draw(st.booleans()):
        return json.dumps(draw(json_values)).encode()
    envelope: dict[str, Any] = {}
    if draw(st.booleans()):
        envelope["jsonrpc"] = draw(st.sampled_from(["2.0", "1.0", 2, None]))
    id_choice = draw(st.sampled_from(["same", "missing", "other"]))
    if id_choice == "other":
        envelope["id"] = draw(json_values)
    if draw(st.booleans()):
        envelope["result"] = draw(json_values)
    if draw(st.booleans()):
        envelope["error"] = draw(
            json_values
            | st.fixed_dictionaries(
                {},
                optional={
                    "code": st.integers() | st.floats() | st.text(max_size=5) | st.none(),
                    "message": json_values,
                    "data": json_values,
                },
            )
        )
    text = json.dumps(envelope)
    if id_choice == "same":
        text = '{"id":@ID@' + ("," if envelope else "") + text[1:]
    return text.encode()


@st.composite
def chain_data(draw: st.DrawFn) -> bytes:
    """A well-formed answer carrying hex data of any length: the ABI decoders' input."""
    data = draw(st.binary(max_size=600))
    return _envelope(b'"0x' + data.hex().encode() + b'"')


bodies = st.one_of(
    st.binary(max_size=4096),
    deep(),
    huge_number(),
    bad_utf8(),
    oversized(),
    wrong_shape(),
    chain_data(),
)

answers = st.builds(
    Answer,
    method=st.sampled_from(FUZZED),
    body=bodies,
    status=st.sampled_from([200, 200, 200, 201, 204, 400, 404, 500, 503]),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/html",
            "application/octet-stream",
            "text/plain; charset=latin-1",
            "application/json; charset=utf-16",
            "multipart/form-data; boundary=x",
        ]
    ),
    framing=st.sampled_from(["length", "length", "chunked", "lying", "garbage", "close"]),
    skew=st.integers(min_value=-40, max_value=40),
    junk=st.sampled_from(
        [b"", b"zz\r\n", b"ffffffffffffffffff\r\n", b"5\r\nabc", b"-1\r\n", b"\r\n\r\n"]
    )
    | st.binary(max_size=30),
)


# ---- the reader, as the daemon builds it --------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    restore_recursion_limit()  # as the CLI does at start
    servers = World()
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


def _settings(tmp: Path, urls: list[str]) -> Settings:
    """A V2 and a V3 position on the fuzzed endpoints, loaded as `hedgebot run` loads it."""
    config = {
        "bot_id": "fuzz-rpc",
        "chain": {
            "rpc_urls": urls,
            "request_timeout_s": 2.0,
            "max_response_bytes": MAX_RESPONSE_BYTES,
            "multicall": "0x" + "4" * 40,
        },
        "positions": [
            {"id": "v2", "kind": "v2", "pool": "0x" + "a" * 40, "owner": "0x" + "b" * 40},
            {"id": "v3", "kind": "v3", "position_manager": "0x" + "c" * 40, "token_id": 7},
        ],
        "hedge_asset": {"base_token": "0x" + "1" * 40, "quote_token": "0x" + "d" * 40},
        "hedge": {"ratio": "1", "threshold_base": "0.05"},
        "exchange": {"kind": "paper", "paper": {"state_path": str(tmp / "venue.json")}},
        "store": {"path": str(tmp / "store.sqlite")},
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_config(path)


@pytest.fixture(scope="module")
def configs(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[bool, int], Settings]:
    """(raw server?, endpoints) -> the settings pointing there."""
    out: dict[tuple[bool, int], Settings] = {}
    for raw in (False, True):
        port = world.raw_port if raw else world.http_port
        for count in (1, 2):
            urls = [f"http://127.0.0.1:{port}/rpc{n}/KEY" for n in range(count)]
            out[(raw, count)] = _settings(tmp_path_factory.mktemp("fuzz-config"), urls)
    return out


async def _outcome(what: str, call: Awaitable[Any]) -> Any:
    """``call``'s value or the ``ChainError`` it raised; any other exception, or no end
    within ``GUARD_S``, fails the test naming ``what``."""
    try:
        async with asyncio.timeout(GUARD_S):
            return await call
    except ChainError as exc:
        return exc
    except TimeoutError:
        pytest.fail(f"{what}: no end within {GUARD_S:g}s (hang)")


async def _calls(settings: Settings) -> list[Any]:
    reader = build_chain_reader(settings, ManualClock(0))
    assert isinstance(reader, LpChainReader)
    try:
        head = await _outcome("latest_block", reader.latest_block())
        header = await _outcome("block_info", block_info(reader.w3, 16, timeout_s=2))
        chain_id = await _outcome("eth_chainId", rpc_request(reader.w3, "eth_chainId", timeout_s=2))
        call = await _outcome(
            "eth_call", eth_call(reader.w3, "0x" + "a" * 40, b"\x0d", 16, timeout_s=2)
        )
        snapshot = await _outcome("snapshot", reader.snapshot(16))
    finally:
        await reader.close()
    return [head, header, chain_id, call, snapshot]


@settings(
    max_examples=150,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(answer=answers, endpoints=st.sampled_from([1, 2]))
def test_any_answer_ends_in_a_value_or_chain_error(
    world: World, configs: dict[tuple[bool, int], Settings], answer: Answer, endpoints: int
) -> None:
    world.answer = answer
    head, header, chain_id, call, snapshot = asyncio.run(_calls(configs[(answer.raw, endpoints)]))
    for name, outcome in (("head", head), ("call", call), ("snapshot", snapshot)):
        event(f"{name}: {type(outcome).__name__}")
    assert isinstance(head, int | ChainError)
    assert isinstance(header, ChainError) or header.number >= 0
    assert isinstance(chain_id, str | ChainError)  # a range-checked quantity, or refused
    assert isinstance(call, bytes | ChainError)
    assert isinstance(snapshot, ChainError)  # no pool behind "0xaa…": never a valued position
    assert sys.getrecursionlimit() <= DEFAULT_RECURSION_LIMIT  # nothing raised it again


def test_a_sane_world_reads(world: World, configs: dict[tuple[bool, int], Settings]) -> None:
    """The harness itself: with the drawn method never asked, head and header read."""
    world.answer = Answer("no_such_method", b"")
    for raw in (False, True):
        head, header, _chain_id, call, _snapshot = asyncio.run(_calls(configs[(raw, 1)]))
        assert head == 16
        assert header.number == 16
        assert call == b""
