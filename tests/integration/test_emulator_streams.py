"""The Binance emulator's WebSocket streams read by the real ccxt.pro ``binanceusdm`` client:
listen keys, the mark-price stream, the user-data stream (positions, orders, my trades) and the
stream fault switches. What the streams say equals what the REST answers say."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import ccxt.pro as ccxt_pro
import pytest
from emulator_support import API_KEY, API_SECRET, SYMBOL, running_emulator, venue_clock

from bot.clock import ManualClock
from bot.exchange.emulators.binance_usdm import EmulatorHandle

pytestmark = pytest.mark.integration

_WAIT_S = 5.0  # a frame that does not come within this is a failure, not a slow pass


@asynccontextmanager
async def pro_client(handle: EmulatorHandle, clock: ManualClock) -> AsyncIterator[Any]:
    """ccxt.pro binanceusdm pointed at ``handle`` (REST and WebSocket), markets loaded."""
    client = ccxt_pro.binanceusdm(
        {
            "apiKey": API_KEY,
            "secret": API_SECRET,
            "options": {
                "defaultType": "swap",
                "fetchCurrencies": False,
                "fetchMargins": False,
                "watchPositions": {"fetchPositionsSnapshot": False},
            },
        }
    )
    client.urls["api"].update(handle.ccxt_urls())
    client.urls["api"]["ws"] = {**client.urls["api"]["ws"], **handle.ccxt_ws_urls()}
    client.milliseconds = lambda: int(clock.now() * 1000)
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


async def _next(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, _WAIT_S)


async def test_the_mark_stream_carries_the_venues_mark_index_and_funding() -> None:
    """watch_mark_price: mark, index, funding rate and next funding time as the venue quotes
    them; a new mark comes as the next frame."""
    clock = venue_clock()
    async with running_emulator(clock) as handle, pro_client(handle, clock) as client:
        first = await _next(client.watch_mark_price(SYMBOL))
        quote = handle.venue.quote()
        handle.set_mark(Decimal("2101.5"))
        second = await _next(client.watch_mark_price(SYMBOL))
    info = first["info"]
    assert Decimal(info["p"]) == quote.mark_price
    assert Decimal(info["i"]) == quote.index_price
    assert Decimal(info["r"]) == quote.funding_rate
    assert info["T"] == quote.next_funding_ts * 1000
    assert first["symbol"] == SYMBOL
    assert Decimal(second["info"]["p"]) == Decimal("2101.5")


async def test_the_user_stream_reports_the_position_order_and_trade_as_rest_does() -> None:
    """A market sell through REST: watch_positions has the short at its entry, watch_orders
    the order closed under its client id, watch_my_trades the trade with the same id, amount,
    price and fee as fetch_my_trades."""
    clock = venue_clock()
    async with running_emulator(clock) as handle, pro_client(handle, clock) as client:
        positions = asyncio.ensure_future(client.watch_positions())
        orders = asyncio.ensure_future(client.watch_orders(SYMBOL))
        trades = asyncio.ensure_future(client.watch_my_trades(SYMBOL))
        await asyncio.sleep(0)  # the watches subscribe before the order
        while handle.emulator.streams.open_sockets == 0:
            await _next(asyncio.sleep(0.01))
        await client.create_order(SYMBOL, "market", "sell", 0.5, None, {"newClientOrderId": "s1"})
        streamed_positions = await _next(positions)
        streamed_orders = await _next(orders)
        streamed_trades = await _next(trades)
        rest_trades = await client.fetch_my_trades(SYMBOL)
        rest_position = handle.venue.position()
    (position,) = streamed_positions
    assert position["symbol"] == SYMBOL
    assert position["side"] == "short"
    assert Decimal(str(position["contracts"])) == -rest_position.size_base == Decimal("0.5")
    assert Decimal(str(position["entryPrice"])) == rest_position.entry_price
    assert streamed_orders[-1]["clientOrderId"] == "s1"
    (trade,) = streamed_trades
    (rest,) = rest_trades
    assert (trade["id"], trade["order"], trade["side"]) == (rest["id"], rest["order"], "sell")
    assert trade["amount"] == rest["amount"]
    assert trade["price"] == rest["price"]
    assert trade["fee"]["cost"] == rest["fee"]["cost"] > 0
    assert trade["fee"]["currency"] == rest["fee"]["currency"] == "USDT"


async def test_listen_keys_need_the_api_key_and_end_with_delete() -> None:
    """POST without the key header is -2014; PUT keeps a key alive; a socket on an unknown key
    is refused (HTTP 400); DELETE ends the key and closes its socket."""
    clock = venue_clock()
    async with running_emulator(clock) as handle, aiohttp.ClientSession() as http:
        url = f"{handle.url}/fapi/v1/listenKey"
        headers = {"X-MBX-APIKEY": API_KEY}
        async with http.post(url) as refused:
            assert (refused.status, (await refused.json())["code"]) == (401, -2014)
        async with http.post(url, headers=headers) as created:
            key = (await created.json())["listenKey"]
        async with http.put(url, headers=headers) as kept:
            assert kept.status == 200
        ws_url = f"ws://{handle.host}:{handle.port}/private/ws"
        with pytest.raises(aiohttp.WSServerHandshakeError) as unknown:
            await http.ws_connect(f"{ws_url}?listenKey=not-{key}")
        assert unknown.value.status == 400
        socket = await http.ws_connect(f"{ws_url}?listenKey={key}")
        async with http.delete(url, headers=headers) as ended:
            assert ended.status == 200
        closing = await _next(socket.receive())
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await socket.close()
        async with http.put(url, headers=headers) as gone:
            assert (await gone.json())["code"] == -1125


async def test_dropped_and_refused_streams() -> None:
    """drop_streams closes an open socket (the client's watch fails with a network error);
    refuse_streams answers the next upgrade with 503; cleared, a new watch reads again."""
    clock = venue_clock()
    async with running_emulator(clock) as handle, pro_client(handle, clock) as client:
        await _next(client.watch_mark_price(SYMBOL))
        pending = asyncio.ensure_future(client.watch_mark_price(SYMBOL))
        handle.refuse_streams()
        assert await handle.drop_streams() == 1
        with pytest.raises(ccxt.NetworkError):
            await _next(pending)
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"ws://{handle.host}:{handle.port}/market/ws/0")
        assert refused.value.status == 503
        handle.refuse_streams(False)
        handle.set_mark(Decimal(1990))
        again = await _next(client.watch_mark_price(SYMBOL))
    assert Decimal(again["info"]["p"]) == Decimal(1990)


async def test_subscribe_answers_and_bad_requests_on_the_market_socket() -> None:
    """SUBSCRIBE is answered ``{"result": null, "id": n}`` then a mark frame; LIST shows it;
    an unknown method is Binance's error 2, not a dropped socket."""
    clock = venue_clock()
    async with running_emulator(clock) as handle, aiohttp.ClientSession() as http:
        socket = await http.ws_connect(f"ws://{handle.host}:{handle.port}/market/ws/0")
        await socket.send_json({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice@1s"], "id": 7})
        assert await _next(socket.receive_json()) == {"result": None, "id": 7}
        frame = await _next(socket.receive_json())
        await socket.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 8})
        listed = await _next(socket.receive_json())
        while listed.get("id") != 8:  # a periodic mark frame may come first
            listed = await _next(socket.receive_json())
        await socket.send_json({"method": "NOPE", "id": 9})
        error = await _next(socket.receive_json())
        while error.get("id") != 9:
            error = await _next(socket.receive_json())
        await socket.close()
    assert frame["e"] == "markPriceUpdate"
    assert frame["s"] == "ETHUSDT"
    assert listed["result"] == ["ethusdt@markPrice@1s"]
    assert error["error"]["code"] == 2
