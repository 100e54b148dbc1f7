"""The venues the ``PerpExchange`` contract suite runs against, one class per implementation.

Each ``VenueUnderTest`` owns a started adapter (``exchange``) over a simulated venue whose
own records are the truth the tests check (``sim``: the venue's order log, leverage, margin
mode), and knows how to move that venue (mark, funding rate, clock), how to restart the
adapter as a restarted bot would, and how to break it (the venue's own fault switches). A
feature a venue genuinely lacks is listed in ``missing`` with the reason, and the tests
that need it skip naming the venue and the feature.

A new venue is added here (a class and a line in ``VENUES``), never by writing tests.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import ccxt.async_support as ccxt_async
import pytest
from emulator_support import (
    HL_AGENT,
    HL_MASTER,
    HL_SYMBOL,
    hyperliquid_settings,
    running_hyperliquid,
)

from bot.clock import ManualClock
from bot.domain import Order, OrderIntent, Side
from bot.exchange.ccxt import CcxtPerpExchange, CcxtPerpSettings
from bot.exchange.client_ids import client_order_id, hex_client_id
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.emulators.hyperliquid import HyperliquidHandle
from bot.exchange.market_data_settings import MarketDataSettings
from bot.exchange.paper import PaperExchange
from bot.exchange.paper_market import LiveMarketData
from bot.exchange.venue import SimVenue, VenueParams
from bot.ports import PerpExchange

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

__all__ = ["LEVERAGE", "MARK", "VENUES", "VenueUnderTest", "open_venue"]

MARK = Decimal(2000)
LEVERAGE = 5  # what the bot asks for at start (the emulators' venues start at 3)
KEY, SECRET = "contract-key-0123456789", "contract-secret-0123456789"


def venue_clock() -> ManualClock:
    """A manual clock at the current second (the emulators sign and judge in its time)."""
    return ManualClock(t=float(int(time.time())))


@dataclass
class VenueUnderTest(ABC):
    """One ``PerpExchange`` implementation over a venue the test can see and move."""

    name: ClassVar[str]
    missing: ClassVar[Mapping[str, str]] = {}  # feature -> why this venue cannot do it
    # test function -> a known bug of this venue's adapter (the test must still fail: strict)
    known_bugs: ClassVar[Mapping[str, str]] = {}
    quote_precision: ClassVar[Decimal] = Decimal(0)  # how the venue rounds quote amounts

    workdir: Path
    clock: ManualClock = field(default_factory=venue_clock)
    leverage: int = LEVERAGE
    exchange: PerpExchange = field(init=False)

    def require(self, feature: str) -> None:
        """Skip the calling test, naming this venue and the feature it lacks."""
        if feature in self.missing:
            pytest.skip(f"{self.name}: no {feature} ({self.missing[feature]})")

    @property
    @abstractmethod
    def sim(self) -> SimVenue:
        """The simulated venue behind the adapter: its records are the truth."""

    @abstractmethod
    async def open(self) -> None:
        """Start the venue (servers) and a first adapter, started."""

    @abstractmethod
    async def new_adapter(self) -> PerpExchange:
        """A fresh adapter on the same venue state, started (as after a bot restart)."""

    async def restart(self, leverage: int | None = None) -> PerpExchange:
        """Close the adapter and start a new one (at ``leverage`` when given)."""
        await self.exchange.close()
        if leverage is not None:
            self.leverage = leverage
        self.exchange = await self.new_adapter()
        return self.exchange

    async def close(self) -> None:
        """Close the adapter and stop what ``open`` started."""
        await self.exchange.close()

    def client_id(self, label: str) -> str:
        """A client order id in the venue's format for ``label``."""
        return f"ct-{label}"

    def intent(
        self,
        label: str,
        side: Side,
        amount: Decimal | str,
        *,
        reduce_only: bool = False,
        limit_price: Decimal | None = None,
    ) -> OrderIntent:
        """An order intent on this venue's symbol."""
        return OrderIntent(
            self.client_id(label),
            self.sim.params.symbol,
            side,
            Decimal(amount),
            reduce_only,
            limit_price,
        )

    def orders_with_id(self, client_id: str) -> list[Order]:
        """Every order the venue itself accepted with ``client_id`` (its own log)."""
        return [o for o in self.sim.order_log() if o.client_order_id == client_id]

    async def place_resting(self, label: str, side: Side, amount: str, price: Decimal) -> str:
        """A GTC limit order resting on the venue (placed earlier, outside this adapter);
        returns its client id."""
        intent = self.intent(label, side, amount, limit_price=price)
        self.sim.submit(intent, time_in_force="GTC")
        return intent.client_order_id

    async def set_mark(self, price: Decimal) -> None:
        """Move the venue's mark (resting orders it reaches fill)."""
        self.sim.set_mark(price)

    async def set_funding_rate(self, rate: Decimal) -> None:
        """The venue's funding rate per interval from now on."""
        self.sim.set_funding_rate(rate)

    async def advance(self, seconds: float) -> None:
        """Move the venue's clock; funding that fell due settles."""
        self.clock.advance(seconds)

    def drop_next_order_response(self) -> None:
        """Accept the next order and lose its answer."""
        self.require("dropped response")

    def partial_fill_next_ioc(self, fraction: Decimal) -> None:
        """Fill only ``fraction`` of the next IOC order; the rest expires."""
        self.require("partial IOC fill")


