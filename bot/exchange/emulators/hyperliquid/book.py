"""The Hyperliquid view of one ``SimVenue`` account: asset ids, oids and cloids, and the
``order`` / ``cancel`` / ``updateLeverage`` actions with the venue's own refusal texts.

The simulated venue keys orders by a client id; here a cloid (``0x`` + 32 hex) is that client
id, and an order sent without one gets an internal id. Oids are ``OID_BASE`` plus the venue's
own order number, so they survive a restart of the emulator over a restored venue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from bot import errors
from bot.domain import Order, OrderIntent, OrderStatus, Side
from bot.exchange.emulators.hyperliquid.rules import (
    decimals_of,
    parse_wire_decimal,
    price_valid,
    size_valid,
    wire,
)
from bot.exchange.hyperliquid_texts import Refusal, hyperliquid_text
from bot.exchange.venue import SimVenue

__all__ = ["OID_BASE", "HyperliquidBook", "MalformedAction", "OrderMeta", "OrderWire"]

OID_BASE = 9_000_000_000
MIN_ORDER_VALUE = Decimal(10)
_PRICE_BAND = Decimal("0.8")  # a limit more than 80% away from the mark is refused
_CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
_TIFS = ("Gtc", "Ioc", "Alo")


class MalformedAction(ValueError):
    """An action the venue cannot deserialize (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class OrderWire:
    """One parsed entry of an ``order`` action's ``orders``."""

    asset: int
    is_buy: bool
    price: Decimal
    size: Decimal
    reduce_only: bool
    tif: str
    cloid: str | None
    price_text: str
    size_text: str


@dataclass(frozen=True, slots=True)
class OrderMeta:
    """What Hyperliquid reports about an order that ``SimVenue`` does not keep."""

    cloid: str | None
    limit_px: Decimal
    tif: str
    created_ms: int
    rested: bool = False
    status_override: str | None = None  # e.g. iocCancelRejected


def _bool(raw: Any, name: str) -> bool:
    if not isinstance(raw, bool):
        raise MalformedAction(f"{name} must be a boolean")
    return raw


def parse_order_wire(raw: Any) -> OrderWire:
    """``{a, b, p, s, r, t: {limit: {tif}}, c?}`` as an ``OrderWire``; raises
    ``MalformedAction`` for anything the venue's deserializer would refuse."""
    if not isinstance(raw, dict):
        raise MalformedAction("an order must be an object")
    asset = raw.get("a")
    if not isinstance(asset, int) or isinstance(asset, bool) or asset < 0:
        raise MalformedAction("a must be an asset index")
    kind = raw.get("t")
    limit = kind.get("limit") if isinstance(kind, dict) else None
    if not isinstance(limit, dict) or limit.get("tif") not in _TIFS:
        raise MalformedAction("t must be {limit: {tif: Gtc|Ioc|Alo}} (no trigger orders here)")
    price_text, size_text = raw.get("p"), raw.get("s")
    price, size = parse_wire_decimal(price_text), parse_wire_decimal(size_text)
    if price is None or size is None:
        raise MalformedAction("p and s must be decimal strings")
    cloid = raw.get("c")
    if cloid is not None and (not isinstance(cloid, str) or not _CLOID.fullmatch(cloid)):
        raise MalformedAction("c must be 0x and 32 hex digits")
    return OrderWire(
        asset=asset,
        is_buy=_bool(raw.get("b"), "b"),
        price=price,
        size=size,
        reduce_only=_bool(raw.get("r"), "r"),
        tif=str(limit["tif"]),
        cloid=cloid.lower() if cloid is not None else None,
        price_text=str(price_text),
        size_text=str(size_text),
    )


class HyperliquidBook:
    """Orders of the venue account in Hyperliquid's terms."""

    def __init__(self, venue: SimVenue, *, asset: int, coin: str, max_leverage: int) -> None:
        self.venue = venue
        self.asset = asset
        self.coin = coin
        self.max_leverage = max_leverage
        self.sz_decimals = decimals_of(venue.rules().amount_step)
        self._meta: dict[str, OrderMeta] = {}
        self._internal_ids = 0

    # ------------------------------------------------------------------ lookups
    def _now_ms(self) -> int:
        return int(self.venue.clock.now() * 1000)

    @staticmethod
    def oid_of(order: Order) -> int:
        """The Hyperliquid oid of a venue order."""
        return OID_BASE + int(order.exchange_order_id or 0)

    def meta(self, order: Order) -> OrderMeta:
        """What the book knows about ``order`` (venue-made orders get a default)."""
        known = self._meta.get(order.client_order_id)
        if known is not None:
            return known
        price = order.average_price or Decimal(0)
        return OrderMeta(None, price, "Ioc", order.timestamp)

    def find(self, oid_or_cloid: Any) -> Order | None:
        """The order with this oid (int) or cloid (hex text), or None."""
        if isinstance(oid_or_cloid, str) and oid_or_cloid.startswith("0x"):
            return self.venue.order(oid_or_cloid.lower())
        if isinstance(oid_or_cloid, int) and not isinstance(oid_or_cloid, bool):
            return next((o for o in self.venue.order_log() if self.oid_of(o) == oid_or_cloid), None)
        return None

    # ------------------------------------------------------------------ actions
    def _refusal(self, order: OrderWire) -> str | None:
        """The venue's text for an order refused before it reaches the book."""
        suffix = f" asset={order.asset}"
        if order.asset != self.asset:
            return f"Emulator trades only asset {self.asset} ({self.coin}).{suffix}"
        if order.size == 0:
            return _says(Refusal.ZERO_SIZE, suffix)
        if not size_valid(order.size, self.sz_decimals):
            return _says(Refusal.INVALID_SIZE, suffix)
        if not price_valid(order.price, self.sz_decimals):
            return _says(Refusal.TICK, suffix)
        mark = self.venue.quote().mark_price
        if abs(order.price - mark) > _PRICE_BAND * mark:
            return _says(Refusal.PRICE_BAND, suffix)
        if not order.reduce_only and order.price * order.size < MIN_ORDER_VALUE:
            return _says(Refusal.MIN_VALUE, suffix)
        if order.cloid is not None and self.venue.order(order.cloid) is not None:
            return _says(Refusal.DUPLICATE_CLOID, suffix)
        return None

    def _post_only_cross(self, order: OrderWire) -> str | None:
        quote = self.venue.quote()
        bid, ask = quote.bid or quote.mark_price, quote.ask or quote.mark_price
        if (order.is_buy and order.price >= ask) or (not order.is_buy and order.price <= bid):
            return _says(
                Refusal.POST_ONLY_CROSS, f" asset={order.asset}", bbo=f"{wire(bid)}@{wire(ask)}"
            )
        return None

    def place(self, order: OrderWire, fill_fraction: Decimal | None) -> dict[str, Any]:
        """Submit one order; its status entry (``resting``, ``filled`` or ``error``)."""
        refusal = self._refusal(order) or (
            self._post_only_cross(order) if order.tif == "Alo" else None
        )
        if refusal is not None:
            return {"error": refusal}
        self._internal_ids += 1
        client_id = order.cloid or f"hl-{self._now_ms()}-{self._internal_ids}"
        intent = OrderIntent(
            client_id,
            self.venue.params.symbol,
            Side.BUY if order.is_buy else Side.SELL,
            order.size,
            order.reduce_only,
            order.price,
        )
        suffix = f" asset={order.asset}"
        try:
            placed = self.venue.submit(
                intent,
                fill_fraction=fill_fraction if order.tif == "Ioc" else None,
                time_in_force="IOC" if order.tif == "Ioc" else "GTC",
            )
        except errors.ReduceOnlyRejected:
            return {"error": _says(Refusal.REDUCE_ONLY, suffix)}
        except errors.MinNotionalError:
            return {"error": _says(Refusal.MIN_VALUE, suffix)}
        except errors.InsufficientMargin:
            return {"error": _says(Refusal.INSUFFICIENT_MARGIN, suffix)}
        except errors.InvalidOrder:
            return {"error": _says(Refusal.INVALID_SIZE, suffix)}
        return self._answer(order, placed)

    def _answer(self, order: OrderWire, placed: Order) -> dict[str, Any]:
        meta = OrderMeta(
            order.cloid,
            order.price,
            order.tif,
            self._now_ms(),
            rested=placed.status is OrderStatus.OPEN,
        )
        ids: dict[str, Any] = {"oid": self.oid_of(placed)}
        if order.cloid is not None:
            ids["cloid"] = order.cloid
        if placed.status is OrderStatus.OPEN:
            self._meta[placed.client_order_id] = meta
            return {"resting": ids}
        if placed.filled_base > 0:
            self._meta[placed.client_order_id] = meta
            avg = placed.average_price or order.price
            return {"filled": {"totalSz": wire(placed.filled_base), "avgPx": wire(avg), **ids}}
        self._meta[placed.client_order_id] = replace(meta, status_override="iocCancelRejected")
        return {"error": _says(Refusal.IOC_NO_MATCH, f" asset={order.asset}")}

    def cancel(self, asset: Any, oid_or_cloid: Any) -> str | dict[str, str]:
        """Cancel one resting order: ``"success"`` or ``{"error": ...}``."""
        order = self.find(oid_or_cloid) if asset == self.asset else None
        if order is None or order.status is not OrderStatus.OPEN:
            return {"error": _says(Refusal.CANCEL_UNKNOWN, f" asset={asset}")}
        self.venue.cancel(order.client_order_id)
        return "success"

    def update_leverage(self, asset: Any, is_cross: Any, leverage: Any) -> str | None:
        """Set leverage and margin mode; the venue's refusal text, or None (nothing changed).

        Refused as Hyperliquid refuses: a leverage that is not a whole number in
        ``1..maxLeverage`` ("Invalid leverage value."), and a switch of the leverage type
        (cross <-> isolated) while a position is open ("Cannot switch leverage type with open
        position."); with the same type the leverage may change with a position open."""
        if asset != self.asset or not isinstance(is_cross, bool):
            return "Invalid asset or margin mode."
        if not isinstance(leverage, int) or isinstance(leverage, bool):
            return "Invalid leverage value."
        if not 1 <= leverage <= self.max_leverage:
            return "Invalid leverage value."
        mode = "cross" if is_cross else "isolated"
        if mode != self.venue.margin_mode and self.venue.position().size_base != 0:
            return "Cannot switch leverage type with open position."
        self.venue.set_leverage(leverage)
        self.venue.margin_mode = mode
        return None


def _says(refusal: Refusal, suffix: str, **fields: str) -> str:
    """The venue's text for ``refusal`` (``bot.exchange.hyperliquid_texts``)."""
    return hyperliquid_text(refusal).message(suffix=suffix, **fields)
