"""A trade on the bot's account that is not the bot's (a manual trade in the venue's web app,
sent with no client order id) is someone else's fill: it is read, reported as foreign by the
position check under ``exchange.on_mismatch``, and reported again by a restarted ledger's
reconciliation, never an error that fails every read of the venue's fills.

Both venues through the real ccxt clients against their emulators, the real SQLite store:
Hyperliquid's manual order carries no cloid at all (its fills name only the oid); Binance
gives every order a client id, so its web-app order is sent without ``newClientOrderId``
(the venue makes one up)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import ccxt.async_support as ccxt_async
import pytest
from emulator_support import (
    HL_AGENT,
    HL_MASTER,
    HL_SYMBOL,
    SYMBOL,
    raw_ccxt_client,
    running_emulator,
    running_hyperliquid,
    started_exchange,
    started_hyperliquid_exchange,
)
from structlog.testing import capture_logs

from bot.clock import ManualClock
from bot.domain import OrderIntent, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.ccxt.hyperliquid import no_silent_builder
from bot.exchange.ccxt.order_ids import NO_CLIENT_ID
from bot.exchange.client_ids import client_order_id
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.exchange.emulators.hyperliquid import HyperliquidHandle
from bot.exchange.ledger import OrderLedger, Placed
from bot.exchange.position_check import OnMismatch
from bot.store.meta import Meta
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

BOT = "foreign-test"


@dataclass
class Venue:
    """One venue under test: the started adapter, its symbol, and a manual trade."""

    name: str
    exchange: CcxtPerpExchange
    symbol: str
    manual_sell: Callable[[float], Awaitable[None]]
    manual_resting_sell: Callable[[float], Awaitable[None]]  # a limit above the mark


async def hyperliquid_manual_sell(
    handle: HyperliquidHandle, amount: float, *, resting: bool = False
) -> None:
    """An IOC sell (``resting``: a GTC sell at 2050, above the mark) on HL_MASTER's account
    signed by its agent, as the web app sends it: no cloid."""
    client = ccxt_async.hyperliquid(
        {
            "walletAddress": HL_MASTER.address,
            "privateKey": HL_AGENT.key.hex(),
            "enableRateLimit": False,
            "options": {"builderFee": False, "approvedBuilderFee": False, "refSet": True},
        }
    )
    client.set_sandbox_mode(True)
    client.urls["api"] = handle.ccxt_urls()
    no_silent_builder(client)
    try:
        await client.load_markets()
        price, tif = (2050.0, "Gtc") if resting else (1900.0, "Ioc")
        await client.create_order(HL_SYMBOL, "limit", "sell", amount, price, {"timeInForce": tif})
    finally:
        await client.close()


async def binance_manual_sell(
    handle: EmulatorHandle, amount: float, *, resting: bool = False
) -> None:
    """A market sell (``resting``: a GTC limit sell at 2050) on the bot's account sent
    without ``newClientOrderId`` (the raw
    endpoint, and ccxt's own client id injection turned off: it would make one up with its
    broker prefix); the venue assigns the order an id of its own."""
    async with raw_ccxt_client(handle) as client:
        client.handle_client_order_id = lambda params, *_: params  # send none, as the web app
        order = {"symbol": "ETHUSDT", "side": "SELL", "quantity": str(amount)}
        if resting:
            order.update(type="LIMIT", price="2050", timeInForce="GTC")
        else:
            order.update(type="MARKET")
        await client.fapiPrivatePostOrder(order)


@asynccontextmanager
async def venue_named(name: str, clock: ManualClock) -> AsyncIterator[Venue]:
    """The started adapter of venue ``name`` on a fresh emulator."""
    if name == "hyperliquid":
        async with (
            running_hyperliquid(clock) as hl,
            started_hyperliquid_exchange(hl, clock) as exchange,
        ):
            yield Venue(
                name,
                exchange,
                HL_SYMBOL,
                lambda a: hyperliquid_manual_sell(hl, a),
                lambda a: hyperliquid_manual_sell(hl, a, resting=True),
            )
        return
    async with running_emulator(clock) as bn, started_exchange(bn, clock) as exchange:
        yield Venue(
            name,
            exchange,
            SYMBOL,
            lambda a: binance_manual_sell(bn, a),
            lambda a: binance_manual_sell(bn, a, resting=True),
        )


@pytest.fixture(params=["binanceusdm", "hyperliquid"])
async def venue(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[Venue]:
    async with venue_named(request.param, clock) as started:
        yield started


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "store.sqlite")
    yield opened
    await opened.close()


async def opened(
    venue: Venue, store: SqliteStore, clock: ManualClock, on_mismatch: OnMismatch
) -> OrderLedger:
    ledger = OrderLedger(venue.exchange, store, BOT, clock, on_mismatch=on_mismatch)
    await ledger.open()
    return ledger


def sell(venue: Venue, seq: int, amount: str) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id(BOT, 100, seq),
        symbol=venue.symbol,
        side=Side.SELL,
        amount_base=Decimal(amount),
        reduce_only=False,
        limit_price=Decimal(1900),
    )


async def store_fills(venue: Venue, store: SqliteStore) -> None:
    """The engine's history step: store the venue's fills, move the cursor."""
    fills = await venue.exchange.fills(0)
    for fill in fills:
        await store.record_fill(fill)
    await store.set(Meta.FILLS_SINCE_MS, max(f.timestamp for f in fills))


@pytest.mark.parametrize("on_mismatch", ["pause", "adopt"])
async def test_a_fill_without_a_client_id_is_foreign_not_an_error(
    venue: Venue, store: SqliteStore, clock: ManualClock, on_mismatch: OnMismatch
) -> None:
    """The bot sells 0.5 (checked, ok); a second later someone sells 0.3 by hand. The
    venue's fills still read (the manual one as foreign), the running check reports it and
    pauses or adopts."""
    ledger = await opened(venue, store, clock, on_mismatch)
    assert isinstance(await ledger.place(sell(venue, 1, "0.5")), Placed)
    await store_fills(venue, store)
    assert (await ledger.check_position((await venue.exchange.position()).size_base)).ok

    clock.advance(1.0)
    await venue.manual_sell(0.3)
    fills = await venue.exchange.fills(0)  # raised "has no client order id" before
    foreign = [f for f in fills if not f.client_order_id.startswith("hb-")]
    assert len(fills) == 2, fills
    assert len(foreign) == 1, fills
    if venue.name == "hyperliquid":
        assert foreign[0].client_order_id == NO_CLIENT_ID
    assert foreign[0].amount_base == Decimal("0.3")

    venue_position = (await venue.exchange.position()).size_base
    with capture_logs() as logs:
        check = await ledger.check_position(venue_position)
    assert venue_position == Decimal("-0.8")
    assert check.foreign_fills == tuple(foreign)
    assert check.expected_position_base == Decimal("-0.5")
    assert check.action == ("paused" if on_mismatch == "pause" else "adopted")
    alerts = [e for e in logs if e["event"] == "position.mismatch"]
    assert [e["foreign_fills"] for e in alerts] == [[foreign[0].trade_id]]


async def test_a_restart_after_a_fill_without_a_client_id_pauses_not_fails(
    venue: Venue, store: SqliteStore, clock: ManualClock
) -> None:
    """The manual trade happens while the bot is stopped: the restarted ledger's
    reconciliation reads it (no error), names it as no intent of this bot, and pauses."""
    ledger = await opened(venue, store, clock, "pause")
    assert isinstance(await ledger.place(sell(venue, 1, "0.5")), Placed)
    await store_fills(venue, store)
    clock.advance(1.0)
    await venue.manual_sell(0.3)

    restarted = await opened(venue, store, clock, "pause")
    reconciled = await restarted.reconcile_at_start()
    assert reconciled.action == "paused"
    assert [f.amount_base for f in reconciled.findings.unknown_fills] == [Decimal("0.3")]
    assert any("no intent of this bot" in m for m in reconciled.findings.mismatches)


async def test_a_resting_order_without_a_client_id_is_foreign_at_start(
    venue: Venue, store: SqliteStore, clock: ManualClock
) -> None:
    """An order placed by hand rests on the book when the bot starts: reconciliation reads
    it (no error), leaves it alone, reports it as not placed by this bot, and pauses."""
    await venue.manual_resting_sell(0.2)
    ledger = await opened(venue, store, clock, "pause")
    reconciled = await ledger.reconcile_at_start()
    assert reconciled.action == "paused"
    assert reconciled.cancelled == ()
    [order] = reconciled.findings.foreign_open_orders
    assert order.amount_base == Decimal("0.2")
    if venue.name == "hyperliquid":
        assert order.client_order_id == NO_CLIENT_ID
    assert any("was not placed by this bot" in m for m in reconciled.findings.mismatches)
    assert len(await venue.exchange.open_orders()) == 1
