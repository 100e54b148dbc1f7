"""The simulated USD-margined linear perpetual venue shared by paper mode and the emulator.

One account, one symbol, one-way mode. Market and IOC limit orders fill against the mark with a
size-dependent slippage (``slippage_bps_base + slippage_bps_per_base · size``) and the taker
fee. A GTC limit order that does not cross at once rests until the mark reaches its price and
then fills whole at that price with the maker fee (the bot itself trades IOC only; resting
orders exist so restarts with an open order can be tested). Funding settles at every funding
time on the position held at that moment (``-size · mark · rate``: a short receives a positive
rate). Margin is isolated with the position's initial margin ``|size| · entry / leverage`` as
its wallet, and the liquidation price comes from the maintenance brackets
(:mod:`bot.core.margin`). A mark that reaches the liquidation price closes the position at
that price and the isolated margin is lost.

With a ``book`` set (paper trading on live market data), market and IOC orders fill against
its levels instead (:func:`bot.exchange.venue_book.walk_book`: what the book cannot fill
expires). The venue is synchronous and deterministic given its clock; state round-trips
through ``to_state``/``from_state`` so a restarted bot finds the same account.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

from bot import errors
from bot.core.margin import liquidation_price_isolated
from bot.domain import (
    AccountBalance,
    Fill,
    FundingPayment,
    MarketQuote,
    MarketRules,
    Order,
    OrderIntent,
    OrderStatus,
    PerpPosition,
    Side,
)
from bot.exchange.venue_account import ZERO, Account, VenueParams, round_to
from bot.exchange.venue_book import OrderBook, slippage_bps, taker_fill
from bot.ports import Clock

__all__ = ["SimVenue", "VenueParams"]


class SimVenue:
    """A deterministic perp venue driven by an injected clock."""

    def __init__(self, params: VenueParams, clock: Clock) -> None:
        self.params = params
        self.clock = clock
        self.leverage = params.leverage
        self.margin_mode = params.margin_mode
        self._mark = params.initial_mark
        self._index = params.initial_mark
        self._funding_rate = params.funding_rate
        interval = params.funding_interval_s
        self._next_funding_s = (int(clock.now()) // interval + 1) * interval
        self._account = Account(wallet=params.initial_balance)
        self.liquidations = 0
        self.book: OrderBook | None = None  # live levels to fill against; None: the mark

    # ------------------------------------------------------------------ market data
    def rules(self) -> MarketRules:
        """Precision and limits of the symbol."""
        p = self.params
        return MarketRules(p.symbol, p.amount_step, p.price_tick, p.min_amount, p.min_notional)

    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def _rate_at(self, ts_s: int) -> Decimal:
        rate = self._funding_rate
        for start, path_rate in self.params.funding_rate_path:
            if start <= ts_s:
                rate = path_rate
        return rate

    def quote(self) -> MarketQuote:
        """Mark, index, the funding rate due next, and a one-tick book around the mark."""
        self.accrue_funding()
        tick = self.params.price_tick
        return MarketQuote(
            symbol=self.params.symbol,
            mark_price=self._mark,
            index_price=self._index,
            funding_rate=self._rate_at(self._next_funding_s),
            next_funding_ts=self._next_funding_s,
            timestamp=int(self.clock.now()),
            bid=self._mark - tick,
            ask=self._mark + tick,
        )

    def set_mark(self, price: Decimal, index: Decimal | None = None) -> None:
        """Move the mark (and index); settles funding due first, then checks liquidation."""
        if price <= 0:
            raise ValueError(f"mark must be > 0, got {price}")
        self.accrue_funding()
        self._mark = round_to(price, self.params.price_tick, ROUND_FLOOR)
        self._index = self._mark if index is None else index
        self._check_liquidation()
        self._match_resting()

    def set_funding_rate(self, rate: Decimal, next_funding_s: int | None = None) -> None:
        """The rate per interval for funding times not covered by the rate path; a
        ``next_funding_s`` after now (a live venue's schedule) becomes the next funding time."""
        self.accrue_funding()
        self._funding_rate = rate
        if next_funding_s is not None and next_funding_s > self.clock.now():
            self._next_funding_s = next_funding_s

    def set_leverage(self, leverage: int) -> None:
        """Leverage for the isolated margin of the position."""
        if not 1 <= leverage <= 125:
            raise errors.InvalidOrder(f"leverage {leverage} outside 1..125")
        self.leverage = leverage

    # ------------------------------------------------------------------ account
    def _position_margin(self) -> Decimal:
        return self._account.position_margin(self.leverage)

    def position(self) -> PerpPosition:
        """The open position (size 0 when flat)."""
        self.accrue_funding()
        a = self._account
        margin = self._position_margin()
        liq = (
            None
            if a.size == 0
            else liquidation_price_isolated(a.size, a.entry, margin, self.params.brackets)
        )
        return PerpPosition(
            symbol=self.params.symbol,
            size_base=a.size,
            entry_price=a.entry,
            mark_price=self._mark,
            unrealized_pnl=self._account.unrealized(self._mark),
            margin=margin,
            liquidation_price=liq,
            leverage=self.leverage,
        )

    def balance(self) -> AccountBalance:
        """Wallet (deposits + realised PnL - fees + funding) and what is free for new margin."""
        self.accrue_funding()
        wallet = self._account.wallet
        available = (
            wallet - self._position_margin() + min(ZERO, self._account.unrealized(self._mark))
        )
        return AccountBalance("USDT", wallet, max(ZERO, available))

    # ------------------------------------------------------------------ funding
    def accrue_funding(self) -> list[FundingPayment]:
        """Settle every funding time up to now on the position held at that time."""
        settled: list[FundingPayment] = []
        now = self.clock.now()
        a = self._account
        while self._next_funding_s <= now:
            ts = self._next_funding_s
            rate = self._rate_at(ts)
            payment = a.pay_funding(self.params.symbol, ts, rate, self._mark)
            if payment is not None:
                settled.append(payment)
            self._next_funding_s = ts + self.params.funding_interval_s
        return settled

    def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Funding settled at or after ``since_ms``."""
        self.accrue_funding()
        return [p for p in self._account.funding if p.timestamp >= since_ms]

    # ------------------------------------------------------------------ orders
    def order(self, client_order_id: str) -> Order | None:
        """The order with this client id, or None."""
        return self._account.orders.get(client_order_id)

    def open_orders(self) -> list[Order]:
        """Resting (GTC) orders; market and IOC orders never rest."""
        return [o for o in self._account.orders.values() if o.status is OrderStatus.OPEN]

    def order_log(self) -> list[Order]:
        """Every order the venue accepted, in order."""
        return list(self._account.orders.values())

    def cancel(self, client_order_id: str) -> Order:
        """Cancel a resting order."""
        order = self.order(client_order_id)
        if order is None or order.status is not OrderStatus.OPEN:
            raise errors.OrderNotFound(f"no open order {client_order_id}")
        cancelled = replace(order, status=OrderStatus.CANCELED, timestamp=self._now_ms())
        self._account.orders[client_order_id] = cancelled
        self._account.resting.pop(client_order_id, None)
        return cancelled

    def fills(self, since_ms: int) -> list[Fill]:
        """Executions at or after ``since_ms``."""
        return [f for f in self._account.fills if f.timestamp >= since_ms]

    def slippage_bps(self, amount_base: Decimal) -> Decimal:
        """Slippage of a market order of ``amount_base`` against the mark, in bps."""
        return slippage_bps(self.params, amount_base)

    def _validate(self, intent: OrderIntent) -> Decimal:
        """Checks the venue makes before accepting; returns the amount to fill."""
        p = self.params
        a = self._account
        if intent.client_order_id in a.orders:
            raise errors.InvalidOrder(f"duplicate client order id {intent.client_order_id}")
        if intent.symbol != p.symbol:
            raise errors.InvalidOrder(f"unknown symbol {intent.symbol}")
        amount = intent.amount_base
        if amount <= 0 or amount % p.amount_step != 0:
            raise errors.InvalidOrder(f"amount {amount} is not a positive multiple of the step")
        if amount < p.min_amount:
            raise errors.InvalidOrder(f"amount {amount} below min amount {p.min_amount}")
        signed = amount if intent.side is Side.BUY else -amount
        if intent.reduce_only:
            if a.size == 0 or (a.size > 0) == (signed > 0):
                raise errors.ReduceOnlyRejected("reduce-only order would increase the position")
            amount = min(amount, abs(a.size))
        elif amount * self._mark < p.min_notional:
            raise errors.MinNotionalError(
                f"notional {amount * self._mark} below min notional {p.min_notional}"
            )
        return amount

    def submit(
        self,
        intent: OrderIntent,
        fill_fraction: Decimal | None = None,
        time_in_force: Literal["IOC", "GTC"] = "IOC",
    ) -> Order:
        """Accept and execute an order at once (market, or IOC at ``limit_price``).

        ``fill_fraction`` (fault injection) fills only that part of an IOC order; the rest
        expires. A ``GTC`` limit order that does not cross rests (status OPEN) until the mark
        reaches its price. Raises the domain error the venue would answer with; a refused order
        leaves no trace, as on a real venue.
        """
        self.accrue_funding()
        amount = self._validate(intent)
        limit = intent.limit_price
        price, fill_amount = taker_fill(
            self.book, self._mark, self.params, intent.side, amount, limit
        )
        if fill_amount == 0 and limit is not None and time_in_force == "GTC":
            return self._rest(intent, amount, limit)
        if fill_amount > 0 and fill_fraction is not None:
            step = self.params.amount_step
            fill_amount = round_to(fill_amount * fill_fraction, step, ROUND_FLOOR)
        if fill_amount > 0:
            self._check_margin(intent.side, fill_amount, price)
        a = self._account
        order_id = str(a.next_order_id)
        a.next_order_id += 1
        fee = ZERO
        if fill_amount > 0:
            taker_bps = self.params.taker_fee_bps
            fee = a.apply_fill(intent, order_id, fill_amount, price, taker_bps, self._now_ms())
        if fill_amount == intent.amount_base:
            status = OrderStatus.FILLED
        elif fill_amount > 0:
            status = OrderStatus.PARTIALLY_FILLED
        else:
            status = OrderStatus.EXPIRED
        order = Order(
            client_order_id=intent.client_order_id,
            exchange_order_id=order_id,
            symbol=intent.symbol,
            side=intent.side,
            amount_base=intent.amount_base,
            filled_base=fill_amount,
            average_price=price if fill_amount > 0 else None,
            status=status,
            reduce_only=intent.reduce_only,
            fee_quote=fee,
            timestamp=self._now_ms(),
        )
        a.orders[intent.client_order_id] = order
        return order

    def _rest(self, intent: OrderIntent, amount: Decimal, limit: Decimal) -> Order:
        """Put a GTC limit order on the book (margin checked as if it filled at its limit)."""
        if limit % self.params.price_tick != 0:
            raise errors.InvalidOrder(f"price {limit} is not a multiple of the tick")
        self._check_margin(intent.side, amount, limit)
        return self._account.rest(intent, limit, self._now_ms())

    def _match_resting(self) -> None:
        """Fill every resting order the mark has reached, oldest first, at its limit price.

        A reduce-only order is capped at the position and expires when it would increase it;
        an order the margin no longer covers expires unfilled.
        """
        a = self._account
        for client_id, limit in list(a.resting.items()):
            order = a.orders[client_id]
            reached = self._mark <= limit if order.side is Side.BUY else self._mark >= limit
            if not reached:
                continue
            del a.resting[client_id]
            amount = order.amount_base
            signed = amount if order.side is Side.BUY else -amount
            if order.reduce_only:
                if a.size == 0 or (a.size > 0) == (signed > 0):
                    amount = ZERO
                amount = min(amount, abs(a.size))
            if amount > 0:
                try:
                    self._check_margin(order.side, amount, limit)
                except errors.InsufficientMargin:
                    amount = ZERO
            if amount == 0:
                a.orders[client_id] = replace(
                    order, status=OrderStatus.EXPIRED, timestamp=self._now_ms()
                )
                continue
            intent = OrderIntent(
                client_id, order.symbol, order.side, order.amount_base, order.reduce_only, limit
            )
            maker_bps = self.params.maker_fee_bps
            fee = a.apply_fill(
                intent, order.exchange_order_id, amount, limit, maker_bps, self._now_ms()
            )
            a.orders[client_id] = replace(
                order,
                filled_base=amount,
                average_price=limit,
                status=OrderStatus.FILLED
                if amount == order.amount_base
                else OrderStatus.PARTIALLY_FILLED,
                fee_quote=fee,
                timestamp=self._now_ms(),
            )

    def _check_margin(self, side: Side, amount: Decimal, price: Decimal) -> None:
        fee_bps = self.params.taker_fee_bps
        needed = self._account.margin_needed(side, amount, price, self.leverage, fee_bps)
        if needed > self.balance().available:
            raise errors.InsufficientMargin(
                f"needs {needed:.2f} margin, {self.balance().available:.2f} available"
            )

    def _check_liquidation(self) -> None:
        a = self._account
        if a.size == 0:
            return
        liq = liquidation_price_isolated(
            a.size, a.entry, self._position_margin(), self.params.brackets
        )
        if liq is None:
            return
        hit = self._mark >= liq if a.size < 0 else self._mark <= liq
        if not hit:
            return
        margin = self._position_margin()
        a.close_by_venue(self.params.symbol, liq, margin, self._now_ms())
        self.liquidations += 1

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        """Plain JSON-able state (Decimals as strings)."""
        return {
            "version": 1,
            "mark": str(self._mark),
            "index": str(self._index),
            "funding_rate": str(self._funding_rate),
            "next_funding_s": self._next_funding_s,
            "leverage": self.leverage,
            "margin_mode": self.margin_mode,
            "liquidations": self.liquidations,
            **self._account.to_state(),
        }

    def change_key(self) -> tuple[object, ...]:
        """Differs whenever :meth:`to_state` would, except for the mark, index and funding
        rate, which follow the market on every quote (``Account.change_key``)."""
        venue = (self._next_funding_s, self.leverage, self.margin_mode, self.liquidations)
        return (*venue, *self._account.change_key())

    def trim_history(self, limit: int) -> None:
        """Forget all but the newest ``limit`` orders, fills and funding payments."""
        self._account.trim(limit)

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``to_state`` wrote."""
        if state.get("version") != 1:
            raise ValueError(f"unknown venue state version {state.get('version')!r}")
        self._mark = Decimal(state["mark"])
        self._index = Decimal(state["index"])
        self._funding_rate = Decimal(state["funding_rate"])
        self._next_funding_s = int(state["next_funding_s"])
        self.leverage = int(state["leverage"])
        self.margin_mode = str(state["margin_mode"])
        self.liquidations = int(state.get("liquidations", 0))
        self._account = Account.from_state(state)