@dataclass
class PaperVenue(VenueUnderTest):
    """The paper adapter over an in-process venue persisted as JSON."""

    name: ClassVar[str] = "paper"
    missing: ClassVar[Mapping[str, str]] = {
        "dropped response": "in-process calls have no response to lose",
        "partial IOC fill": "fills all or nothing against the mark's slippage model",
    }
    _venue: SimVenue | None = None

    @property
    def sim(self) -> SimVenue:
        assert self._venue is not None
        return self._venue

    @property
    def paper(self) -> PaperExchange:
        assert isinstance(self.exchange, PaperExchange)
        return self.exchange

    def params(self) -> VenueParams:
        return VenueParams(leverage=self.leverage, initial_mark=MARK)

    async def open(self) -> None:
        self.exchange = await self.new_adapter()

    async def new_adapter(self) -> PerpExchange:
        self._venue = SimVenue(self.params(), self.clock)
        adapter = PaperExchange(self._venue, self.workdir / "venue.json")
        await adapter.start()
        return adapter

    async def set_mark(self, price: Decimal) -> None:
        self.paper.set_reference_price(price)


@dataclass
class PaperLiveVenue(PaperVenue):
    """The paper adapter on live market data: the Binance emulator's public endpoints
    give the mark, funding and book; fills are simulated locally."""

    name: ClassVar[str] = "paper-live"
    missing: ClassVar[Mapping[str, str]] = {
        "dropped response": "its orders fill in-process: there is no response to lose",
        "partial IOC fill": (
            "its live book (the Binance emulator's) holds 1000 base a side, so an IOC of a "
            "few base fills whole; test_paper_market fills past the book"
        ),
    }
    market: EmulatorHandle | None = None

    async def open(self) -> None:
        self.market = await start_emulator(
            "127.0.0.1", 0, KEY, SECRET, VenueParams(initial_mark=MARK), self.clock
        )
        self.market.set_mark(MARK)
        await super().open()

    async def new_adapter(self) -> PerpExchange:
        assert self.market is not None
        settings = MarketDataSettings(
            exchange_id="binanceusdm", urls=self.market.ccxt_urls(), timeout_ms=5000
        )
        self._venue = SimVenue(self.params(), self.clock)
        live = LiveMarketData(settings, self._venue.params.symbol, self.clock)
        adapter = PaperExchange(self._venue, self.workdir / "venue.json", market=live)
        await adapter.start()
        return adapter

    async def set_mark(self, price: Decimal) -> None:
        assert self.market is not None
        self.market.set_mark(price)
        await self.exchange.quote()  # the paper venue moves when it reads the live one

    async def set_funding_rate(self, rate: Decimal) -> None:
        assert self.market is not None
        self.market.set_funding_rate(rate)
        await self.exchange.quote()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.market is not None:
                await self.market.close()


@dataclass
class BinanceVenue(VenueUnderTest):
    """The ccxt adapter with the real ``binanceusdm`` client against the Binance emulator."""

    name: ClassVar[str] = "binance-emulator"
    handle: EmulatorHandle | None = None

    @property
    def emulator(self) -> EmulatorHandle:
        assert self.handle is not None
        return self.handle

    @property
    def sim(self) -> SimVenue:
        return self.emulator.venue

    async def open(self) -> None:
        self.handle = await start_emulator(
            "127.0.0.1", 0, KEY, SECRET, VenueParams(initial_mark=MARK), self.clock
        )
        self.handle.set_mark(MARK)
        self.exchange = await self.new_adapter()

    async def new_adapter(self) -> PerpExchange:
        settings = CcxtPerpSettings(
            exchange_id="binanceusdm",
            symbol=self.sim.params.symbol,
            api_key=KEY,
            api_secret=SECRET,
            leverage=self.leverage,
            margin_mode="isolated",
            urls=self.emulator.ccxt_urls(),
            timeout_ms=5000,
            enable_rate_limit=False,
        )
        adapter = CcxtPerpExchange(settings, self.clock)
        await adapter.start()
        return adapter

    async def set_mark(self, price: Decimal) -> None:
        self.emulator.set_mark(price)

    async def set_funding_rate(self, rate: Decimal) -> None:
        self.emulator.set_funding_rate(rate)

    async def advance(self, seconds: float) -> None:
        self.emulator.advance_clock(seconds)

    def drop_next_order_response(self) -> None:
        self.emulator.drop_next_order_response("reset")

    def partial_fill_next_ioc(self, fraction: Decimal) -> None:
        self.emulator.partial_fill_next_ioc(fraction)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.emulator.close()


