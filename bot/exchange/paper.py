"""``PaperExchange``: the PerpExchange port over the in-process simulated venue.

Paper trading is an adapter, not a flag: the engine cannot tell it from the ccxt adapter. The
venue's state is written atomically to ``state_path`` after every change of the account
(an order, a fill, a funding payment, a liquidation, leverage or margin mode), and read back
on ``start``, so a restarted bot finds its position, orders, fills and funding again. The
mark, index and funding rate follow the market on every quote: they are written with the
next change, at most ``MARK_WRITE_S`` after they moved, and on ``close``, not on every tick.
After a crash the venue restarts from the last written mark (at most ``MARK_WRITE_S`` old):
funding that fell due while the bot was down settles at it, as the start-up position read
comes before the first tick sets the mark. The venue keeps the newest ``HISTORY_LIMIT``
orders, fills and funding payments (the bot reads only those since its cursors; its store
keeps them all), and converts only records it has not written before, so memory, the state
file and a write stay bounded over months (2,000 of each: a 1.5 MB file, ~30 ms a write). A
``read_only`` venue (``hedgebot snapshot``) reads the state and never writes it: the daemon
owns that file.

With ``exchange.paper.market_data`` set, the venue trades on a real venue's live public data
(:mod:`bot.exchange.paper_market`): its market rules at start, its mark, index, funding rate
and next funding time at every quote, its order book right before every order (filled
locally by walking the levels, with the configured taker fee). The pool price is then not
the mark (``set_reference_price`` does nothing). A failed live read raises and changes
nothing: no order is filled on a book that was not read. The simulated venue then runs on the
live venue's clock (``paper_market.VenueClock``, the time of its last book), not the host's:
funding settles when a read shows the live venue past its funding time, at the rate it
quoted for that time, on the position held then (``-size × mark × rate``: a short receives
a positive rate), once (the next funding time is in the state file). Fills are stamped with
that clock too, as the live venue would stamp them. A read that shows several funding times
passed at once (the bot was down) settles each at the last rate read: the one known.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from bot import errors
from bot.config import ExchangeConfig
from bot.domain import (
    AccountBalance,
    Fill,
    FundingPayment,
    MarketQuote,
    MarketRules,
    Order,
    OrderIntent,
    PerpPosition,
)
from bot.exchange.venue import SimVenue, VenueParams
from bot.ports import Clock
from bot.safety import MAX_JSON_DEPTH, describe_exc, loads_bounded

if TYPE_CHECKING:  # ccxt is imported only when live market data is configured
    from bot.exchange.paper_market import LiveMarketData

__all__ = ["HISTORY_LIMIT", "MARK_WRITE_S", "MAX_STATE_BYTES", "PaperExchange", "venue_params"]

# a state file is about 300 bytes per fill; this bounds what is read (a file written by a
# version that kept every fill may be larger than HISTORY_LIMIT makes new ones)
MAX_STATE_BYTES = 256 * 1024 * 1024
HISTORY_LIMIT = 2_000  # orders, fills and funding payments the paper venue keeps
MARK_WRITE_S = 60.0  # a moved mark alone is written at most this long (host seconds) after


def venue_params(config: ExchangeConfig) -> VenueParams:
    """Venue economics from the ``exchange`` config section."""
    paper = config.paper
    return VenueParams(
        symbol=config.symbol,
        initial_balance=paper.initial_balance,
        taker_fee_bps=paper.taker_fee_bps,
        maker_fee_bps=paper.maker_fee_bps,
        slippage_bps_base=paper.slippage_bps_base,
        slippage_bps_per_base=paper.slippage_bps_per_base,
        funding_rate=paper.funding_rate,
        funding_interval_s=paper.funding_interval_s,
        amount_step=paper.amount_step,
        price_tick=paper.price_tick,
        min_amount=paper.min_amount,
        min_notional=paper.min_notional,
        leverage=config.leverage,
        margin_mode=config.margin_mode,
    )


class PaperExchange:
    """Implements ``bot.ports.PerpExchange`` over a ``SimVenue`` persisted as JSON."""

    def __init__(
        self,
        venue: SimVenue,
        state_path: Path,
        basis_bps: Decimal = Decimal(0),
        *,
        read_only: bool = False,
        market: LiveMarketData | None = None,
    ) -> None:
        self.venue = venue
        self.state_path = state_path
        self.basis_bps = basis_bps
        self.read_only = read_only
        self.market = market
        self._started = False
        self._saved: tuple[object, ...] | None = None  # the venue's change key when written
        self._mark: Decimal | None = None  # the mark this adapter last set on the venue
        self._saved_mark: Decimal | None = None  # ... and the one in the file
        self._saved_at = 0.0  # time.monotonic() of the last write

    @classmethod
    def from_config(
        cls, config: ExchangeConfig, clock: Clock, *, read_only: bool = False
    ) -> PaperExchange:
        """A paper venue as configured (its state file from ``exchange.paper.state_path``,
        live market data from ``exchange.paper.market_data`` when set); ``read_only``: load
        the state, never write it (no file is created either)."""
        market = None
        if config.paper.market_data is not None:
            from bot.exchange.paper_market import LiveMarketData

            market = LiveMarketData(config.paper.market_data, config.symbol, clock)
        venue_clock = clock if market is None else market.clock  # the live venue's time
        return cls(
            SimVenue(venue_params(config), venue_clock),
            config.paper.state_path,
            basis_bps=config.paper.basis_bps,
            read_only=read_only,
            market=market,
        )

    def set_reference_price(self, price: Decimal) -> None:
        """Mark = reference (pool) price plus the configured basis; ignored on live market
        data (the live venue's mark is the mark). ``ConfigError`` when the price is below
        ``exchange.paper.price_tick`` (its mark would round to 0: a sub-cent pair such as a
        token priced in native ETH needs a finer tick)."""
        if self.market is not None:
            return
        mark = price * (1 + self.basis_bps / Decimal(10_000))
        tick = self.venue.params.price_tick
        if mark < tick:
            raise errors.ConfigError(
                f"exchange.paper.price_tick: the pool price {price:.6g} quote per base "
                f"is below the paper venue's price tick {tick}, so its mark would be 0; set "
                f"exchange.paper.price_tick to at most {Decimal(1).scaleb(mark.adjusted() - 6):f}"
            )
        self.venue.set_mark(mark)
        self._mark = mark
        self._save()

    async def _read_live(self) -> MarketQuote:
        """Read the live venue and move the simulated one to it: mark and index, the funding
        rate due at the live venue's next funding time (funding already due settles first),
        the book orders fill against. Raises the live read's ``ExchangeError``."""
        assert self.market is not None
        live = await self.market.read()
        venue, quote = self.venue, live.quote
        interval = self.market.funding_interval_s
        if interval is not None and interval != venue.params.funding_interval_s:
            venue.params = replace(venue.params, funding_interval_s=interval)
        venue.set_mark(quote.mark_price, quote.index_price)
        self._mark = quote.mark_price
        venue.set_funding_rate(quote.funding_rate, quote.next_funding_ts)
        venue.book = live.book
        return replace(venue.quote(), bid=quote.bid, ask=quote.ask)

    def _save(self, *, always: bool = False) -> None:
        """Write the state atomically (fsync + rename) when the account changed since the
        last write (``SimVenue.change_key``), when the mark moved and the last write is
        ``MARK_WRITE_S`` old, or ``always``; the history trimmed to ``HISTORY_LIMIT`` first."""
        if not self._started or self.read_only:
            return
        self.venue.trim_history(HISTORY_LIMIT)
        key = self.venue.change_key()
        now = time.monotonic()
        mark_due = self._mark != self._saved_mark and now - self._saved_at >= MARK_WRITE_S
        if key == self._saved and not always and not mark_due:
            return  # only the market moved, lately: the file holds the account as it is
        state = self.venue.to_state()
        path = self.state_path
        tmp = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(state, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            self._saved, self._saved_mark, self._saved_at = key, self._mark, now
        except OSError as exc:
            raise errors.ExchangeUnavailable(f"paper venue state {path}: {exc}") from exc

    async def start(self) -> None:
        """Restore the venue from ``state_path`` when it exists, then apply the configured
        leverage and margin mode (as the ccxt adapter sets them at start: a state written
        at another leverage does not keep it)."""
        self._load_state()
        params = self.venue.params
        self.venue.set_leverage(params.leverage)
        self.venue.margin_mode = params.margin_mode
        if self.market is not None:
            await self._start_live(self.market)
        self._started = True
        self._save(always=True)

    async def start_read_only(self) -> None:
        """Restore the venue from ``state_path`` as it is (its leverage and margin mode kept,
        not the configured ones) and never write the file, not even on close: a read-only
        command (``hedgebot status``) changes nothing. Live market data is read as at
        ``start`` (its rules and first quote, in memory)."""
        self.read_only = True
        self._load_state()
        if self.market is not None:
            await self._start_live(self.market)
        self._started = True

    def _load_state(self) -> None:
        """The venue as ``state_path`` holds it, when the file exists.

        Raises ``ExchangeUnavailable`` (one line naming the file and why, the venue left as
        configured) when it cannot be read or is not a state this venue wrote: larger than
        ``MAX_STATE_BYTES``, not UTF-8, not JSON, nested too deep, or a field of the wrong
        type or value (the file is anyone's bytes, so every parse failure is caught here).
        """
        if not self.state_path.exists():
            return
        if not self.state_path.is_file():  # a FIFO would block the open, a directory fail it
            raise errors.ExchangeUnavailable(
                f"paper venue state {self.state_path} is unreadable: not a regular file"
            )
        try:
            with self.state_path.open("rb") as handle:
                raw = handle.read(MAX_STATE_BYTES + 1)
            state = loads_bounded(raw, max_bytes=MAX_STATE_BYTES, max_depth=MAX_JSON_DEPTH)
            if not isinstance(state, dict):
                raise ValueError(f"not a JSON object but {type(state).__name__}")
            self.venue.load_state(state)
        except (
            OSError,
            ValueError,
            LookupError,
            TypeError,
            AttributeError,
            ArithmeticError,
        ) as exc:
            raise errors.ExchangeUnavailable(
                f"paper venue state {self.state_path} is unreadable: {describe_exc(exc, 200)}"
            ) from None

    async def _start_live(self, market: LiveMarketData) -> None:
        """The live market's rules replace the configured ones; its first quote sets the
        mark, so no order ever fills at a mark from an older run."""
        rules = await market.start()
        self.venue.params = replace(
            self.venue.params,
            amount_step=rules.amount_step,
            price_tick=rules.price_tick,
            min_amount=rules.min_amount,
            min_notional=rules.min_notional,
        )
        await self._read_live()

    async def close(self) -> None:
        """Persist the final state (the mark included); close the live market data client."""
        try:
            self._save(always=True)
        finally:
            if self.market is not None:
                await self.market.close()

    async def market_rules(self) -> MarketRules:
        """Precision and limits."""
        return self.venue.rules()

    async def quote(self) -> MarketQuote:
        """Mark, index and funding (read from the live venue first, when configured)."""
        quote = self.venue.quote() if self.market is None else await self._read_live()
        self._save()
        return quote

    async def mark_quote(self) -> MarketQuote:
        """The quote (in process: the book costs nothing)."""
        return await self.quote()

    async def order_book(self, quote: MarketQuote) -> MarketQuote:
        """``quote`` with the simulated book's bid/ask (the paper quote carries them)."""
        if quote.bid is not None and quote.ask is not None:
            return quote
        book = await self.quote()
        return replace(quote, bid=book.bid, ask=book.ask)

    async def position(self) -> PerpPosition:
        """The open position."""
        return self.venue.position()

    async def balance(self) -> AccountBalance:
        """Quote collateral."""
        return self.venue.balance()

    async def submit(self, intent: OrderIntent) -> Order:
        """Execute at once; the state is on disk before the order is returned. On live
        market data the book is read first: a failed read is ``ExchangeUnavailable`` and
        nothing is placed."""
        if self.market is not None:
            try:
                self.venue.book = await self.market.read_book()
            except errors.ExchangeUnavailable:
                raise
            except errors.ExchangeError as exc:
                raise errors.ExchangeUnavailable(
                    f"live book of {self.market.source} unreadable, nothing placed: {exc}"
                ) from exc
        order = self.venue.submit(intent)
        self._save()
        return order

    async def fetch_order(self, client_order_id: str) -> Order | None:
        """The order with this client id, or None."""
        return self.venue.order(client_order_id)

    async def open_orders(self) -> list[Order]:
        """Resting orders (market and IOC orders never rest)."""
        return self.venue.open_orders()

    async def cancel(self, client_order_id: str) -> None:
        """Cancel a resting order."""
        self.venue.cancel(client_order_id)
        self._save()

    async def fills(self, since_ms: int) -> list[Fill]:
        """Executions since ``since_ms``."""
        return self.venue.fills(since_ms)

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Funding since ``since_ms``."""
        payments = self.venue.funding_payments(since_ms)
        self._save()
        return payments
