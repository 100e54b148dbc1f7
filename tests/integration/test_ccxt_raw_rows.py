"""Issue 11 (adversarial round): venue rows the real ccxt binanceusdm client drops or defaults,
through ``CcxtPerpExchange`` against the emulator — its ``corrupt_position`` switch, or a small
rewriting proxy in front of it for answers the emulator cannot be told to give. An open hedge
is never read as flat, any element of a list that is not a row is a read error, and a refused
start-up setting starts at the venue's own value."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from emulator_support import SYMBOL, raw_ccxt_client, settings_for, started_exchange
from structlog.testing import capture_logs

from bot import errors
from bot.clock import ManualClock
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle, ccxt_urls

pytestmark = pytest.mark.integration

POSITION_RISK = "/fapi/v3/positionRisk"
HEDGE = Decimal("-75.038")  # the hedge


def sell(client_id: str, amount: Decimal | str) -> OrderIntent:
    return OrderIntent(client_id, SYMBOL, Side.SELL, Decimal(amount), reduce_only=False)


Rewrite = Callable[[Any], Any]


class RewritingProxy:
    """An HTTP proxy in front of the emulator that rewrites the JSON answer of one path."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rewrites: dict[str, Rewrite] = {}
        self.rewritten: list[str] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                self.upstream + request.path_qs,
                data=await request.read(),
                headers=headers,
            ) as upstream,
        ):
            body = await upstream.read()
            status, content_type = upstream.status, upstream.content_type
        rewrite = self.rewrites.get(request.path)
        if rewrite is not None and status == 200:
            body = json.dumps(rewrite(json.loads(body))).encode()
            self.rewritten.append(request.path)
        return web.Response(body=body, status=status, content_type=content_type)


@asynccontextmanager
async def rewriting_proxy(emulator: EmulatorHandle) -> AsyncIterator[RewritingProxy]:
    proxy = RewritingProxy(emulator.url)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        await runner.cleanup()


@asynccontextmanager
async def exchange_via(
    proxy: RewritingProxy, emulator: EmulatorHandle, clock: ManualClock
) -> AsyncIterator[CcxtPerpExchange]:
    adapter = CcxtPerpExchange(replace(settings_for(emulator), urls=ccxt_urls(proxy.url)), clock)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.close()


# ------------------------------------------------------------ 1: entry price 0


@pytest.mark.parametrize("zero", ["0", "0.0", 0, "0.00000000"])
async def test_entry_price_zero_with_a_hedge_open_is_a_read_error_not_flat(
    emulator: EmulatorHandle, clock: ManualClock, zero: object
) -> None:
    """Hedge -75.038 open, the row's entryPrice 0: bare ccxt drops the row (flat); the
    adapter raises VenueDataError naming entryPrice, and reads -75.038 again once fixed."""
    async with started_exchange(emulator, clock) as exchange:
        await exchange.submit(sell("h-75", HEDGE.copy_abs()))
        assert (await exchange.position()).size_base == HEDGE
        emulator.corrupt_position_rows({"entryPrice": zero})
        async with raw_ccxt_client(emulator) as client:
            assert await client.fetch_positions([SYMBOL]) == []  # ccxt: no position
        with pytest.raises(errors.VenueDataError, match=r"entryPrice 0 on an open position of"):
            await exchange.position()
        assert emulator.venue.position().size_base == HEDGE
        emulator.faults.reset()
        assert (await exchange.position()).size_base == HEDGE