@dataclass
class HyperliquidVenue(VenueUnderTest):
    """The ccxt adapter with the real ``hyperliquid`` client (agent wallet) against the
    Hyperliquid emulator. Client ids are our text ids; the venue holds their 128-bit hex
    form (``client_ids.hex_client_id``). Hyperliquid has no market order: an intent without
    a price carries an IOC cap 5 % past the mark, as the engine's always do."""

    name: ClassVar[str] = "hyperliquid-emulator"
    quote_precision: ClassVar[Decimal] = Decimal("0.000001")  # fees on the wire: 6 places
    handle: HyperliquidHandle | None = None
    _running: AbstractAsyncContextManager[HyperliquidHandle] | None = None
    _labels: dict[str, int] = field(default_factory=dict)

    @property
    def emulator(self) -> HyperliquidHandle:
        assert self.handle is not None
        return self.handle

    @property
    def sim(self) -> SimVenue:
        return self.emulator.emulator.venue

    async def open(self) -> None:
        self._running = running_hyperliquid(self.clock, mark=MARK)
        self.handle = await self._running.__aenter__()
        self.exchange = await self.new_adapter()

    async def new_adapter(self) -> PerpExchange:
        settings = hyperliquid_settings(self.emulator, leverage=self.leverage, timeout_ms=5000)
        adapter = CcxtPerpExchange(settings, self.clock)
        await adapter.start()
        return adapter

    def client_id(self, label: str) -> str:
        number = self._labels.setdefault(label, len(self._labels) + 1)
        return client_order_id("contract", number, 1)

    def intent(
        self,
        label: str,
        side: Side,
        amount: Decimal | str,
        *,
        reduce_only: bool = False,
        limit_price: Decimal | None = None,
    ) -> OrderIntent:
        if limit_price is None:
            mark = self.sim.quote().mark_price
            limit_price = mark * (Decimal("1.05") if side is Side.BUY else Decimal("0.95"))
            limit_price = limit_price.quantize(Decimal(1))
        return super().intent(label, side, amount, reduce_only=reduce_only, limit_price=limit_price)

    def orders_with_id(self, client_id: str) -> list[Order]:
        return super().orders_with_id(hex_client_id(client_id))

    async def place_resting(self, label: str, side: Side, amount: str, price: Decimal) -> str:
        """Through the venue's own API (the emulator keeps cloids of orders it was sent):
        the bare ccxt client signing with the agent, a GTC limit with the hex cloid."""
        client_id = self.client_id(label)
        client = ccxt_async.hyperliquid(
            {
                "walletAddress": HL_MASTER.address,
                "privateKey": HL_AGENT.key.hex(),
                "enableRateLimit": False,
            }
        )
        client.set_sandbox_mode(True)
        client.urls["api"] = self.emulator.ccxt_urls()
        try:
            await client.load_markets()
            params = {"timeInForce": "Gtc", "clientOrderId": hex_client_id(client_id)}
            await client.create_order(
                HL_SYMBOL, "limit", side.value, float(amount), float(price), params
            )
        finally:
            await client.close()
        return client_id

    async def set_mark(self, price: Decimal) -> None:
        self.emulator.set_mark(price)

    async def set_funding_rate(self, rate: Decimal) -> None:
        self.emulator.set_funding_rate(rate)

    async def advance(self, seconds: float) -> None:
        self.emulator.advance_clock(seconds)

    def drop_next_order_response(self) -> None:
        self.emulator.admin("drop_next_order", {"mode": "reset"})

    def partial_fill_next_ioc(self, fraction: Decimal) -> None:
        self.emulator.admin("partial_fill_next_ioc", {"fraction": str(fraction)})

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._running is not None:
                await self._running.__aexit__(None, None, None)


VENUES: dict[str, type[VenueUnderTest]] = {
    PaperVenue.name: PaperVenue,
    PaperLiveVenue.name: PaperLiveVenue,
    BinanceVenue.name: BinanceVenue,
    HyperliquidVenue.name: HyperliquidVenue,
}


async def open_venue(name: str, workdir: Path) -> VenueUnderTest:
    """The venue ``name``, opened (servers up, first adapter started)."""
    venue = VENUES[name](workdir)
    await venue.open()
    return venue
