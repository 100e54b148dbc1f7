"""An HTTP facade of ``SimVenue`` speaking Hyperliquid's ``POST /info`` and ``POST /exchange``.

An unmodified ccxt ``hyperliquid`` client in sandbox mode whose ``urls['api']`` point here
trades against the simulated venue::

    client = ccxt.async_support.hyperliquid({"walletAddress": master, "privateKey": agent_key})
    client.set_sandbox_mode(True)
    client.urls["api"] = handle.ccxt_urls()

Every ``/exchange`` request's signer is recovered and checked (``actions``). Fault switches
and market moves are unsigned ``POST /_emulator/{action}`` (``drop_next_order``,
``rate_limit``, ``latency``, ``partial_fill_next_ioc``, ``reset_faults``, ``mark``,
``funding_rate``, ``advance``, ``approve_agent``); ``GET /_emulator/state`` shows what the
venue saw (builder fields, referrer, agents, order log).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from bot.exchange.emulators.admin import AdminAction, AdminTable, add_admin_routes, admin_number
from bot.exchange.emulators.clock import MAX_ADVANCE_S, AdvancingClock
from bot.exchange.emulators.hyperliquid import info
from bot.exchange.emulators.hyperliquid.accounts import AccountRegistry
from bot.exchange.emulators.hyperliquid.actions import ExchangeActions
from bot.exchange.emulators.hyperliquid.book import HyperliquidBook, MalformedAction
from bot.exchange.emulators.hyperliquid.faults import HyperliquidFaults, apply_fault
from bot.exchange.venue import SimVenue, VenueParams
from bot.safety import MAX_JSON_DEPTH, PayloadRejected, describe_exc, loads_bounded

__all__ = ["HyperliquidEmulator", "hyperliquid_venue_params"]

_log = structlog.get_logger("hedgebot.exchange.emulators.hyperliquid")

MAX_REQUEST_BYTES = 256 * 1024
_UNDESERIALIZABLE = "Failed to deserialize the JSON body into the target type"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def hyperliquid_venue_params() -> VenueParams:
    """ETH perp economics of Hyperliquid's base tier: 4.5/1.5 bps, hourly funding at the
    venue's 0.00125 % baseline, szDecimals 4, $10 minimum order value, 20x cross default."""
    return VenueParams(
        symbol="ETH/USDC:USDC",
        taker_fee_bps=Decimal("4.5"),
        maker_fee_bps=Decimal("1.5"),
        funding_rate=Decimal("0.0000125"),
        funding_interval_s=3600,
        amount_step=Decimal("0.0001"),
        price_tick=Decimal("0.01"),
        min_amount=Decimal("0.0001"),
        min_notional=Decimal(10),
        leverage=20,
        margin_mode="cross",
    )