async def test_flat_row_with_entry_price_zero_reads_flat(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """A row of size 0, entry 0, notional 0 is flat: position 0, no error."""
    async with started_exchange(emulator, clock) as exchange:
        await exchange.submit(sell("h-flat", "1.0"))
        emulator.corrupt_position_rows(
            {"positionAmt": "0", "entryPrice": "0", "notional": "0", "unRealizedProfit": "0"}
        )
        assert (await exchange.position()).size_base == 0


# ------------------------------------------------------ 2: garbage row lists


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda rows: [None],
        lambda rows: [*rows, None],
        lambda rows: [None, *rows],
        lambda rows: [5],
        lambda rows: ["ETHUSDT"],
        lambda rows: {},
        lambda rows: {"0": rows[0]},
        lambda rows: [{**rows[0], "symbol": "ethusdt"}],
    ],
    ids=["null", "row-null", "null-row", "number", "text", "object", "dict", "unknown-symbol"],
)
async def test_garbage_position_list_is_a_read_error_not_flat(
    emulator: EmulatorHandle, clock: ManualClock, rewrite: Rewrite
) -> None:
    """/fapi/v3/positionRisk answered [null] (and the like) with a hedge open: VenueDataError,
    not hedge 0."""
    async with rewriting_proxy(emulator) as proxy, exchange_via(proxy, emulator, clock) as ex:
        await ex.submit(sell("g-1", "1.0"))
        proxy.rewrites[POSITION_RISK] = rewrite
        with pytest.raises(errors.VenueDataError):
            await ex.position()
        assert proxy.rewritten == [POSITION_RISK]
        del proxy.rewrites[POSITION_RISK]
        assert (await ex.position()).size_base == Decimal("-1.0")


def _append_null(key: str | None = None) -> Rewrite:
    def rewrite(answer: Any) -> Any:
        (answer[key] if key else answer).append(None)
        return answer

    return rewrite


@pytest.mark.parametrize(
    ("path", "rewrite", "read"),
    [
        ("/fapi/v3/account", _append_null("assets"), lambda ex: ex.balance()),
        ("/fapi/v1/openOrders", _append_null(), lambda ex: ex.open_orders()),
        ("/fapi/v1/userTrades", _append_null(), lambda ex: ex.fills(0)),
        ("/fapi/v1/income", _append_null(), lambda ex: ex.funding_payments(0)),
        ("/fapi/v1/depth", _append_null("bids"), lambda ex: ex.quote()),
        ("/fapi/v1/depth", lambda a: {**a, "asks": [*a["asks"], 5]}, lambda ex: ex.quote()),
        (
            "/fapi/v1/depth",
            lambda a: {**a, "bids": [*a["bids"], ["0", "1"]]},
            lambda ex: ex.quote(),
        ),
        ("/fapi/v1/userTrades", lambda a: {"rows": a}, lambda ex: ex.fills(0)),
    ],
    ids=[
        "balances",
        "orders",
        "trades",
        "funding",
        "book-null",
        "book-number",
        "book-price-0",
        "trades-object",
    ],
)
async def test_a_non_row_element_in_any_list_is_a_read_error(
    emulator: EmulatorHandle,
    clock: ManualClock,
    path: str,
    rewrite: Rewrite,
    read: Callable[[CcxtPerpExchange], Any],
) -> None:
    """Balances, orders, trades, funding history, book levels: a null, a number or a bad level
    among the rows is a read error, never skipped."""
    async with rewriting_proxy(emulator) as proxy, exchange_via(proxy, emulator, clock) as ex:
        await ex.submit(sell("l-1", "1.0"))
        await read(ex)  # readable as the venue gives it
        proxy.rewrites[path] = rewrite
        with pytest.raises(errors.VenueDataError):
            await read(ex)
        assert path in proxy.rewritten


# ---------------------------------------------------- 3: start-up refusals


@pytest.mark.parametrize("code", [-4161, -4028, -1111, -2027])
async def test_any_leverage_refusal_starts_at_the_venues_leverage(
    emulator: EmulatorHandle, clock: ManualClock, code: int
) -> None:
    """With a hedge open, leverage 10 refused with any code: start goes on at the venue's 5,
    logged with the code and the current value, and the hedge is managed."""
    async with started_exchange(emulator, clock) as first:
        await first.submit(sell("r-1", "2.0"))
    emulator.refuse_leverage(code)
    adapter = CcxtPerpExchange(replace(settings_for(emulator), leverage=10), clock)
    with capture_logs() as logs:
        await adapter.start()
    try:
        assert adapter.account_setup is not None
        assert adapter.account_setup.leverage == 5
        assert str(code) in adapter.account_setup.note
        refused = [e for e in logs if e["event"] == "exchange.leverage_refused"]
        assert [(e["wanted"], e["current"], e["code"]) for e in refused] == [(10, 5, code)]
        assert (await adapter.position()).leverage == 5
        order = await adapter.submit(sell("r-2", "0.5"))
        assert order.status == OrderStatus.FILLED
    finally:
        await adapter.close()


