"""``PerpExchange`` over ccxt async for USD-margined linear perpetuals (live, demo, emulator).

ccxt exceptions are mapped to ``bot.errors`` here and nowhere else.

Exchanges (ccxt 4.5) and how their test environments are switched:

- ``binanceusdm``: verified end to end offline against ``bot.exchange.emulator``. Binance's
  futures *testnet* is dead for ccxt: ``set_sandbox_mode(True)`` still swaps in
  ``testnet.binancefuture.com`` but every signed futures call then raises ``NotSupported``, so
  ``sandbox=True`` is refused here with ``ConfigError``. Use ``demo_trading=True``:
  ``enable_demo_trading(True)`` swaps ``urls['api']`` for ``urls['demo']``
  (``demo-fapi.binance.com``), with keys made on demo.binance.com.
- ``bybit``: ``sandbox=True`` -> ``set_sandbox_mode(True)`` (``api-testnet.bybit.com``);
  ``demo_trading=True`` -> ``enable_demo_trading(True)`` (``api-demo.bybit.com``). Not verified
  offline.
- ``okx``: ``sandbox=True`` -> ``set_sandbox_mode(True)``, which sends the
  ``x-simulated-trading: 1`` header (demo-trading keys); okx also needs ``password`` (the API
  passphrase). ``demo_trading`` is refused (ccxt has no ``urls['demo']`` for okx). Not
  verified offline.
- ``hyperliquid``: ``sandbox=True`` -> ``set_sandbox_mode(True)`` (testnet). Credentials are a
  wallet: ``api_key`` is passed as ``walletAddress``, ``api_secret`` as ``privateKey``; client
  order ids must be 128-bit hex strings and market orders need a price, so send IOC limit
  intents. Not verified offline.

``sandbox`` and ``demo_trading`` are exclusive. ``urls`` overrides entries of ccxt's
``urls['api']`` after the environment switch (how tests point binanceusdm at the emulator).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import structlog
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE
from pydantic import SecretStr

from bot import errors
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
from bot.ports import Clock

if TYPE_CHECKING:
    from bot.config import ExchangeConfig

__all__ = ["AccountSetup", "CcxtPerpExchange", "CcxtPerpSettings"]

_log = structlog.get_logger("bot.exchange.ccxt_perp")
_T = TypeVar("_T")
_HISTORY_MS = 180 * 86_400_000  # venues keep about six months of trade history
_WEEK_MS = 7 * 24 * 3600 * 1000
_PAGE = 1000
_FUNDING_MATCH_MS = 60_000

# Binance error codes, read from the JSON body ccxt puts in the exception message. ccxt maps
# most futures codes only when the URL is fapi.binance.com, so they must be read here too.
_BINANCE_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_INSUFFICIENT_MARGIN_CODES = frozenset({-2018, -2019, -4050, -4051})
_REDUCE_ONLY_CODES = frozenset({-2022, -4118})
_MIN_NOTIONAL_CODES = frozenset({-4164})
_DUPLICATE_CLIENT_ID_CODES = frozenset({-4116})
_ORDER_NOT_FOUND_CODES = frozenset({-2011, -2013})
_RATE_LIMIT_CODES = frozenset({-1003, -1015})
_AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})
_OUTCOME_UNKNOWN_CODES = frozenset({-1006, -1007})
# ccxt keeps these sandbox URLs but refuses every signed futures call made through them
_SANDBOX_RETIRED = {
    exchange_id: (
        f"{exchange_id}: ccxt no longer supports Binance's futures testnet; "
        "use demo_trading: true (keys from demo.binance.com)"
    )
    for exchange_id in ("binance", "binanceusdm", "binancecoinm")
}


def _secret(value: SecretStr | str | None) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value


@dataclass(frozen=True, slots=True)
class CcxtPerpSettings:
    """Everything needed to build the ccxt client; secrets stay ``SecretStr`` until use."""

    exchange_id: str = "binanceusdm"
    symbol: str = "ETH/USDT:USDT"
    api_key: SecretStr | str | None = field(default=None, repr=False)
    api_secret: SecretStr | str | None = field(default=None, repr=False)
    password: SecretStr | str | None = field(default=None, repr=False)
    sandbox: bool = False
    demo_trading: bool = False
    leverage: int = 3
    margin_mode: Literal["isolated", "cross"] = "isolated"
    urls: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    timeout_ms: int = 10_000
    enable_rate_limit: bool = True
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.sandbox and self.demo_trading:
            raise errors.ConfigError("exchange: choose sandbox or demo_trading, not both")
        if not 1 <= self.leverage <= 125:
            raise errors.ConfigError(f"exchange.leverage {self.leverage} outside 1..125")

    @classmethod
    def from_config(cls, config: ExchangeConfig) -> CcxtPerpSettings:
        """Settings from the ``exchange`` section of the bot configuration."""
        return cls(
            exchange_id=config.exchange_id,
            symbol=config.symbol,
            api_key=config.api_key,
            api_secret=config.api_secret,
            sandbox=config.sandbox,
            demo_trading=config.demo_trading,
            leverage=config.leverage,
            margin_mode=config.margin_mode,
            urls=MappingProxyType(dict(config.urls)),
            timeout_ms=config.timeout_ms,
        )


@dataclass(frozen=True, slots=True)
class AccountSetup:
    """What the venue accepted at start: leverage and margin mode may differ from the ask."""

    leverage: int
    margin_mode: str | None  # None: the venue refused the change (see note)
    note: str = ""


class CcxtPerpExchange:
    """A linear USD-margined perpetual on one symbol, through ccxt."""

    def __init__(self, settings: CcxtPerpSettings, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._client: Any = None
        self._market: dict[str, Any] = {}
        self._symbol = settings.symbol  # ccxt's unified symbol once start() has read the market
        self._rules: MarketRules | None = None
        self._contract_size = Decimal(1)
        self._client_ids: dict[str, str] = {}  # exchange order id -> client order id
        self.account_setup: AccountSetup | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Load markets, check one-way mode, apply margin mode and leverage."""
        self._client = self._build_client()
        try:
            await self._call(self._api().load_markets)
            try:
                market = self._api().market(self._settings.symbol)
            except ccxt.BadSymbol as exc:
                raise errors.ConfigError(
                    f"{self._settings.exchange_id} has no market {self._settings.symbol}"
                ) from exc
            if not (market.get("swap") and market.get("linear")):
                raise errors.ConfigError(
                    f"{self._settings.symbol} is not a linear perpetual on "
                    f"{self._settings.exchange_id}"
                )
            self._market = market
            # a market id ("ETHUSDT") is accepted by ccxt.market(), but ccxt reports positions,
            # orders and trades under the unified symbol: use that one everywhere
            self._symbol = str(market["symbol"])
            if self._symbol != self._settings.symbol:
                _log.info(
                    "exchange.symbol_normalised",
                    configured=self._settings.symbol,
                    symbol=self._symbol,
                )
            self._contract_size = _dec(market.get("contractSize")) or Decimal(1)
            self._rules = self._rules_from_market(market)
            await self._require_one_way_mode()
            self.account_setup = await self.apply_account_settings()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the HTTP session."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def _build_client(self) -> Any:
        s = self._settings
        exchange_class = getattr(ccxt_async, s.exchange_id, None)
        if exchange_class is None:
            raise errors.ConfigError(f"ccxt has no exchange {s.exchange_id!r}")
        # fetchCurrencies/fetchMargins would call binance's spot-only sapi endpoints at
        # load_markets when keys are set: useless for a perp and unreachable offline.
        options: dict[str, Any] = {
            "defaultType": "swap",
            "fetchCurrencies": False,
            "fetchMargins": False,
        }
        options.update(s.options)
        config: dict[str, Any] = {
            "enableRateLimit": s.enable_rate_limit,
            "timeout": s.timeout_ms,
            "options": options,
        }
        key, secret, password = _secret(s.api_key), _secret(s.api_secret), _secret(s.password)
        if s.exchange_id == "hyperliquid":
            config.update(walletAddress=key, privateKey=secret)
        else:
            config.update(apiKey=key, secret=secret)
        if password is not None:
            config["password"] = password
        client = exchange_class(config)
        if s.sandbox:
            if s.exchange_id in _SANDBOX_RETIRED:
                raise errors.ConfigError(_SANDBOX_RETIRED[s.exchange_id])
            try:
                client.set_sandbox_mode(True)
            except (KeyError, ccxt.NotSupported) as exc:
                raise errors.ConfigError(f"ccxt {s.exchange_id} has no sandbox mode") from exc
        if s.demo_trading:
            try:
                client.enable_demo_trading(True)
            except (AttributeError, KeyError, ccxt.NotSupported) as exc:
                # ccxt's base class has the method; exchanges without urls['demo'] fail in it
                raise errors.ConfigError(
                    f"ccxt {s.exchange_id} has no demo trading mode (try sandbox: true)"
                ) from exc
        if s.urls:
            api_urls = client.urls.get("api")
            if isinstance(api_urls, dict):
                client.urls["api"] = {**api_urls, **s.urls}
            elif "api" in s.urls:
                client.urls["api"] = s.urls["api"]
            else:
                raise errors.ConfigError(
                    f"ccxt {s.exchange_id} has one API url; override it with key 'api'"
                )
        return client

    async def _require_one_way_mode(self) -> None:
        if not self._api().has.get("fetchPositionMode"):
            return
        mode = await self._call(self._api().fetch_position_mode, self._symbol)
        if mode.get("hedged"):
            raise errors.ConfigError(
                f"{self._settings.exchange_id} account is in hedge (dual-side) position mode; "
                "hedgebot needs one-way mode"
            )

    async def apply_account_settings(self) -> AccountSetup:
        """Ask for the configured margin mode and leverage; return and log what was accepted."""
        s = self._settings
        margin_mode: str | None = s.margin_mode
        note = ""
        if self._api().has.get("setMarginMode"):
            try:
                await self._api().set_margin_mode(s.margin_mode, self._symbol)
            except ccxt.MarginModeAlreadySet:
                pass
            except (ccxt.ExchangeError, ccxt.NotSupported) as exc:
                # e.g. binance -4048: margin type cannot change while a position is open
                margin_mode, note = None, f"margin mode unchanged: {exc}"
                _log.warning("exchange.margin_mode_refused", wanted=s.margin_mode, reason=str(exc))
            except ccxt.BaseError as exc:
                raise self._map_error(exc) from exc
        response = await self._call(self._api().set_leverage, s.leverage, self._symbol)
        accepted = s.leverage
        if isinstance(response, Mapping) and response.get("leverage") is not None:
            accepted = int(response["leverage"])
        if accepted != s.leverage:
            _log.warning("exchange.leverage_adjusted", wanted=s.leverage, accepted=accepted)
        setup = AccountSetup(leverage=accepted, margin_mode=margin_mode, note=note)
        _log.info(
            "exchange.account_configured",
            exchange=s.exchange_id,
            symbol=self._symbol,
            leverage=setup.leverage,
            margin_mode=setup.margin_mode,
            note=setup.note,
        )
        return setup

    # ------------------------------------------------------------------- reads

    async def market_rules(self) -> MarketRules:
        """Precision and limits read from the ccxt market at start."""
        if self._rules is None:
            raise errors.ExchangeError("market_rules() before start()")
        return self._rules

    def _rules_from_market(self, market: Mapping[str, Any]) -> MarketRules:
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        amount_step = self._step(precision.get("amount"), "amount")
        price_tick = self._step(precision.get("price"), "price")
        amount_step_base = amount_step * self._contract_size
        min_amount = _dec((limits.get("amount") or {}).get("min"))
        min_notional = _dec((limits.get("cost") or {}).get("min"))
        return MarketRules(
            symbol=self._symbol,
            amount_step=amount_step_base,
            price_tick=price_tick,
            min_amount=(min_amount * self._contract_size) if min_amount else amount_step_base,
            min_notional=min_notional or Decimal(0),
        )

    def _step(self, raw: object, what: str) -> Decimal:
        value = _dec(raw)
        if value is None:
            raise errors.ExchangeError(f"{self._symbol} has no {what} precision")
        mode = self._api().precisionMode
        if mode == TICK_SIZE:
            return value
        if mode == DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(value))
        raise errors.ExchangeError(f"unsupported ccxt precisionMode {mode} for {what}")

    async def quote(self) -> MarketQuote:
        """Mark, index and funding from the funding-rate endpoint; best bid/ask from the book."""
        symbol = self._symbol
        funding = await self._call(self._api().fetch_funding_rate, symbol)
        book = await self._call(self._api().fetch_order_book, symbol, 5)
        mark = _dec(funding.get("markPrice"))
        if mark is None or mark <= 0:
            raise errors.ExchangeUnavailable(f"{symbol}: the venue reported no mark price")
        index = _dec(funding.get("indexPrice")) or mark
        rate = _dec(funding.get("fundingRate"))
        if rate is None:
            raise errors.ExchangeUnavailable(f"{symbol}: the venue reported no funding rate")
        next_ms = funding.get("fundingTimestamp") or funding.get("nextFundingTimestamp") or 0
        now_ms = funding.get("timestamp") or book.get("timestamp") or self._now_ms()
        bids, asks = book.get("bids") or [], book.get("asks") or []
        return MarketQuote(
            symbol=symbol,
            mark_price=mark,
            index_price=index,
            funding_rate=rate,
            next_funding_ts=int(next_ms) // 1000,
            timestamp=int(now_ms) // 1000,
            bid=_dec(bids[0][0]) if bids else None,
            ask=_dec(asks[0][0]) if asks else None,
        )

    async def position(self) -> PerpPosition:
        """The signed position on the hedge symbol; raises when it cannot be read."""
        symbol = self._symbol
        raw_positions = await self._call(self._api().fetch_positions, [symbol])
        ours = [p for p in raw_positions if p.get("symbol") == symbol]
        if not ours:
            # never report flat while the venue shows a position we cannot attribute: the bot
            # would then open the whole hedge again on every tick
            others = {str(p.get("symbol")) for p in raw_positions if _dec(p.get("contracts"))}
            if others:
                raise errors.ExchangeError(
                    f"{symbol}: the venue returned open positions only for "
                    f"{', '.join(sorted(others))}"
                )
        mine = [p for p in ours if _dec(p.get("contracts"))]
        leverage = self.account_setup.leverage if self.account_setup else self._settings.leverage
        if not mine:
            funding = await self._call(self._api().fetch_funding_rate, symbol)
            mark = _dec(funding.get("markPrice"))
            if mark is None:
                raise errors.ExchangeUnavailable(f"{symbol}: the venue reported no mark price")
            return PerpPosition(
                symbol=symbol,
                size_base=Decimal(0),
                entry_price=Decimal(0),
                mark_price=mark,
                unrealized_pnl=Decimal(0),
                margin=Decimal(0),
                liquidation_price=None,
                leverage=leverage,
            )
        if len(mine) > 1:
            raise errors.ExchangeError(f"{symbol}: {len(mine)} positions (hedge mode?)")
        raw = mine[0]
        contracts = _req(raw.get("contracts"), "position contracts")
        side = raw.get("side")
        if side not in ("long", "short"):
            raise errors.ExchangeError(f"{symbol}: position side {side!r} unknown")
        size = contracts * self._contract_size * (1 if side == "long" else -1)
        # isolated: the wallet assigned to the position (ex-PnL); cross: initial margin in use
        margin = _dec(raw.get("positionMargin")) or _dec(raw.get("initialMargin")) or Decimal(0)
        liquidation = _dec(raw.get("liquidationPrice"))
        return PerpPosition(
            symbol=symbol,
            size_base=size,
            entry_price=_req(raw.get("entryPrice"), "entry price"),
            mark_price=_req(raw.get("markPrice"), "mark price"),
            unrealized_pnl=_dec(raw.get("unrealizedPnl")) or Decimal(0),
            margin=margin,
            liquidation_price=liquidation if liquidation else None,
            leverage=int(raw["leverage"]) if raw.get("leverage") else leverage,
        )

    async def balance(self) -> AccountBalance:
        """Settlement-currency collateral: wallet balance (no unrealized PnL) and available."""
        settle = str(self._market.get("settle") or "USDT")
        raw = await self._call(self._api().fetch_balance)
        account = raw.get(settle)
        if not account:
            raise errors.ExchangeError(f"no {settle} balance reported")
        wallet = None
        info = raw.get("info")
        if isinstance(info, Mapping):  # binance reports walletBalance (ex-unrealized) per asset
            for asset in info.get("assets") or []:
                if asset.get("asset") == self._market.get("settleId"):
                    wallet = _dec(asset.get("walletBalance"))
        if wallet is None:
            wallet = _req(account.get("total"), f"{settle} total")
        return AccountBalance(
            asset=settle,
            wallet_balance=wallet,
            available=_req(account.get("free"), f"{settle} free"),
        )

    # ------------------------------------------------------------------ orders

    async def submit(self, intent: OrderIntent) -> Order:
        """IOC limit (``limit_price`` is the slippage cap) or market order, idempotent by id."""
        if intent.symbol not in (self._symbol, self._settings.symbol):
            raise errors.InvalidOrder(f"{intent.symbol}: this adapter trades {self._symbol}")
        client = self._api()
        contracts = intent.amount_base / self._contract_size
        symbol = self._symbol
        try:
            rounded = Decimal(client.amount_to_precision(symbol, float(contracts)))
        except ccxt.BaseError as exc:
            raise self._map_error(exc) from exc
        if rounded != contracts:
            raise errors.InvalidOrder(
                f"amount {intent.amount_base} is not a multiple of the venue step"
            )
        params: dict[str, Any] = {
            "clientOrderId": intent.client_order_id,
            "reduceOnly": intent.reduce_only,
        }
        order_type = "market"
        price: float | None = None
        if intent.limit_price is not None:
            order_type, price = "limit", float(intent.limit_price)
            params["timeInForce"] = "IOC"
        _log.info(
            "order.submitting",
            client_order_id=intent.client_order_id,
            side=intent.side.value,
            amount_base=str(intent.amount_base),
            limit_price=str(intent.limit_price) if intent.limit_price is not None else None,
            reduce_only=intent.reduce_only,
        )
        try:
            raw = await client.create_order(
                symbol, order_type, intent.side.value, float(contracts), price, params
            )
        except ccxt.BaseError as exc:
            mapped = self._map_error(exc, client_order_id=intent.client_order_id, order_sent=True)
            if _is_duplicate_client_id(exc):
                existing = await self._order_behind_duplicate(intent.client_order_id)
                if existing is not None:
                    _log.info("order.duplicate_client_id", client_order_id=intent.client_order_id)
                    return existing
            _log.warning(
                "order.failed",
                client_order_id=intent.client_order_id,
                error=type(mapped).__name__,
                reason=str(mapped),
            )
            raise mapped from exc
        order = self._order_from_ccxt(raw, intent)
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
        except errors.ExchangeError as exc:
            _log.warning(
                "order.duplicate_lookup_failed",
                client_order_id=client_order_id,
                error=type(exc).__name__,
                reason=str(exc),
            )
            return None

    async def fetch_order(self, client_order_id: str) -> Order | None:
        """The order with this client id, or None when the venue does not know it."""
        client = self._api()
        try:
            raw = await client.fetch_order(None, self._symbol, {"clientOrderId": client_order_id})
        except ccxt.OrderNotFound:
            return None
        except ccxt.BaseError as exc:
            if _binance_code(exc) in _ORDER_NOT_FOUND_CODES:
                return None
            raise self._map_error(exc) from exc
        return self._order_from_ccxt(raw)

    async def open_orders(self) -> list[Order]:
        """Resting orders on the hedge symbol."""
        raw_orders = await self._call(self._api().fetch_open_orders, self._symbol)
        return [self._order_from_ccxt(raw) for raw in raw_orders]

    async def cancel(self, client_order_id: str) -> None:
        """Cancel a resting order; ``bot.errors.OrderNotFound`` when none is resting."""
        await self._call(
            self._api().cancel_order,
            None,
            self._symbol,
            {"clientOrderId": client_order_id},
        )

    async def fills(self, since_ms: int) -> list[Fill]:
        """Our executions since ``since_ms``, in time order, each tied to its client order id."""
        symbol = self._symbol
        trades = await self._windowed(self._api().fetch_my_trades, since_ms)
        order_ids = {str(t["order"]) for t in trades if t.get("order") is not None}
        for order_id in sorted(order_ids - self._client_ids.keys()):  # e.g. after a restart
            await self._remember_order(order_id)
        result: list[Fill] = []
        for t in trades:
            order_id = str(t.get("order"))
            client_id = self._client_ids.get(order_id)
            if client_id is None:
                raise errors.ExchangeError(
                    f"fill {t.get('id')}: order {order_id} has no client order id"
                )
            info = _mapping(t.get("info"))
            result.append(
                Fill(
                    trade_id=str(t["id"]),
                    client_order_id=client_id,
                    exchange_order_id=order_id,
                    symbol=symbol,
                    side=Side(t["side"]),
                    amount_base=_req(t.get("amount"), "trade amount") * self._contract_size,
                    price=_req(t.get("price"), "trade price"),
                    fee_quote=self._fee_quote(t.get("fee"), ref=f"trade {t['id']}"),
                    realized_pnl=_dec(info.get("realizedPnl")) or Decimal(0),
                    timestamp=int(t["timestamp"]),
                )
            )
        return sorted(result, key=lambda f: (f.timestamp, f.trade_id))

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Funding since ``since_ms``; rate and mark come from the venue's funding-rate history.

        Binance's income record holds only the amount, so the position size is derived:
        ``amount = -position * mark * rate``.
        """
        symbol = self._symbol
        incomes = await self._paged(self._api().fetch_funding_history, since_ms)
        if not incomes:
            return []
        rates = await self._paged(self._api().fetch_funding_rate_history, since_ms - 1000)
        result: list[FundingPayment] = []
        for income in incomes:
            ts = int(income["timestamp"])
            amount = _req(income.get("amount"), "funding amount")
            nearest = min(rates, key=lambda r: abs(int(r["timestamp"]) - ts), default=None)
            if nearest is None or abs(int(nearest["timestamp"]) - ts) > _FUNDING_MATCH_MS:
                raise errors.ExchangeError(f"funding at {ts}: no funding rate published then")
            rate = _req(nearest.get("fundingRate"), "funding rate")
            info = _mapping(nearest.get("info"))
            mark = _dec(info.get("markPrice")) or Decimal(0)
            position = Decimal(0)
            if rate and mark and self._rules is not None:
                position = (-amount / (mark * rate)).quantize(self._rules.amount_step)
            result.append(
                FundingPayment(
                    id=str(income.get("id") or ts),
                    symbol=symbol,
                    amount_quote=amount,
                    rate=rate,
                    position_base=position,
                    mark_price=mark,
                    timestamp=ts,
                )
            )
        return sorted(result, key=lambda p: (p.timestamp, p.id))

    # ----------------------------------------------------------------- helpers

    async def _windowed(
        self, method: Callable[..., Awaitable[list[dict[str, Any]]]], since_ms: int
    ) -> list[dict[str, Any]]:
        """Page a history endpoint through 7-day windows (binance caps each query at 7 days)."""
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        now = self._api().milliseconds()
        start = max(since_ms, now - _HISTORY_MS)
        while True:
            # the last window is open-ended: the venue's clock may run ahead of ours
            end = start + _WEEK_MS - 1
            last = end >= now
            params = {} if last else {"until": end}
            page = await self._call(method, self._symbol, start, _PAGE, params)
            for row in page:
                key = str(row.get("id"))
                if key not in seen:
                    seen.add(key)
                    out.append(row)
            if len(page) >= _PAGE:
                start = max(int(r["timestamp"]) for r in page) + 1
            elif last:
                return out
            else:
                start = end + 1

    async def _paged(
        self, method: Callable[..., Awaitable[list[dict[str, Any]]]], since_ms: int
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        start = since_ms
        while True:
            page = await self._call(method, self._symbol, start, _PAGE)
            out.extend(page)
            if len(page) < _PAGE:
                return out
            start = max(int(r["timestamp"]) for r in page) + 1

    async def _remember_order(self, order_id: str) -> None:
        """Cache the client id of an order known only by its exchange id (a fill's order).

        Looked up by id, not by a time window: the venue files orders under their creation
        time, which may precede the window of the fills being read (after a restart).
        """
        try:
            raw = await self._api().fetch_order(order_id, self._symbol)
        except ccxt.BaseError as exc:
            if isinstance(exc, ccxt.OrderNotFound) or _binance_code(exc) in _ORDER_NOT_FOUND_CODES:
                raise errors.ExchangeError(
                    f"{self._settings.exchange_id}: order {order_id} of a fill not found: {exc}"
                ) from exc
            raise self._map_error(exc) from exc
        self._remember(raw)

    def _remember(self, raw: Mapping[str, Any]) -> None:
        if raw.get("id") is not None and raw.get("clientOrderId"):
            self._client_ids[str(raw["id"])] = str(raw["clientOrderId"])

    def _order_from_ccxt(self, raw: Mapping[str, Any], intent: OrderIntent | None = None) -> Order:
        self._remember(raw)
        client_id = raw.get("clientOrderId") or (intent.client_order_id if intent else None)
        if not client_id:
            raise errors.ExchangeError(f"order {raw.get('id')} has no client order id")
        amount = _dec(raw.get("amount"))
        if amount is None:
            amount = intent.amount_base / self._contract_size if intent else Decimal(0)
        filled = _dec(raw.get("filled")) or Decimal(0)
        side = raw.get("side") or (intent.side.value if intent else None)
        if side not in ("buy", "sell"):
            raise errors.ExchangeError(f"order {raw.get('id')} has side {side!r}")
        reduce_only = raw.get("reduceOnly")
        if reduce_only is None:
            reduce_only = intent.reduce_only if intent else False
        fee = raw.get("fee")
        return Order(
            client_order_id=str(client_id),
            exchange_order_id=str(raw.get("id")),
            symbol=self._symbol,
            side=Side(side),
            amount_base=amount * self._contract_size,
            filled_base=filled * self._contract_size,
            average_price=_dec(raw.get("average")) if filled else None,
            status=_status(raw.get("status"), filled),
            reduce_only=bool(reduce_only),
            fee_quote=self._fee_quote(fee, ref=f"order {raw.get('id')}"),
            timestamp=int(raw.get("timestamp") or self._now_ms()),
        )

    def _fee_quote(self, fee: object, *, ref: str = "") -> Decimal:
        """The fee in quote; a fee in another asset (e.g. a BNB discount) counts as 0 and is
        logged, since no price to convert it at is known here."""
        if not isinstance(fee, Mapping) or fee.get("cost") is None:
            return Decimal(0)
        cost = _dec(fee["cost"]) or Decimal(0)
        currency = fee.get("currency")
        if currency in (None, self._market.get("settle"), self._market.get("quote")):
            return cost
        if cost:
            _log.warning("fill.fee_not_in_quote", currency=currency, amount=str(cost), ref=ref)
        return Decimal(0)

    def _now_ms(self) -> int:
        if self._clock is not None:
            return int(self._clock.now() * 1000)
        return int(self._api().milliseconds())

    def _api(self) -> Any:
        if self._client is None:
            raise errors.ExchangeError("exchange used before start() or after close()")
        return self._client

    async def _call(self, method: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run a ccxt call that places nothing; map its failure to ``bot.errors``."""
        self._api()
        try:
            return await method(*args)
        except ccxt.BaseError as exc:
            raise self._map_error(exc) from exc

    def _retry_after_s(self) -> float | None:
        headers = getattr(self._client, "last_response_headers", None) or {}
        for name, value in headers.items():
            if name.lower() == "retry-after":
                try:
                    return float(value)
                except ValueError:
                    return None
        return None

    def _map_error(
        self, exc: BaseException, *, client_order_id: str | None = None, order_sent: bool = False
    ) -> errors.ExchangeError:
        """The one place ccxt exceptions become ``bot.errors``."""
        text = f"{self._settings.exchange_id}: {exc}"
        code = _binance_code(exc)
        lowered = str(exc).lower()
        if isinstance(exc, ccxt.DDoSProtection) or code in _RATE_LIMIT_CODES:
            return errors.RateLimited(text, retry_after_s=self._retry_after_s())
        if isinstance(exc, ccxt.AuthenticationError) or code in _AUTH_CODES:
            return errors.AuthenticationError(text)
        if code in _INSUFFICIENT_MARGIN_CODES or isinstance(exc, ccxt.InsufficientFunds):
            return errors.InsufficientMargin(text)
        if code in _REDUCE_ONLY_CODES or (
            isinstance(exc, ccxt.InvalidOrder) and "reduce" in lowered and "only" in lowered
        ):
            return errors.ReduceOnlyRejected(text)
        if code in _MIN_NOTIONAL_CODES or (
            isinstance(exc, ccxt.InvalidOrder) and "notional" in lowered
        ):
            return errors.MinNotionalError(text)
        if code in _ORDER_NOT_FOUND_CODES or isinstance(exc, ccxt.OrderNotFound):
            return errors.OrderNotFound(text)
        if _is_duplicate_client_id(exc):
            if client_order_id is not None:  # the order may exist: only a lookup can tell
                return errors.OrderOutcomeUnknown(
                    f"duplicate client order id: {text}", client_order_id
                )
            return errors.InvalidOrder(f"duplicate client order id: {text}")
        if isinstance(exc, ccxt.InvalidNonce):  # clock skew: refused before any side effect
            return errors.ExchangeUnavailable(text)
        if isinstance(exc, ccxt.OperationFailed) or code in _OUTCOME_UNKNOWN_CODES:
            if order_sent and client_order_id is not None and not _never_connected(exc):
                return errors.OrderOutcomeUnknown(text, client_order_id)
            return errors.ExchangeUnavailable(text)
        if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest):
            return errors.InvalidOrder(text)
        return errors.ExchangeError(text)


