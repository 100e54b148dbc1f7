"""The unmodified ccxt hyperliquid client (async, sandbox mode) against the Hyperliquid
emulator over HTTP: markets, trading, venue refusals, signatures, builder fields, faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bot.exchange.emulators.hyperliquid import (
    CCXT_BUILDER,
    HyperliquidHandle,
    OffsetClock,
    start_hyperliquid_emulator,
)

pytestmark = pytest.mark.integration

SYMBOL = "ETH/USDC:USDC"
MARK = Decimal(2000)
MASTER: LocalAccount = Account.from_key("0x" + "11" * 32)
AGENT: LocalAccount = Account.from_key("0x" + "22" * 32)
STRANGER: LocalAccount = Account.from_key("0x" + "33" * 32)
VAULT = "0x" + "44" * 20


def cloid(n: int) -> str:
    """A 128-bit hex client order id."""
    return f"0x{n:032x}"


@pytest.fixture
async def hl() -> AsyncIterator[HyperliquidHandle]:
    """A fresh emulator: master account, one approved agent, mark at 2000."""
    handle = await start_hyperliquid_emulator(
        "127.0.0.1", 0, MASTER.address, OffsetClock(), agents=[AGENT.address]
    )
    handle.set_mark(MARK)
    try:
        yield handle
    finally:
        await handle.close()


async def client_for(handle: HyperliquidHandle, key: LocalAccount = AGENT) -> Any:
    """ccxt hyperliquid in sandbox mode pointed at ``handle``, signing with ``key``."""
    client = ccxt_async.hyperliquid(
        {
            "walletAddress": MASTER.address,
            "privateKey": key.key.hex(),
            "enableRateLimit": False,
            "timeout": 5000,
        }
    )
    client.set_sandbox_mode(True)
    client.urls["api"] = handle.ccxt_urls()
    await client.load_markets()
    return client


@pytest.fixture
async def agent_client(hl: HyperliquidHandle) -> AsyncIterator[Any]:
    """ccxt signing with the approved agent wallet, for the master account."""
    client = await client_for(hl)
    try:
        yield client
    finally:
        await client.close()


async def ioc(client: Any, side: str, amount: str, n: int, **params: Any) -> Any:
    """An IOC limit capped 1 % past the mark (how the bot sends market orders)."""
    factor = Decimal("1.01") if side == "buy" else Decimal("0.99")
    price = client.price_to_precision(SYMBOL, str(MARK * factor))
    extra = {"timeInForce": "Ioc", "clientOrderId": cloid(n), **params}
    return await client.create_order(SYMBOL, "limit", side, float(amount), float(price), extra)


async def position_size(client: Any) -> Decimal:
    """The signed ETH position ccxt reads."""
    rows = await client.fetch_positions([SYMBOL])
    if not rows:
        return Decimal(0)
    row = rows[0]
    size = Decimal(str(row["contracts"]))
    return size if row["side"] == "long" else -size


async def test_load_markets_and_public_data(agent_client: Any) -> None:
    """Markets, precision, limits, funding rate and book come from meta and asset contexts."""
    market = agent_client.market(SYMBOL)
    assert market["baseId"] == "1"  # BTC is asset 0, as on the venue
    assert market["precision"]["amount"] == 0.0001
    assert market["precision"]["price"] == 0.1
    assert market["limits"]["cost"]["min"] == 10
    assert market["limits"]["leverage"]["max"] == 25
    rate = await agent_client.fetch_funding_rate(SYMBOL)
    assert rate["fundingRate"] == 0.0000125
    assert rate["markPrice"] == 2000
    assert rate["interval"] == "1h"
    book = await agent_client.fetch_order_book(SYMBOL)
    assert book["bids"][0][0] == 1999.99
    assert book["asks"][0][0] == 2000.01


async def test_open_grow_shrink_flatten(hl: HyperliquidHandle, agent_client: Any) -> None:
    """IOC limits capped at a slippage price move the position -0.5, -0.75, -0.5, 0."""
    opened = await ioc(agent_client, "sell", "0.5", 1)
    assert opened["filled"] == 0.5
    assert opened["clientOrderId"] == cloid(1)
    assert opened["status"] is None  # ccxt reads no status from a "filled" answer
    assert await position_size(agent_client) == Decimal("-0.5")
    await ioc(agent_client, "sell", "0.25", 2)
    assert await position_size(agent_client) == Decimal("-0.75")
    await ioc(agent_client, "buy", "0.25", 3, reduceOnly=True)
    assert await position_size(agent_client) == Decimal("-0.5")
    await ioc(agent_client, "buy", "0.5", 4, reduceOnly=True)
    assert await position_size(agent_client) == 0
    found = await agent_client.fetch_order("", SYMBOL, {"clientOrderId": cloid(1)})
    assert found["status"] == "closed"
    assert found["filled"] == 0.5
    assert found["id"] == opened["id"]
    balance = await agent_client.fetch_balance()
    assert Decimal(str(balance["USDC"]["total"])) == hl.emulator.venue.balance().wallet_balance


async def test_reduce_only_without_position_refused(agent_client: Any) -> None:
    """A reduce-only order with no position gets the venue's refusal text."""
    with pytest.raises(ccxt_async.InvalidOrder, match="Reduce only order would increase position"):
        await ioc(agent_client, "buy", "0.01", 5, reduceOnly=True)


