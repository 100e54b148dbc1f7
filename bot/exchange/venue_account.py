"""The simulated venue's account: one-way position, wallet, orders, fills and funding.

The bookkeeping half of :mod:`bot.exchange.venue` (which owns the market, matching and
margin rules): a fill moves the position and entry price (weighted on growth, reset on a
flip) and books realized PnL and the fee; a venue close (liquidation) books its own order and
fill; the whole account round-trips through plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.core.margin import ETHUSDT_BRACKETS, MaintenanceBracket
from bot.domain import Fill, FundingPayment, Order, OrderIntent, OrderStatus, Side
from bot.records import fill_from, funding_from, order_from, plain

__all__ = ["BPS", "ZERO", "Account", "VenueParams", "round_to"]

ZERO = Decimal(0)
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class VenueParams:
    """Economics and limits of the simulated venue."""

    symbol: str = "ETH/USDT:USDT"
    initial_balance: Decimal = Decimal(100_000)
    taker_fee_bps: Decimal = Decimal(5)
    maker_fee_bps: Decimal = Decimal(2)
    slippage_bps_base: Decimal = Decimal(1)
    slippage_bps_per_base: Decimal = Decimal("0.05")
    funding_rate: Decimal = Decimal("0.0001")  # per interval
    funding_interval_s: int = 8 * 3600
    # (start unix s, rate) steps; the last step at or before a funding time sets its rate
    funding_rate_path: tuple[tuple[int, Decimal], ...] = ()
    initial_mark: Decimal = Decimal(2000)
    amount_step: Decimal = Decimal("0.001")
    price_tick: Decimal = Decimal("0.01")
    min_amount: Decimal = Decimal("0.001")
    min_notional: Decimal = Decimal(5)
    leverage: int = 3
    margin_mode: str = "isolated"
    brackets: tuple[MaintenanceBracket, ...] = ETHUSDT_BRACKETS


def round_to(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """``value`` rounded to a multiple of ``step`` in the direction ``rounding``."""
    return (value / step).to_integral_value(rounding=rounding) * step


@dataclass
class Account:
    wallet: Decimal
    size: Decimal = ZERO
    entry: Decimal = ZERO
    orders: dict[str, Order] = field(default_factory=dict)
    resting: dict[str, Decimal] = field(default_factory=dict)  # GTC client id -> limit price
    fills: list[Fill] = field(default_factory=list)
    funding: list[FundingPayment] = field(default_factory=list)
    next_order_id: int = 1
    next_trade_id: int = 1
    # each kept record's plain form, by identity (records are frozen: a changed order is a
    # new object), so a save converts only what changed since the last one
    _plain: dict[int, tuple[object, Any]] = field(default_factory=dict, repr=False, compare=False)

    def position_margin(self, leverage: int) -> Decimal:
        """Isolated margin of the position: ``|size| · entry / leverage`` (quote)."""
        return abs(self.size) * self.entry / Decimal(leverage)

    def unrealized(self, mark: Decimal) -> Decimal:
        """Unrealized PnL at ``mark`` (quote)."""
        return self.size * (mark - self.entry)

    def margin_needed(
        self, side: Side, amount: Decimal, price: Decimal, leverage: int, taker_fee_bps: Decimal
    ) -> Decimal:
        """Margin a fill of ``amount`` at ``price`` needs (0 when it only reduces): initial
        margin of what it opens plus the taker fee."""
        signed = amount if side is Side.BUY else -amount
        new_size = self.size + signed
        if abs(new_size) <= abs(self.size) and (new_size == 0 or (new_size > 0) == (self.size > 0)):
            return ZERO  # reducing never needs margin
        flipped = (new_size > 0) != (self.size > 0)
        opened = abs(new_size) if flipped else abs(new_size) - abs(self.size)
        return opened * price / Decimal(leverage) + amount * price * (taker_fee_bps / BPS)

    def pay_funding(
        self, symbol: str, ts_s: int, rate: Decimal, mark: Decimal
    ) -> FundingPayment | None:
        """Settle the funding time ``ts_s`` on the position held now: ``-size · mark · rate``
        (a short receives a positive rate); None when flat."""
        if self.size == 0:
            return None
        amount = -self.size * mark * rate
        payment = FundingPayment(
            id=f"funding-{ts_s}",
            symbol=symbol,
            amount_quote=amount,
            rate=rate,
            position_base=self.size,
            mark_price=mark,
            timestamp=ts_s * 1000,
        )
        self.wallet += amount
        self.funding.append(payment)
        return payment

    def rest(self, intent: OrderIntent, limit: Decimal, now_ms: int) -> Order:
        """Put ``intent`` on the book as a GTC limit order at ``limit`` (status OPEN)."""
        order = Order(
            client_order_id=intent.client_order_id,
            exchange_order_id=str(self.next_order_id),
            symbol=intent.symbol,
            side=intent.side,
            amount_base=intent.amount_base,
            filled_base=ZERO,
            average_price=None,
            status=OrderStatus.OPEN,
            reduce_only=intent.reduce_only,
            fee_quote=ZERO,
            timestamp=now_ms,
        )
        self.next_order_id += 1
        self.orders[intent.client_order_id] = order
        self.resting[intent.client_order_id] = limit
        return order

    def apply_fill(
        self,
        intent: OrderIntent,
        order_id: str,
        amount: Decimal,
        price: Decimal,
        fee_bps: Decimal,
        now_ms: int,
    ) -> Decimal:
        """Book one fill of ``intent`` (``amount`` base at ``price``); returns its fee."""
        signed = amount if intent.side is Side.BUY else -amount
        fee = amount * price * fee_bps / BPS
        realized = ZERO
        if self.size != 0 and (self.size > 0) != (signed > 0):
            closed = min(abs(signed), abs(self.size))
            direction = 1 if self.size > 0 else -1
            realized = closed * (price - self.entry) * direction
        new_size = self.size + signed
        if new_size == 0:
            self.entry = ZERO
        elif self.size == 0 or (new_size > 0) != (self.size > 0):
            self.entry = price  # opened, or flipped: the remainder opens at the fill price
        elif abs(new_size) > abs(self.size):
            self.entry = (abs(self.size) * self.entry + amount * price) / abs(new_size)
        self.size = new_size
        self.wallet += realized - fee
        self.fills.append(
            Fill(
                trade_id=str(self.next_trade_id),
                client_order_id=intent.client_order_id,
                exchange_order_id=order_id,
                symbol=intent.symbol,
                side=intent.side,
                amount_base=amount,
                price=price,
                fee_quote=fee,
                realized_pnl=realized,
                timestamp=now_ms,
            )
        )
        self.next_trade_id += 1
        return fee

    def close_by_venue(self, symbol: str, price: Decimal, margin: Decimal, now_ms: int) -> None:
        """The venue closes the whole position at ``price`` (a liquidation): the isolated
        ``margin`` is lost, and the close is an order every client can look up, named as
        Binance names them (``autoclose-…``), with its fill."""
        self.wallet -= margin
        side = Side.BUY if self.size < 0 else Side.SELL
        client_id = f"autoclose-{self.next_order_id}"
        order_id = str(self.next_order_id)
        self.next_order_id += 1
        self.orders[client_id] = Order(
            client_order_id=client_id,
            exchange_order_id=order_id,
            symbol=symbol,
            side=side,
            amount_base=abs(self.size),
            filled_base=abs(self.size),
            average_price=price,
            status=OrderStatus.FILLED,
            reduce_only=True,
            timestamp=now_ms,
        )
        self.fills.append(
            Fill(
                trade_id=str(self.next_trade_id),
                client_order_id=client_id,
                exchange_order_id=order_id,
                symbol=symbol,
                side=side,
                amount_base=abs(self.size),
                price=price,
                fee_quote=ZERO,
                realized_pnl=-margin,
                timestamp=now_ms,
            )
        )
        self.next_trade_id += 1
        self.size = ZERO
        self.entry = ZERO

    def change_key(self) -> tuple[object, ...]:
        """A value that differs whenever the account does: every order, fill, funding payment
        and liquidation moves an id counter, a balance, the position or a list's length, and
        every order's status change but a fill's (which moves ``next_trade_id``) removes it
        from ``resting``. Cheap: no history is walked."""
        counts = (len(self.orders), len(self.fills), len(self.funding))
        return (
            self.wallet, self.size, self.entry, self.next_order_id, self.next_trade_id,
            counts, tuple(self.resting.items()),
        )  # fmt: skip

    def trim(self, limit: int) -> None:
        """Keep the newest ``limit`` fills, funding payments and orders (resting orders are
        always kept): the venue's history for the bot's reads since its cursors, bounded."""
        del self.fills[: max(0, len(self.fills) - limit)]
        del self.funding[: max(0, len(self.funding) - limit)]
        excess = len(self.orders) - limit
        if excess > 0:
            done = [cid for cid in self.orders if cid not in self.resting][:excess]
            for cid in done:
                del self.orders[cid]

    def to_state(self) -> dict[str, Any]:
        """The account as plain JSON (Decimals as strings). A record converted for an earlier
        call is reused (its dict is shared with that call's result: treat both as read-only)."""
        kept: dict[int, tuple[object, Any]] = {}

        def plain_of(record: object) -> Any:
            hit = self._plain.get(id(record))
            value = hit[1] if hit is not None and hit[0] is record else plain(record)
            kept[id(record)] = (record, value)
            return value

        state = {
            "wallet": str(self.wallet),
            "size": str(self.size),
            "entry": str(self.entry),
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "orders": [plain_of(o) for o in self.orders.values()],
            "resting": {cid: str(limit) for cid, limit in self.resting.items()},
            "fills": [plain_of(f) for f in self.fills],
            "funding": [plain_of(p) for p in self.funding],
        }
        self._plain = kept  # records no longer kept are let go
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Account:
        """The account ``to_state`` wrote (inside the venue's state)."""
        return cls(
            wallet=Decimal(state["wallet"]),
            size=Decimal(state["size"]),
            entry=Decimal(state["entry"]),
            orders={o["client_order_id"]: order_from(o) for o in state["orders"]},
            resting={cid: Decimal(limit) for cid, limit in state.get("resting", {}).items()},
            fills=[fill_from(f) for f in state["fills"]],
            funding=[funding_from(p) for p in state["funding"]],
            next_order_id=int(state["next_order_id"]),
            next_trade_id=int(state["next_trade_id"]),
        )
