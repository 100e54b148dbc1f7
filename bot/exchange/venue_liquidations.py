"""Which fills are the venue liquidating (or auto-deleveraging) the account: the one place
that says so, from the client order id a fill is stored with, so the answer is the same
after a restart and needs nothing but the fills table.

* Binance USD-M names the orders it makes itself by their client id prefix (its user data
  stream docs, ``ORDER_TRADE_UPDATE``): ``autoclose-`` a liquidation, ``adl_autoclose`` an
  auto-deleveraging (ADL) close, ``settlement_autoclose-`` a delivery or delisting settlement.
  The prefixes are matched exactly as Binance writes them (lower case, at the start): a
  client id is case-sensitive on Binance, so ``AUTOCLOSE-1`` or ``my-autoclose-1`` is
  someone's own order, not the venue's.
* Hyperliquid's liquidated user's fill carries no cloid but a ``liquidation`` object
  (``{"liquidatedUser": "0x…", "markPx": "…", "method": "market" | "backstop"}``, its
  ``userFills`` docs). The ccxt adapter gives such a fill the client id
  :func:`hyperliquid_liquidation_id` of its order id, ``(liquidation <oid>)``: parentheses
  and a space are in no client id a venue accepts (like ``NO_CLIENT_ID``), so no order of
  anyone can carry it. Only a JSON object counts: a ``liquidation`` that is null, a string,
  a number, a boolean or a list is not read as one (the fill stays someone else's plain
  fill, still a ``position.mismatch``), and never fails the read.

A liquidation fill is never an intent of this bot, so the position check classifies it as a
foreign fill like any other (``position.mismatch``, ``exchange.on_mismatch``); the engine
names it as well (``position.liquidated``, :func:`liquidation_summary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.domain import Fill, Side

__all__ = [
    "BINANCE_LIQUIDATION_PREFIXES",
    "HYPERLIQUID_LIQUIDATION_PREFIX",
    "LiquidationSummary",
    "hyperliquid_liquidation_id",
    "is_venue_liquidation",
    "liquidation_fills",
    "liquidation_summary",
]

# liquidation, auto-deleveraging, delivery/delisting settlement (Binance's own client ids)
BINANCE_LIQUIDATION_PREFIXES = ("autoclose-", "adl_autoclose", "settlement_autoclose-")
HYPERLIQUID_LIQUIDATION_PREFIX = "(liquidation "
_PREFIXES = (*BINANCE_LIQUIDATION_PREFIXES, HYPERLIQUID_LIQUIDATION_PREFIX)
_THEN = {
    "paused": "trading paused: check the account, then resume",
    "adopted": "the venue's position is the new baseline, trading on",
}


def is_venue_liquidation(client_order_id: str) -> bool:
    """True when ``client_order_id`` is one the venue gives the orders by which it
    liquidates, auto-deleverages or settles the account (see the module doc)."""
    return client_order_id.startswith(_PREFIXES)


def hyperliquid_liquidation_id(trade: Mapping[str, Any]) -> str | None:
    """The client id for a ccxt Hyperliquid trade whose raw fill (``info``) has a
    ``liquidation`` object: ``(liquidation <order id>)``; None for any other trade (no
    ``info`` object, ``liquidation`` absent, null or not an object, or no order id)."""
    info = trade.get("info")
    if not isinstance(info, Mapping) or not isinstance(info.get("liquidation"), Mapping):
        return None
    order_id = trade.get("order")
    if order_id is None or order_id == "":
        return None
    return f"{HYPERLIQUID_LIQUIDATION_PREFIX}{order_id})"


def liquidation_fills(fills: Iterable[Fill]) -> tuple[Fill, ...]:
    """The fills of ``fills`` that are the venue's liquidation (in their order)."""
    return tuple(f for f in fills if is_venue_liquidation(f.client_order_id))


@dataclass(frozen=True, slots=True)
class LiquidationSummary:
    """What the venue's liquidation fills did to the position.

    ``side``: ``buy`` or ``sell`` (``buy+sell`` when fills of both sides are among them);
    ``amount_base``: the sum of their amounts (base units, > 0); ``net_base``: their signed
    change to the position (+ bought, - sold); ``prices``: each fill's price (quote per
    base), in fill order."""

    symbol: str
    trade_ids: tuple[str, ...]
    client_order_ids: tuple[str, ...]
    side: str
    amount_base: Decimal
    net_base: Decimal
    prices: tuple[Decimal, ...]

    def message(self, venue: str, action: str) -> str:
        """One line for a person: who closed what, at which price(s), by which fill(s), and
        what the bot did (``action``: the position check's ``paused`` or ``adopted``)."""
        prices = ", ".join(str(p) for p in self.prices)
        fills = ("fill " if len(self.trade_ids) == 1 else "fills ") + ", ".join(self.trade_ids)
        then = _THEN.get(action, action)
        return (
            f"{venue} liquidated the hedge: {self.side} {self.amount_base} {self.symbol} "
            f"at {prices} ({fills}); {then}"
        )


def liquidation_summary(fills: Iterable[Fill]) -> LiquidationSummary | None:
    """The summary of ``fills`` (the venue's liquidation fills), None when there are none."""
    fills = tuple(fills)
    if not fills:
        return None
    sides = sorted({f.side.value for f in fills})
    return LiquidationSummary(
        symbol=fills[0].symbol,
        trade_ids=tuple(f.trade_id for f in fills),
        client_order_ids=tuple(dict.fromkeys(f.client_order_id for f in fills)),
        side="+".join(sides),
        amount_base=sum((f.amount_base for f in fills), Decimal(0)),
        net_base=sum(
            (f.amount_base if f.side is Side.BUY else -f.amount_base for f in fills), Decimal(0)
        ),
        prices=tuple(f.price for f in fills),
    )