async def test_min_order_value_refused(agent_client: Any) -> None:
    """0.004 ETH at ~2000 is under the $10 minimum order value."""
    with pytest.raises(ccxt_async.InvalidOrder, match=r"Order must have minimum value of \$10"):
        await ioc(agent_client, "buy", "0.004", 6)


async def test_ioc_that_cannot_match_is_refused(agent_client: Any) -> None:
    """An IOC buy below the ask answers "could not immediately match"; its cloid then reads
    as a rejected order."""
    with pytest.raises(ccxt_async.InvalidOrder, match="could not immediately match"):
        await agent_client.create_order(
            SYMBOL, "limit", "buy", 0.01, 1900, {"timeInForce": "Ioc", "clientOrderId": cloid(7)}
        )
    found = await agent_client.fetch_order("", SYMBOL, {"clientOrderId": cloid(7)})
    assert found["status"] == "rejected"


async def signed_order_request(client: Any, price: str, size: str, n: int) -> dict[str, Any]:
    """A signed order request whose price and size bypass ccxt's own rounding."""
    action = {
        "type": "order",
        "orders": [
            {
                "a": 1,
                "b": True,
                "p": price,
                "s": size,
                "r": False,
                "t": {"limit": {"tif": "Gtc"}},
                "c": cloid(n),
            }
        ],
        "grouping": "na",
    }
    nonce = client.milliseconds() + n
    return {"action": action, "nonce": nonce, "signature": client.sign_l1_action(action, nonce)}


async def test_tick_and_size_rules(agent_client: Any) -> None:
    """Six significant figures or more than szDecimals decimals get the venue's texts."""
    bad_price = await signed_order_request(agent_client, "1999.95", "0.01", 8)
    with pytest.raises(ccxt_async.InvalidOrder, match="Price must be divisible by tick size"):
        await agent_client.privatePostExchange(bad_price)
    bad_size = await signed_order_request(agent_client, "1999.9", "0.00001", 9)
    with pytest.raises(ccxt_async.InvalidOrder, match="Order has invalid size"):
        await agent_client.privatePostExchange(bad_size)
    fine = await signed_order_request(agent_client, "1900", "0.01", 10)
    answer = await agent_client.privatePostExchange(fine)
    assert "resting" in answer["response"]["data"]["statuses"][0]


async def test_duplicate_and_stale_nonces_refused(agent_client: Any) -> None:
    """The same signed request twice is a duplicate nonce; a nonce 3 days old is refused."""
    request = await signed_order_request(agent_client, "1900", "0.01", 11)
    await agent_client.privatePostExchange(request)
    with pytest.raises(ccxt_async.ExchangeError, match="Invalid nonce: duplicate nonce"):
        await agent_client.privatePostExchange(request)
    stale = await signed_order_request(agent_client, "1900", "0.01", 12)
    stale["nonce"] -= 3 * 86_400_000
    stale["signature"] = agent_client.sign_l1_action(stale["action"], stale["nonce"])
    with pytest.raises(ccxt_async.ExchangeError, match="outside the allowed window"):
        await agent_client.privatePostExchange(stale)