def _user(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    if not isinstance(user, str) or len(user) != 42 or not user.startswith("0x"):
        raise MalformedAction("user must be a 0x address")
    return user.lower()


def _opt_ms(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedAction(f"{name} must be milliseconds")
    return value


class HyperliquidEmulator:
    """Routes and state of one emulated Hyperliquid account over one ``SimVenue``."""

    def __init__(
        self,
        venue: SimVenue,
        clock: AdvancingClock,
        registry: AccountRegistry,
        *,
        mainnet: bool = False,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.registry = registry
        self.faults = HyperliquidFaults()
        base = venue.params.symbol.partition("/")[0]
        self.book = HyperliquidBook(venue, asset=1, coin=base, max_leverage=25)
        self.actions = ExchangeActions(
            registry,
            self.book,
            self.faults,
            self._clocks_ms,
            mainnet=mainnet,
            other_book=lambda: self._account_book(base),
        )
        self._info: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "meta": lambda _b: info.meta_and_asset_ctxs(self.book)[0],
            "metaAndAssetCtxs": self._meta_and_ctxs,
            "perpDexs": lambda _b: [None],
            "spotMeta": lambda _b: info.spot_meta(),
            "spotMetaAndAssetCtxs": lambda _b: [info.spot_meta(), []],
            "exchangeStatus": lambda _b: {"specialStatuses": None, "time": self._now_ms()},
            "allMids": self._all_mids,
            "clearinghouseState": lambda b: info.clearinghouse_state(self.book, self._mine(b)),
            "spotClearinghouseState": lambda b: {"balances": []},
            "userAbstraction": lambda b: "default" if _user(b) else None,
            "orderStatus": self._order_status,
            "openOrders": lambda b: info.open_orders(self.book, False) if self._mine(b) else [],
            "frontendOpenOrders": lambda b: (
                info.open_orders(self.book, True) if self._mine(b) else []
            ),
            "userFills": lambda b: (
                info.user_fills(self.book, self.registry.trading_address) if self._mine(b) else []
            ),
            "userFillsByTime": self._fills_by_time,
            "userFunding": self._funding,
            "l2Book": self._l2_book,
            "maxBuilderFee": self._max_builder_fee,
            "userRole": lambda b: self.registry.role(b.get("user")),
            "extraAgents": lambda b: self.registry.extra_agents(b.get("user")),
        }
        self.admin_table = self._admin_table()

    def _account_book(self, coin: str) -> HyperliquidBook:
        """A simulated account of another master, at the venue's current mark (its agent's
        orders trade it; nothing of it is served to the wallet's reads)."""
        other = SimVenue(self.venue.params, self.venue.clock)
        quote = self.venue.quote()
        other.set_mark(quote.mark_price, quote.index_price)
        return HyperliquidBook(other, asset=1, coin=coin, max_leverage=25)

    # ------------------------------------------------------------------ clock
    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def _clocks_ms(self) -> tuple[int, ...]:
        """Venue time and wall time: a nonce is valid against either (ccxt signs wall time)."""
        return (self._now_ms(), int(time.time() * 1000))

    # ------------------------------------------------------------------ app
    def app(self) -> web.Application:
        """The aiohttp application: ``/info``, ``/exchange`` and the ``/_emulator`` API."""
        app = web.Application(middlewares=[self._faults_middleware])
        app.router.add_post("/info", self._post_info)
        app.router.add_post("/exchange", self._post_exchange)
        add_admin_routes(app, self.admin_table, self.state)
        return app

    @web.middleware
    async def _faults_middleware(
        self, request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        if request.path.startswith("/_emulator/"):
            return await handler(request)
        if self.faults.latency_s > 0:
            await asyncio.sleep(self.faults.latency_s)
        if self.faults.rate_limit_requests > 0:
            self.faults.rate_limit_requests -= 1
            _log.info("emulator.hl_rate_limited", path=request.path)
            return web.json_response(None, status=429)
        self.venue.accrue_funding()
        try:
            return await handler(request)
        except (MalformedAction, PayloadRejected) as exc:
            _log.info("emulator.hl_malformed", path=request.path, reason=describe_exc(exc, 200))
            return web.Response(status=422, text=_UNDESERIALIZABLE)

    @staticmethod
    async def _body(request: web.Request) -> Any:
        raw = await request.read()
        return loads_bounded(raw, max_bytes=MAX_REQUEST_BYTES, max_depth=MAX_JSON_DEPTH)

    async def _post_info(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        kind = body.get("type") if isinstance(body, dict) else None
        answer = self._info.get(kind) if isinstance(kind, str) else None
        if answer is None:
            raise MalformedAction(f"unknown info type {str(kind)[:40]!r}")
        return web.json_response(answer(body))

    async def _post_exchange(self, request: web.Request) -> web.StreamResponse:
        answer = self.actions.handle(await self._body(request))
        drop = self.faults.drop_next_order if answer.order_accepted else None
        if drop is not None:
            self.faults.drop_next_order = None
            if drop == "reset":
                _log.info("emulator.hl_response_dropped")
                if request.transport is not None:
                    request.transport.abort()
                raise web.HTTPServiceUnavailable()  # never delivered: the socket is gone
            await asyncio.sleep(self.faults.drop_delay_s)
        return web.json_response(answer.body)

    # ------------------------------------------------------------------ info answers
    def _mine(self, body: Mapping[str, Any]) -> bool:
        return _user(body) == self.registry.trading_address

    def _meta_and_ctxs(self, body: Mapping[str, Any]) -> Any:
        if body.get("dex"):
            return [{"universe": [], "marginTables": []}, []]
        return info.meta_and_asset_ctxs(self.book)

    def _all_mids(self, _body: Mapping[str, Any]) -> dict[str, str]:
        meta, ctxs = info.meta_and_asset_ctxs(self.book)
        return {u["name"]: c["midPx"] for u, c in zip(meta["universe"], ctxs, strict=True)}

    def _order_status(self, body: Mapping[str, Any]) -> Any:
        oid = body.get("oid")
        order = self.book.find(oid) if self._mine(body) else None
        return info.order_status(self.book, order)

    def _fills_by_time(self, body: Mapping[str, Any]) -> Any:
        start = _opt_ms(body, "startTime")
        if start is None:
            raise MalformedAction("startTime is required")
        end = _opt_ms(body, "endTime")
        if not self._mine(body):
            return []
        return info.user_fills(self.book, self.registry.trading_address, start, end)

    def _funding(self, body: Mapping[str, Any]) -> Any:
        start = _opt_ms(body, "startTime")
        if start is None:
            raise MalformedAction("startTime is required")
        end = _opt_ms(body, "endTime")
        return info.user_funding(self.book, start, end) if self._mine(body) else []

    def _l2_book(self, body: Mapping[str, Any]) -> Any:
        if body.get("coin") != self.book.coin:
            return None
        return info.l2_book(self.book)

    def _max_builder_fee(self, body: Mapping[str, Any]) -> int:
        builder = str(body.get("builder", "")).lower()
        return self.registry.builder_approvals.get(builder, 0) if _user(body) else 0

    # ------------------------------------------------------------------ admin
    def _admin_table(self) -> AdminTable:
        def fault(name: str, help_text: str) -> AdminAction:
            def apply(body: Mapping[str, Any]) -> None:
                apply_fault(self.faults, name, body)

            return AdminAction(name, apply, help_text)

        return AdminTable(
            [
                fault("drop_next_order", "drop (reset) or delay the next accepted order's answer"),
                fault("rate_limit", "answer HTTP 429 to the next count requests"),
                fault("latency", "delay every answer by seconds"),
                fault("partial_fill_next_ioc", "fill only fraction of the next IOC order"),
                fault("reset_faults", "clear every fault switch"),
                AdminAction("mark", self._set_mark, "move mark (and oracle) to price"),
                AdminAction(
                    "funding_rate",
                    lambda b: self.venue.set_funding_rate(admin_number(b, "rate", low=-1, high=1)),
                    "hourly funding rate from now on",
                ),
                AdminAction("advance", self._advance, "move the clock forward by seconds"),
                AdminAction(
                    "approve_agent",
                    lambda b: self.registry.approve_agent(str(b["address"])),
                    "approve an API wallet address for the master",
                ),
            ],
            result=lambda: {"now_ms": self._now_ms()},
        )

    def _set_mark(self, body: Mapping[str, Any]) -> None:
        price = admin_number(body, "price", low=0, above_low=True)
        index = None if body.get("index") is None else admin_number(body, "index", low=0)
        self.venue.set_mark(price, index)

    def _advance(self, body: Mapping[str, Any]) -> None:
        self.clock.advance(float(admin_number(body, "seconds", low=0, high=MAX_ADVANCE_S)))
        self.venue.accrue_funding()

    def admin(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One admin action by name (HTTP admin API and tests share it); raises ``KeyError``
        for an unknown action, ``ValueError`` for a malformed body."""
        return self.admin_table.run(action, body)

    def state(self) -> dict[str, Any]:
        """What the venue saw and holds, for tests and operators."""
        return {
            "now_ms": self._now_ms(),
            "master": self.registry.master,
            "vault": self.registry.vault,
            "agents": sorted(self.registry.agents),
            "builder_fields_seen": list(self.registry.builder_fields_seen),
            "builder_approvals": dict(self.registry.builder_approvals),
            "referrer": self.registry.referrer,
            "referrer_attempts": list(self.registry.referrer_attempts),
            "orders": [info.order_status(self.book, o)["order"] for o in self.venue.order_log()],
        }
