"""``PerpExchange`` over ccxt async for USD-margined linear perpetuals (live, demo, emulator).

The I/O of one symbol: lifecycle, reads, orders, fills and funding. What it is built from and
the per-exchange switches are in ``settings``/``client``; ccxt exceptions become ``bot.errors``
only in ``calls`` (``CcxtCalls.map_error``); answers are validated by ``parse``/``history``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import ccxt
import structlog

from bot import errors
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
from bot.exchange.ccxt import parse
from bot.exchange.ccxt.account import apply_account_settings, require_one_way_mode
from bot.exchange.ccxt.book import read_book, with_book
from bot.exchange.ccxt.calls import CALL_FAILURES, CcxtCalls
from bot.exchange.ccxt.client import build_client
from bot.exchange.ccxt.closing import close_client
from bot.exchange.ccxt.dialect import VenueDialect, dialect_for
from bot.exchange.ccxt.errors import is_duplicate_client_id, is_order_not_found
from bot.exchange.ccxt.fields import mapping, required
from bot.exchange.ccxt.history import fee_cost, fill_from_ccxt, order_from_ccxt
from bot.exchange.ccxt.http import bounded_session
from bot.exchange.ccxt.hyperliquid import (
    approve_configured_builder,
    builder_fee_quote,
    check_signer,
)
from bot.exchange.ccxt.market import read_market, rules_of
from bot.exchange.ccxt.marks import SeenMark, flat_position
from bot.exchange.ccxt.order_ids import VenueOrderIds, average_from_trades, fee_in_quote
from bot.exchange.ccxt.paging import funding_since, rows, windowed
from bot.exchange.ccxt.settings import (
    RAW_SIZE_FIELDS,
    REALIZED_PNL_FIELDS,
    WALLET_IN_INFO,
    AccountSetup,
    CcxtPerpSettings,
)
from bot.ports import Clock

__all__ = ["CcxtPerpExchange"]

_log = structlog.get_logger("hedgebot.exchange.ccxt_perp")


class CcxtPerpExchange:
    """A linear USD-margined perpetual on one symbol, through ccxt."""

    def __init__(self, settings: CcxtPerpSettings, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._calls = CcxtCalls(settings)
        self._session: Any = None  # the bounded aiohttp session given to ccxt
        self._market: dict[str, Any] = {}
        self._symbol = settings.symbol  # ccxt's unified symbol once start() has read the market
        self._rules: MarketRules | None = None
        self._contract_size = Decimal(1)
        self._order_ids = VenueOrderIds(self._calls, lambda cid: self._dialect.own_client_id(cid))
        self._dialect = VenueDialect()  # the venue's ids, prices and statuses (after start)
        self.account_setup: AccountSetup | None = None
        self._mark_seen = SeenMark()  # a flat position's mark: the quote's of this tick

    rest_calls = property(lambda self: self._calls.rest, doc="HTTP requests sent (RestCalls)")

    @property
    def venue_id(self) -> str:
        """The venue's ccxt id (``binanceusdm``, ``hyperliquid``), for alerts."""
        return self._settings.exchange_id

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Load markets, sync the clock, check one-way mode, apply margin mode and leverage
        (``account.apply_account_settings``; what was accepted is ``account_setup``), approve
        a configured builder.

        Raises ``ConfigError`` for an unknown or non-linear-perpetual symbol or a hedge-mode
        account, and the mapped ``ExchangeError`` when the venue cannot be read.
        """
        await self._open(read_only=False)

    async def start_read_only(self) -> None:
        """Load markets, sync the clock and read the market's rules, and nothing else: no
        leverage, margin mode or builder approval is sent, so a read-only command
        (``hedgebot status``) leaves the account as it is. ``account_setup`` stays None.
        Raises as ``start``."""
        await self._open(read_only=True)

    async def _open(self, *, read_only: bool) -> None:
        self._calls.client = build_client(self._settings, self._clock)
        # ccxt reads through a session that refuses oversized answers; ccxt leaves it open
        client = self._calls.client
        self._session = client.session = bounded_session(self._settings.max_response_bytes)
        client.own_session = False
        try:
            await self._calls.call(self._calls.api().load_markets)
            await self._calls.sync_time()
            market = read_market(self._calls.api(), self._settings)
            self._market = dict(market)
            # a market id ("ETHUSDT") is accepted by ccxt.market(), but ccxt reports positions,
            # orders and trades under the unified symbol: use that one everywhere
            self._symbol = str(market["symbol"])
            if self._symbol != self._settings.symbol:
                _log.info(
                    "exchange.symbol_normalised",
                    configured=self._settings.symbol,
                    symbol=self._symbol,
                )
            self._contract_size = parse.contract_size_of(market, self._symbol)
            self._rules = rules_of(self._calls.api(), market, self._symbol, self._contract_size)
            self._dialect = dialect_for(self._settings.exchange_id, market)
            if not read_only:
                await check_signer(self._calls)  # before any signed action
                await require_one_way_mode(self._calls, self._symbol)
                self.account_setup = await apply_account_settings(self._calls, self._symbol)
                await approve_configured_builder(self._calls)
        except BaseException:
            await self.close()
            raise

    def _now_ms(self) -> int:
        if self._clock is not None:
            return int(self._clock.now() * 1000)
        return int(self._calls.api().milliseconds())

    async def close(self) -> None:
        """Close the client and its HTTP session; no SSL grace for plain http (closing.py)."""
        client, self._calls.client = self._calls.client, None
        session, self._session = self._session, None
        await close_client(client, session, self._settings.urls)

    # ------------------------------------------------------------------- reads

    async def market_rules(self) -> MarketRules:
        """Precision and limits read from the ccxt market at start."""
        if self._rules is None:
            raise errors.ExchangeError("market_rules() before start()")
        return self._rules

    async def quote(self) -> MarketQuote:
        """Mark, index and funding from the funding-rate endpoint; best bid/ask from the book.
        Raises ``VenueDataError`` when a field is missing or invalid (``ccxt_parse``)."""
        return await self._with_book(await self._funding_answer())

    async def _with_book(self, funding: Mapping[str, Any]) -> MarketQuote:
        book = await self._book()
        funding = self._dialect.funding_answer(funding, book)
        return parse.quote_from_ccxt(funding, book, symbol=self._symbol, now_ms=self._now_ms())

    async def _book(self) -> Mapping[str, Any]:
        book = await read_book(self._calls, self._symbol)
        self._dialect.saw_book(book, self._now_ms())
        return book

    async def mark_quote(self) -> MarketQuote:
        """``quote`` without bid/ask: one request (a venue dated by its book, Hyperliquid,
        reads it too when its clock is not known well enough: ``VenueClock``)."""
        funding = await self._funding_answer()
        dated = self._dialect.dated_by_clock(funding, self._now_ms())
        if dated is None:
            return await self._with_book(funding)
        return parse.mark_quote_from_ccxt(dated, symbol=self._symbol, now_ms=self._now_ms())

    async def order_book(self, quote: MarketQuote) -> MarketQuote:
        """``quote`` with the book's best bid/ask: one request (``book.with_book``)."""
        return with_book(quote, await self._book(), symbol=self._symbol)

    async def _funding_answer(self) -> Mapping[str, Any]:
        raw = await self._calls.call(self._calls.api().fetch_funding_rate, self._symbol)
        funding = mapping(raw, "funding")
        self._mark_seen.saw(required(funding, "markPrice", "mark", sign="positive"))
        return funding

    async def position(self) -> PerpPosition:
        """The signed position (base units, short < 0); flat when no row or zero contracts,
        then at the mark this tick's quote read (``marks``). Raw rows checked (``ccxt_raw``);
        an unsizable row is ``VenueDataError``, rows open on other symbols ``ExchangeError``."""
        symbol = self._symbol
        raw_positions = await self._calls.call(self._calls.api().fetch_positions, [symbol])
        raw_size = RAW_SIZE_FIELDS.get(self._settings.exchange_id)
        row = parse.hedge_position_row(raw_positions, symbol, self._contract_size, raw_size)
        s = self._settings  # before start (read-only commands): the configured settings
        account = self.account_setup or AccountSetup(s.leverage, s.margin_mode)
        if row is not None:
            return parse.position_from_ccxt(
                row, symbol=symbol, contract_size=self._contract_size, account=account,
                raw_size=raw_size,
            )  # fmt: skip
        mark = self._mark_seen.fresh()  # the quote's of this tick, else read now
        if mark is None:
            mark = required(await self._funding_answer(), "markPrice", "funding", sign="positive")
        return flat_position(symbol, mark, account.leverage)

    async def balance(self) -> AccountBalance:
        """Settlement-currency collateral: wallet balance (no unrealized PnL) and available."""
        raw = mapping(await self._calls.call(self._calls.api().fetch_balance), "balance")
        settle_id = self._market.get("settleId")
        return parse.balance_from_ccxt(
            raw,
            settle=str(self._market.get("settle") or "USDT"),
            settle_id=str(settle_id) if settle_id is not None else None,
            wallet_in_info=self._settings.exchange_id in WALLET_IN_INFO,
        )

    # ------------------------------------------------------------------ orders

    async def submit(self, intent: OrderIntent) -> Order:
        """IOC limit (``limit_price`` is the slippage cap) or market order, idempotent by id."""
        if intent.symbol not in (self._symbol, self._settings.symbol):
            raise errors.InvalidOrder(f"{intent.symbol}: this adapter trades {self._symbol}")
        client = self._calls.api()
        contracts = intent.amount_base / self._contract_size
        symbol = self._symbol
        try:
            rounded = Decimal(client.amount_to_precision(symbol, float(contracts)))
        except ccxt.BaseError as exc:
            raise self._calls.map_error(exc) from exc
        if rounded != contracts:
            raise errors.InvalidOrder(
                f"amount {intent.amount_base} is not a multiple of the venue step"
            )
        params: dict[str, Any] = {
            "clientOrderId": self._dialect.venue_client_id(intent.client_order_id),
            "reduceOnly": intent.reduce_only,
        }
        order_type, price = "market", None
        limit = self._dialect.limit_price(intent, (await self.market_rules()).price_tick)
        if limit is not None:
            order_type, price = "limit", float(limit)
            params["timeInForce"] = "IOC"
        _log.info(
            "order.submitting",
            client_order_id=intent.client_order_id,
            side=intent.side.value,
            amount_base=str(intent.amount_base),
            limit_price=str(limit) if limit is not None else None,
            reduce_only=intent.reduce_only,
            venue_client_id=params["clientOrderId"],
        )
        try:
            # a timestamp refusal (-1021) happens before any side effect: re-synced and re-sent
            raw = await self._calls.request(
                client.create_order,
                symbol,
                order_type,
                intent.side.value,
                float(contracts),
                price,
                params,
            )
            answer = self._dialect.settled_answer(mapping(raw, "order answer"), intent)
            order = self._order_from_ccxt(answer, intent)
        except CALL_FAILURES as exc:
            mapped = self._calls.map_error(
                exc, client_order_id=intent.client_order_id, order_sent=True
            )
            if is_duplicate_client_id(exc):
                existing = await self._order_behind_duplicate(intent.client_order_id)
                if existing is not None:
                    _log.info("order.duplicate_client_id", client_order_id=intent.client_order_id)
                    return existing
            # the caller reports the failure once (order.rejected, tick.failed, an alert)
            _log.debug(
                "order.failed",
                client_order_id=intent.client_order_id,
                error=type(mapped).__name__,
                reason=str(mapped),
            )
            raise mapped from exc
        _log.info(
            "order.submitted",
            client_order_id=order.client_order_id,
            exchange_order_id=order.exchange_order_id,
            status=order.status.value,
            filled_base=str(order.filled_base),
            average_price=str(order.average_price) if order.average_price is not None else None,
        )
        return order

    async def _order_behind_duplicate(self, client_order_id: str) -> Order | None:
        """The order a duplicate-client-id refusal points at; None when it cannot be read now
        (the caller then reports the outcome unknown: the order may well exist)."""
        try:
            return await self.fetch_order(client_order_id)
        except errors.ExchangeError as exc:  # the caller reports the outcome unknown
            _log.debug(
                "order.duplicate_lookup_failed",
                client_order_id=client_order_id,
                error=type(exc).__name__,
                reason=str(exc),
            )
            return None

    async def fetch_order(self, client_order_id: str) -> Order | None:
        """The order with this client id, or None when the venue does not know it."""
        client = self._calls.api()
        try:
            raw = await self._calls.request(
                client.fetch_order,
                None,
                self._symbol,
                {"clientOrderId": self._dialect.venue_client_id(client_order_id)},
            )
            order = await average_from_trades(self._calls, self._symbol, mapping(raw, "order"))
            return self._order_from_ccxt(order)
        except CALL_FAILURES as exc:
            if is_order_not_found(exc):
                return None
            raise self._calls.map_error(exc) from exc

    async def open_orders(self) -> list[Order]:
        """Resting orders on the hedge symbol (one placed by hand: ``NO_CLIENT_ID``)."""
        raw_orders = await self._calls.call(self._calls.api().fetch_open_orders, self._symbol)
        return [self._order_from_ccxt(self._order_ids.named(r)) for r in rows(raw_orders)]

    async def cancel(self, client_order_id: str) -> None:
        """Cancel a resting order; ``bot.errors.OrderNotFound`` when none is resting."""
        await self._calls.call(
            self._calls.api().cancel_order,
            None,
            self._symbol,
            {"clientOrderId": self._dialect.venue_client_id(client_order_id)},
        )

    async def fills(self, since_ms: int) -> list[Fill]:
        """Our executions since ``since_ms``, in time order, each tied to its client order id
        (a venue's liquidation fill marked in the fill: the dialect's id for it)."""
        trades = await windowed(
            self._calls, self._calls.api().fetch_my_trades, self._symbol, since_ms
        )
        venue_made = [self._dialect.venue_made_client_id(t) for t in trades]  # liquidations
        looked_up = [t for t, v in zip(trades, venue_made, strict=True) if v is None]
        order_ids = {str(t["order"]) for t in looked_up if t.get("order") is not None}
        await self._order_ids.learn(order_ids, self._symbol)
        result: list[Fill] = []
        for t, venue_id in zip(trades, venue_made, strict=True):
            fill, currency = fill_from_ccxt(
                t,
                symbol=self._symbol,
                contract_size=self._contract_size,
                client_order_id=venue_id or self._order_ids.client_id_of(t),
                realized_pnl_key=REALIZED_PNL_FIELDS.get(self._settings.exchange_id),
            )
            fee = self._fee_in_quote(fill.fee_quote, currency, ref=f"trade {fill.trade_id}")
            fee += builder_fee_quote(self._settings, fill.amount_base, fill.price)
            result.append(replace(fill, fee_quote=fee))
        return sorted(result, key=lambda f: (f.timestamp, f.trade_id))

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Funding since ``since_ms`` (``paging.funding_since``)."""
        step = self._rules.amount_step if self._rules is not None else Decimal("1e-8")
        return await funding_since(self._calls, self._settings, self._symbol, step, since_ms)

    def _order_from_ccxt(self, raw: Mapping[str, Any], intent: OrderIntent | None = None) -> Order:
        raw = self._dialect.answer_ids(raw)
        self._order_ids.remember(raw)
        order, currency = order_from_ccxt(
            raw,
            symbol=self._symbol,
            contract_size=self._contract_size,
            intent=intent,
            now_ms=self._now_ms(),
        )
        fee = self._fee_in_quote(order.fee_quote, currency, ref=f"order {order.exchange_order_id}")
        return replace(order, fee_quote=fee)

    def _fee_quote(self, fee: object, *, ref: str = "") -> Decimal:
        """A ccxt fee structure in quote (see ``_fee_in_quote``)."""
        return self._fee_in_quote(*fee_cost(fee, ref or "fee"), ref=ref)

    def _fee_in_quote(self, cost: Decimal, currency: object, *, ref: str) -> Decimal:
        return fee_in_quote(cost, currency, self._market, ref=ref)
