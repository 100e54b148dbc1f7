"""Which client order id each venue order carries: learned from every order answer, and
looked up by exchange id for an order only a fill names (e.g. after a restart).

An order the venue knows but that carries no client id (a manual trade in the venue's web
app, another tool's order) is someone else's: its fills and the order itself carry
:data:`NO_CLIENT_ID`, which is never an intent of this bot, so the position check reports
them as foreign (``exchange.on_mismatch``) instead of every read failing."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from itertools import islice
from typing import Any

import structlog

from bot import errors
from bot.exchange.ccxt.calls import CALL_FAILURES, CcxtCalls
from bot.exchange.ccxt.errors import is_order_not_found
from bot.exchange.ccxt.fields import mapping

__all__ = ["NO_CLIENT_ID", "VenueOrderIds", "average_from_trades", "fee_in_quote"]

_log = structlog.get_logger("hedgebot.exchange.ccxt_perp")

# The client id of a venue order that has none: not an id any bot sends (no ``hb-`` prefix,
# not hex), so never an intent of this bot.
NO_CLIENT_ID = "(no client id)"


class VenueOrderIds:
    """Exchange order id -> client order id, for one symbol: the ``capacity`` most recently
    learned or used (a daemon runs for months; a forgotten order a later fill names is looked
    up again by id, one request)."""

    CAPACITY = 10_000

    def __init__(
        self,
        calls: CcxtCalls,
        own_client_id: Callable[[str], str] = lambda cid: cid,
        capacity: int = CAPACITY,
    ) -> None:
        self._calls = calls
        self._own_client_id = own_client_id  # the venue's client id as the ledger knows it
        self._client_ids: OrderedDict[str, str] = OrderedDict()
        self.capacity = capacity
        self._batch: frozenset[str] = frozenset()  # the last ``learn``'s ids: never evicted

    def __len__(self) -> int:
        return len(self._client_ids)

    def remember(self, raw: Mapping[str, Any]) -> None:
        """Learn the ids of a ccxt order answer (one without both ids teaches nothing)."""
        if raw.get("id") is not None and raw.get("clientOrderId"):
            self._keep(str(raw["id"]), self._own_client_id(str(raw["clientOrderId"])))

    def _keep(self, order_id: str, client_id: str) -> None:
        """Keep one id; past ``capacity``, forget the least recently learned or used ids that
        the last ``learn`` does not need (so at most capacity + that batch are kept)."""
        self._client_ids[order_id] = client_id
        self._client_ids.move_to_end(order_id)
        excess = len(self._client_ids) - self.capacity
        if excess > 0:
            unneeded = (i for i in self._client_ids if i not in self._batch)  # oldest first
            for stale in list(islice(unneeded, excess)):
                del self._client_ids[stale]

    @staticmethod
    def named(raw: object) -> Mapping[str, Any]:
        """A ccxt open order read from the venue (not our submit's answer), its client id
        :data:`NO_CLIENT_ID` when it carries none (an order placed by hand);
        ``VenueDataError`` when it is not an object."""
        row = mapping(raw, "open order")
        return row if row.get("clientOrderId") else {**row, "clientOrderId": NO_CLIENT_ID}

    def _remember_looked_up(self, order_id: str, raw: Mapping[str, Any]) -> None:
        """Learn an order looked up by id: one without a client id is someone else's."""
        self.remember(raw)
        if order_id not in self._client_ids and not raw.get("clientOrderId"):
            self._keep(order_id, NO_CLIENT_ID)

    async def learn(self, order_ids: Iterable[str], symbol: str) -> None:
        """Look up every order of ``order_ids`` not yet known, by id (not by a time window: the
        venue files orders under their creation time, which may precede the fills' window).

        Raises ``ExchangeError`` when the venue does not know one, the mapped error otherwise."""
        self._batch = frozenset(order_ids)  # kept until the next batch: its fills name them
        for order_id in sorted(self._batch - self._client_ids.keys()):
            try:
                raw = mapping(
                    await self._calls.request(self._calls.api().fetch_order, order_id, symbol),
                    "order",
                )
            except CALL_FAILURES as exc:
                if is_order_not_found(exc):
                    raise errors.ExchangeError(
                        f"{self._calls.settings.exchange_id}: order {order_id} of a fill "
                        f"not found: {exc}"
                    ) from exc
                raise self._calls.map_error(exc) from exc
            self._remember_looked_up(order_id, raw)

    def client_id_of(self, trade: Mapping[str, Any]) -> str:
        """The client order id of a ccxt trade's order (:data:`NO_CLIENT_ID` for an order
        the venue reports without one); ``ExchangeError`` when the order was never learned."""
        order_id = str(trade.get("order"))
        client_id = self._client_ids.get(order_id)
        if client_id is not None:
            self._client_ids.move_to_end(order_id)
        if client_id is None:
            raise errors.ExchangeError(
                f"fill {trade.get('id')}: order {order_id} has no client order id"
            )
        return client_id


def fee_in_quote(
    cost: Decimal, currency: object, market: Mapping[str, Any], *, ref: str
) -> Decimal:
    """The fee in quote; a fee in another asset than the market's settle/quote (e.g. a BNB
    discount) counts as 0 and is logged, since no price to convert it at is known here."""
    if currency in (None, market.get("settle"), market.get("quote")):
        return cost
    if cost:
        _log.warning("fill.fee_not_in_quote", currency=currency, amount=str(cost), ref=ref)
    return Decimal(0)


async def average_from_trades(
    calls: CcxtCalls, symbol: str, raw: Mapping[str, Any]
) -> Mapping[str, Any]:
    """``raw`` (a ccxt order) with its average price taken from its own trades when the venue
    reports a fill but no average (Hyperliquid's ``orderStatus`` has none): the
    amount-weighted mean of the trades of that order since its creation. Unchanged when an
    average is there, nothing filled, or no trade of it is found (the parser then refuses)."""
    filled = raw.get("filled")
    if raw.get("average") is not None or not isinstance(filled, int | float) or filled <= 0:
        return raw
    since = raw.get("timestamp")
    trades = await calls.call(
        calls.api().fetch_my_trades, symbol, since if isinstance(since, int) else None
    )
    mine = [t for t in trades if isinstance(t, Mapping) and str(t.get("order")) == str(raw["id"])]
    amount = sum((Decimal(str(t["amount"])) for t in mine), Decimal(0))
    if not mine or amount <= 0:
        return raw
    cost = sum((Decimal(str(t["amount"])) * Decimal(str(t["price"])) for t in mine), Decimal(0))
    return {**raw, "average": float(cost / amount)}