def _never_connected(exc: BaseException) -> bool:
    """True when the request provably never reached the venue (connection refused, DNS)."""
    return isinstance(exc.__cause__, aiohttp.ClientConnectorError | socket.gaierror)


def _is_duplicate_client_id(exc: BaseException) -> bool:
    """Binance -4116 ``ClientOrderId is duplicated``."""
    return (
        _binance_code(exc) in _DUPLICATE_CLIENT_ID_CODES
        or "clientorderid is duplicated" in str(exc).lower()
    )


def _binance_code(exc: BaseException) -> int | None:
    match = _BINANCE_CODE.search(str(exc))
    return int(match.group(1)) if match else None


def _status(raw: object, filled: Decimal) -> OrderStatus:
    """ccxt's unified status to ours; an IOC remainder cancelled after a fill is partial."""
    if raw == "closed":
        return OrderStatus.FILLED
    if raw == "open":
        return OrderStatus.OPEN
    if raw in ("canceled", "expired"):
        if filled > 0:
            return OrderStatus.PARTIALLY_FILLED
        return OrderStatus.CANCELED if raw == "canceled" else OrderStatus.EXPIRED
    if raw == "rejected":
        return OrderStatus.REJECTED
    return OrderStatus.UNKNOWN


def _dec(value: object) -> Decimal | None:
    """ccxt numbers (float/str/int/None) to Decimal via their shortest text, trailing zeros cut."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        result = Decimal(str(value))
    else:
        raise errors.ExchangeError(f"not a number: {value!r}")
    if not result.is_finite():
        raise errors.ExchangeError(f"not a finite number: {value!r}")
    normal = result.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:  # 2E+3 -> 2000
        return normal.quantize(Decimal(1))
    return normal


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _req(value: object, what: str) -> Decimal:
    result = _dec(value)
    if result is None:
        raise errors.ExchangeError(f"the venue reported no {what}")
    return result