async def test_gtc_rests_and_cancels_by_cloid(agent_client: Any) -> None:
    """A GTC bid below the book rests, is listed and read by cloid, and cancels by cloid."""
    await agent_client.create_order(
        SYMBOL, "limit", "buy", 0.01, 1900, {"timeInForce": "Gtc", "clientOrderId": cloid(13)}
    )
    listed = await agent_client.fetch_open_orders(SYMBOL)
    assert [o["clientOrderId"] for o in listed] == [cloid(13)]
    assert listed[0]["price"] == 1900
    resting = await agent_client.fetch_order("", SYMBOL, {"clientOrderId": cloid(13)})
    assert resting["status"] == "open"
    assert resting["remaining"] == 0.01
    cancelled = await agent_client.cancel_order("", SYMBOL, {"clientOrderId": cloid(13)})
    assert cancelled["info"] == "success"
    assert await agent_client.fetch_open_orders(SYMBOL) == []
    after = await agent_client.fetch_order("", SYMBOL, {"clientOrderId": cloid(13)})
    assert after["status"] == "canceled"
    with pytest.raises(ccxt_async.OrderNotFound):
        await agent_client.cancel_order("", SYMBOL, {"clientOrderId": cloid(13)})


async def test_fills_and_funding_after_an_hour(hl: HyperliquidHandle, agent_client: Any) -> None:
    """A 0.5 short pays the taker fee and, one emulator hour later, receives hourly funding
    0.5 · 2000 · 0.0000125 = 0.0125 USDC."""
    start_ms = agent_client.milliseconds() - 1000
    await ioc(agent_client, "sell", "0.5", 14)
    hl.advance_clock(3600)
    trades = await agent_client.fetch_my_trades(SYMBOL)
    assert len(trades) == 1
    trade = trades[0]
    assert (trade["side"], trade["amount"], trade["takerOrMaker"]) == ("sell", 0.5, "taker")
    expected_fee = Decimal("0.5") * Decimal(str(trade["price"])) * Decimal("0.00045")
    assert Decimal(str(trade["fee"]["cost"])) == expected_fee.quantize(Decimal("0.000001"))
    assert trade["info"]["cloid"] == cloid(14)
    assert trade["info"]["dir"] == "Open Short"
    by_time = await agent_client.fetch_my_trades(SYMBOL, start_ms)
    assert [t["id"] for t in by_time] == [trade["id"]]
    funding = await agent_client.fetch_funding_history(SYMBOL, start_ms)
    assert len(funding) == 1
    assert Decimal(str(funding[0]["amount"])) == Decimal("0.0125")
    assert funding[0]["rate"] == 0.0000125


async def test_leverage_update(agent_client: Any) -> None:
    """updateLeverage sets isolated 5x (read back on the position); 50x is refused."""
    answer = await agent_client.set_leverage(5, SYMBOL, {"marginMode": "isolated"})
    assert answer["status"] == "ok"
    await ioc(agent_client, "sell", "0.1", 15)
    position = (await agent_client.fetch_positions([SYMBOL]))[0]
    assert position["leverage"] == 5
    assert position["marginMode"] == "isolated"
    with pytest.raises(ccxt_async.ExchangeError, match="Invalid leverage value"):
        await agent_client.set_leverage(50, SYMBOL, {"marginMode": "isolated"})


async def test_unknown_signer_refused(hl: HyperliquidHandle) -> None:
    """A key that is neither the master nor an approved agent gets the venue's text; ccxt's
    exceptions table maps it to InvalidOrder (not AuthenticationError), and nothing trades."""
    client = await client_for(hl, STRANGER)
    try:
        with pytest.raises(ccxt_async.InvalidOrder) as refused:
            await ioc(client, "sell", "0.5", 16)
    finally:
        await client.close()
    assert f"User or API Wallet {STRANGER.address.lower()} does not exist." in str(refused.value)
    assert not isinstance(refused.value, ccxt_async.AuthenticationError)
    assert hl.emulator.venue.order_log() == []