async def test_leverage_refused_and_unreadable_fails_start_in_one_line(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """Refused (-4161) and the read-back answered 503: start fails, one line naming both."""
    async with started_exchange(emulator, clock) as first:
        await first.submit(sell("u-1", "2.0"))
    emulator.refuse_leverage(-4161)
    emulator.fail_next_request("GET", "/fapi/v1/symbolConfig", 503)
    adapter = CcxtPerpExchange(replace(settings_for(emulator), leverage=10), clock)
    with pytest.raises(errors.ExchangeError) as caught:
        await adapter.start()
    message = str(caught.value)
    assert "leverage refused" in message
    assert "-4161" in message
    assert "cannot be read back" in message
    assert "\n" not in message


async def test_leverage_refused_for_the_keys_fails_start(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """An authentication refusal (-2015) of the leverage call is no setting refusal: start
    fails with AuthenticationError."""
    emulator.refuse_leverage(-2015)
    adapter = CcxtPerpExchange(replace(settings_for(emulator), leverage=10), clock)
    with pytest.raises(errors.AuthenticationError):
        await adapter.start()


async def test_margin_mode_refused_starts_with_the_venues_mode(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """cross asked with an isolated position open (-4048): start goes on, the venue's mode
    (isolated) read back, logged and used."""
    async with started_exchange(emulator, clock) as first:
        await first.submit(sell("m-1", "1.0"))
    adapter = CcxtPerpExchange(replace(settings_for(emulator), margin_mode="cross"), clock)
    with capture_logs() as logs:
        await adapter.start()
    try:
        assert adapter.account_setup is not None
        assert adapter.account_setup.margin_mode == "isolated"
        assert "-4048" in adapter.account_setup.note
        refused = [e for e in logs if e["event"] == "exchange.margin_mode_refused"]
        assert [(e["wanted"], e["current"], e["code"]) for e in refused] == [
            ("cross", "isolated", -4048)
        ]
    finally:
        await adapter.close()


# --------------------------------------------------------- 4: minor row checks


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"leverage": "0"}, r"positionRisk\[0\]: leverage 0 is not a whole number >= 1"),
        ({"isolatedMargin": "-5"}, r"positionRisk\[0\]: isolatedMargin must not be negative"),
        ({"positionSide": "LONG"}, r"positionRisk\[0\]: positionSide LONG on positionAmt -1"),
        ({"markPrice": "NaN"}, r"binanceusdm /fapi/v3/positionRisk: answer\[0\]\.markPrice"),
        ({"leverage": "NaN"}, r"binanceusdm /fapi/v3/positionRisk: answer\[0\]\.leverage"),
        ({"updateTime": "NaN"}, r"binanceusdm /fapi/v3/positionRisk: answer\[0\]\.updateTime"),
    ],
)
async def test_minor_row_faults_are_read_errors_naming_the_field(
    emulator: EmulatorHandle, clock: ManualClock, fields: dict[str, Any], message: str
) -> None:
    """leverage "0", isolatedMargin "-5", positionSide LONG on a short, NaN in a field: each a
    VenueDataError naming the venue, the endpoint and the field."""
    async with started_exchange(emulator, clock) as exchange:
        await exchange.submit(sell("f-1", "1.0"))
        emulator.corrupt_position_rows(fields)
        with pytest.raises(errors.VenueDataError, match=message) as caught:
            await exchange.position()
        assert "invalid literal" not in str(caught.value)