async def test_agent_orders_carry_no_builder(hl: HyperliquidHandle, agent_client: Any) -> None:
    """ccxt's default builder approval signed by an agent is refused (only a depositor may
    approve), so ccxt sends no builder field: the emulator saw none on any order."""
    await ioc(agent_client, "sell", "0.1", 17)
    await ioc(agent_client, "buy", "0.1", 18, reduceOnly=True)
    state = hl.emulator.state()
    assert state["builder_fields_seen"] == [None, None]
    assert state["builder_approvals"] == {}
    assert state["referrer_attempts"] == ["CCXT1"]


async def test_master_key_defaults_attach_ccxt_builder(hl: HyperliquidHandle) -> None:
    """With the master key ccxt approves its own builder at 0.01 % and attaches it (f = 10
    tenths of a bp) to every order: the default the bot's adapter must switch off."""
    client = await client_for(hl, MASTER)
    try:
        await ioc(client, "sell", "0.1", 19)
    finally:
        await client.close()
    state = hl.emulator.state()
    assert state["builder_approvals"] == {CCXT_BUILDER: 10}
    assert state["builder_fields_seen"] == [{"b": CCXT_BUILDER, "f": 10}]


async def test_vault_orders_act_on_the_vault() -> None:
    """With a vault the venue account is the vault: with vaultAddress the agent trades it;
    without, the master (no deposit of its own) is refused."""
    handle = await start_hyperliquid_emulator(
        "127.0.0.1", 0, MASTER.address, OffsetClock(), agents=[AGENT.address], vault=VAULT
    )
    handle.set_mark(MARK)
    client = await client_for(handle)
    try:
        await ioc(client, "sell", "0.1", 20, vaultAddress=VAULT)
        rows = await client.fetch_positions([SYMBOL], {"user": VAULT})
        assert rows[0]["contracts"] == 0.1
        with pytest.raises(ccxt_async.ExchangeError, match="Must deposit before performing"):
            await ioc(client, "sell", "0.1", 23)
    finally:
        await client.close()
        await handle.close()


async def test_faults_rate_limit_partial_fill_and_dropped_response(
    hl: HyperliquidHandle, agent_client: Any
) -> None:
    """429 is RateLimitExceeded; a partial IOC fills half; a dropped response leaves exactly
    one order, found by its cloid."""
    hl.admin("rate_limit", {"count": 1})
    with pytest.raises(ccxt_async.RateLimitExceeded):
        await agent_client.fetch_balance()
    hl.admin("partial_fill_next_ioc", {"fraction": "0.5"})
    partial = await ioc(agent_client, "sell", "0.5", 21)
    assert partial["filled"] == 0.25
    read = await agent_client.fetch_order("", SYMBOL, {"clientOrderId": cloid(21)})
    assert (read["filled"], read["status"]) == (0.25, "canceled")
    hl.admin("drop_next_order", {"mode": "reset"})
    with pytest.raises(ccxt_async.NetworkError):
        await ioc(agent_client, "sell", "0.1", 22)
    found = await agent_client.fetch_order("", SYMBOL, {"clientOrderId": cloid(22)})
    assert found["filled"] == 0.1
    cloids = [o.client_order_id for o in hl.emulator.venue.order_log()]
    assert cloids.count(cloid(22)) == 1


async def test_admin_http_moves_the_standalone_clock(hl: HyperliquidHandle) -> None:
    """POST /_emulator/advance moves an OffsetClock (the standalone clock) and mark/funding
    switches answer over HTTP."""
    before = hl.emulator.clock.now()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{hl.base_url}/_emulator/advance", json={"seconds": 3600}) as r:
            assert r.status == 200
            assert (await r.json())["ok"] is True
        async with session.post(f"{hl.base_url}/_emulator/mark", json={"price": "2100"}) as r:
            assert r.status == 200
        async with session.post(f"{hl.base_url}/_emulator/advance", json={"seconds": -1}) as r:
            assert r.status == 400
        async with session.post(f"{hl.base_url}/info", json={"type": "nope"}) as r:
            assert r.status == 422
    assert hl.emulator.clock.now() - before >= 3600
    assert hl.emulator.venue.quote().mark_price == Decimal(2100)
