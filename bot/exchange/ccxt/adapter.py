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

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

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
    PerpPosition,
)
from bot.exchange import ccxt_parse as parse
from bot.exchange.ccxt_errors import (
    PARSE_FAILURES,
    ErrorContext,
    is_duplicate_client_id,
    is_not_modified,
    is_order_not_found,
    is_setup_fatal,
    is_timestamp_error,
    map_ccxt_error,
    venue_code,
)
from bot.exchange.ccxt_fields import mapping, required, timestamp_ms
from bot.exchange.ccxt_history import (
    REALIZED_PNL_FIELDS,
    fee_cost,
    fill_from_ccxt,
    funding_from_ccxt,
    order_from_ccxt,
)
from bot.exchange.ccxt_http import bounded_json_parser, bounded_session
from bot.exchange.ccxt_raw import checked_fetch
from bot.ports import Clock
from bot.safety import MAX_RESPONSE_BYTES, describe_exc, safe_str

if TYPE_CHECKING:
    from bot.config import ExchangeConfig

__all__ = ["AccountSetup", "CcxtPerpExchange", "CcxtPerpSettings"]

# venues that sign a ``timestamp`` judged against a recvWindow: they sign with the injected
# clock (the wall clock in production); nonce-signing venues keep ccxt's own, always-rising one
_TIMESTAMP_SIGNED = frozenset({"binance", "binanceusdm", "binancecoinm"})
_log = structlog.get_logger("bot.exchange.ccxt_perp")
_T = TypeVar("_T")
_HISTORY_MS = 180 * 86_400_000  # venues keep about six months of trade history
_WEEK_MS = 7 * 24 * 3600 * 1000
_PAGE = 1000
# venues whose ccxt balance ``total`` includes unrealized PnL: the wallet must come from info
_WALLET_IN_INFO = frozenset({"binanceusdm", "binance"})
# what a failed ccxt call can raise: ccxt's own errors, and parse failures of a hostile answer
_CALL_FAILURES: tuple[type[BaseException], ...] = (ccxt.BaseError, *PARSE_FAILURES)
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
    max_response_bytes: int = MAX_RESPONSE_BYTES  # a larger venue answer is refused unread
    sync_time: bool = True  # measure the venue's clock at start and sign with it

    def __post_init__(self) -> None:
        if self.sandbox and self.demo_trading:
            raise errors.ConfigError("exchange: choose sandbox or demo_trading, not both")
        if not 1 <= self.leverage <= 125:
            raise errors.ConfigError(f"exchange.leverage {self.leverage} outside 1..125")
        if self.max_response_bytes < 1024:
            raise errors.ConfigError("exchange.max_response_bytes below 1024")

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
            max_response_bytes=config.max_response_bytes,
            sync_time=config.sync_time,
        )


@dataclass(frozen=True, slots=True)
class AccountSetup:
    """What the venue accepted at start: leverage and margin mode may differ from the ask."""

    leverage: int
    margin_mode: str | None  # the venue's; None: refused and ccxt cannot read it (see note)
    note: str = ""


class CcxtPerpExchange:
    """A linear USD-margined perpetual on one symbol, through ccxt."""

    def __init__(self, settings: CcxtPerpSettings, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._client: Any = None
        self._session: Any = None  # the bounded aiohttp session given to ccxt
        self._market: dict[str, Any] = {}
        self._symbol = settings.symbol  # ccxt's unified symbol once start() has read the market
        self._rules: MarketRules | None = None
        self._contract_size = Decimal(1)
        self._client_ids: dict[str, str] = {}  # exchange order id -> client order id
        self.account_setup: AccountSetup | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Load markets, sync the clock, check one-way mode, apply margin mode and leverage.

        Raises ``ConfigError`` for an unknown or non-linear-perpetual symbol or a hedge-mode
        account, and the mapped ``ExchangeError`` when the venue cannot be read.
        """
        self._client = self._build_client()
        # ccxt reads through a session that refuses oversized answers; ccxt leaves it open
        self._session = self._client.session = bounded_session(self._settings.max_response_bytes)
        self._client.own_session = False
        try:
            await self._call(self._api().load_markets)
            await self.sync_time()
            market = self._read_market()
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
            self._rules = self._rules_from_market(market)
            await self._require_one_way_mode()
            self.account_setup = await self.apply_account_settings()
        except BaseException:
            await self.close()
            raise

    def _read_market(self) -> Mapping[str, Any]:
        try:
            market = mapping(self._api().market(self._settings.symbol), "market")
        except ccxt.BadSymbol as exc:
            raise errors.ConfigError(
                f"{self._settings.exchange_id} has no market {self._settings.symbol}"
            ) from exc
        if not (market.get("swap") and market.get("linear")):
            raise errors.ConfigError(
                f"{self._settings.symbol} is not a linear perpetual on {self._settings.exchange_id}"
            )
        return market

    async def sync_time(self) -> None:
        """Measure the venue's clock (ccxt ``load_time_difference``) so signed requests carry
        its time, not the host's; a failure is logged and signing stays on the host clock."""
        client = self._api()
        if not (self._settings.sync_time and client.has.get("fetchTime")):
            return
        try:
            await client.load_time_difference()
        except _CALL_FAILURES as exc:
            mapped = self._map_error(exc)
            _log.warning(
                "exchange.time_sync_failed", error=type(mapped).__name__, reason=str(mapped)
            )
            return
        _log.info("exchange.time_synced", offset_ms=client.options.get("timeDifference"))

    async def close(self) -> None:
        """Close the HTTP session."""
        client, self._client = self._client, None
        session, self._session = self._session, None
        try:
            if client is not None:
                await client.close()
        finally:
            if session is not None:
                await session.close()

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
        if self._clock is not None and s.exchange_id in _TIMESTAMP_SIGNED:
            clock = self._clock  # the host clock: a test's ManualClock signs in venue time
            client.milliseconds = lambda: int(clock.now() * 1000)
        client.on_json_response = bounded_json_parser(s.max_response_bytes)
        # every answer is checked raw, before ccxt can filter or default what it cannot read
        client.fetch = checked_fetch(
            client.fetch, s.exchange_id, lambda: set(client.markets_by_id or ()) or None
        )
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
        mode = mapping(
            await self._call(self._api().fetch_position_mode, self._symbol), "position mode"
        )
        hedged = mode.get("hedged")
        if not isinstance(hedged, bool):
            raise errors.VenueDataError(f"position mode: hedged {hedged!r} is not a boolean")
        if hedged:
            raise errors.ConfigError(
                f"{self._settings.exchange_id} account is in hedge (dual-side) position mode; "
                "hedgebot needs one-way mode"
            )

    async def apply_account_settings(self) -> AccountSetup:
        """Ask for the configured margin mode and leverage; return and log what was accepted.

        "Not modified" answers (``ccxt_errors.NOT_MODIFIED``) are success. Any other refusal,
        whatever its code (Binance -2027, -4028, -4161, ...), is logged with the venue's
        current setting, read back (``fetchLeverage``/``fetchMarginMode``), which is then
        used, and start goes on so an open hedge is managed. Raises the mapped
        ``AuthenticationError``/``ExchangeUnavailable`` when the venue was not reached or
        refused the keys, and ``ExchangeError`` (one line) when the refused setting cannot be
        read back.
        """
        s = self._settings
        margin_mode, note = await self._apply_margin_mode()
        leverage, leverage_note = await self._apply_leverage()
        setup = AccountSetup(
            leverage=leverage,
            margin_mode=margin_mode,
            note="; ".join(n for n in (note, leverage_note) if n),
        )
        _log.info(
            "exchange.account_configured",
            exchange=s.exchange_id,
            symbol=self._symbol,
            leverage=setup.leverage,
            margin_mode=setup.margin_mode,
            note=setup.note,
        )
        return setup

    def _setup_refusal(self, exc: BaseException) -> errors.ExchangeError:
        """The mapped refusal of a start-up setting; raised when start cannot go on after it."""
        mapped = self._map_error(exc)
        if is_setup_fatal(mapped):
            raise mapped from exc
        return mapped

    async def _apply_margin_mode(self) -> tuple[str | None, str]:
        s = self._settings
        if not self._api().has.get("setMarginMode"):
            return s.margin_mode, ""
        try:
            await self._request(self._api().set_margin_mode, s.margin_mode, self._symbol)
        except _CALL_FAILURES as exc:
            if is_not_modified(s.exchange_id, exc):
                return s.margin_mode, ""
            refusal = self._setup_refusal(exc)
            current = await self._venue_margin_mode(refusal)
            _log.warning(
                "exchange.margin_mode_refused",
                wanted=s.margin_mode,
                current=current,
                code=venue_code(exc),
                reason=safe_str(refusal),
            )
            return current, f"margin mode unchanged at {current}: {safe_str(refusal)}"
        return s.margin_mode, ""

    async def _apply_leverage(self) -> tuple[int, str]:
        s = self._settings
        try:
            response = await self._request(self._api().set_leverage, s.leverage, self._symbol)
        except _CALL_FAILURES as exc:
            if is_not_modified(s.exchange_id, exc):
                return s.leverage, ""
            refusal = self._setup_refusal(exc)
            current = await self._venue_leverage(refusal)
            _log.warning(
                "exchange.leverage_refused",
                wanted=s.leverage,
                current=current,
                code=venue_code(exc),
                reason=safe_str(refusal),
            )
            return current, f"leverage unchanged at {current}: {safe_str(refusal)}"
        accepted = s.leverage
        if isinstance(response, Mapping) and response.get("leverage") is not None:
            accepted = int(required(response, "leverage", "set leverage answer", sign="positive"))
        if accepted != s.leverage:
            _log.warning("exchange.leverage_adjusted", wanted=s.leverage, accepted=accepted)
        return accepted, ""

    def _unreadable_setting(
        self, setting: str, refusal: errors.ExchangeError, why: object
    ) -> errors.ExchangeError:
        s = self._settings
        return errors.ExchangeError(
            f"{s.exchange_id}: {setting} refused ({safe_str(refusal, 200)}) and the venue's "
            f"current {setting} cannot be read back: {safe_str(why, 200)}"
        )

    async def _venue_leverage(self, refusal: errors.ExchangeError) -> int:
        """The leverage the venue has for the symbol now; ``ExchangeError`` when unreadable."""
        if not self._api().has.get("fetchLeverage"):
            raise self._unreadable_setting("leverage", refusal, "no fetchLeverage in ccxt")
        try:
            raw = await self._call(self._api().fetch_leverage, self._symbol)
            return parse.leverage_from_ccxt(mapping(raw, "leverage"), f"{self._symbol} leverage")
        except errors.ExchangeError as exc:
            raise self._unreadable_setting("leverage", refusal, describe_exc(exc)) from exc

    async def _venue_margin_mode(self, refusal: errors.ExchangeError) -> str | None:
        """The venue's margin mode for the symbol now; None when ccxt cannot read it for this
        venue (start goes on, as before), ``ExchangeError`` when the read fails."""
        if not self._api().has.get("fetchMarginMode"):
            return None
        try:
            raw = await self._call(self._api().fetch_margin_mode, self._symbol)
            return parse.margin_mode_from_ccxt(
                mapping(raw, "margin mode"), f"{self._symbol} margin mode"
            )
        except errors.ExchangeError as exc:
            raise self._unreadable_setting("margin mode", refusal, describe_exc(exc)) from exc

    # ------------------------------------------------------------------- reads

    async def market_rules(self) -> MarketRules:
        """Precision and limits read from the ccxt market at start."""
        if self._rules is None:
            raise errors.ExchangeError("market_rules() before start()")
        return self._rules

    def _rules_from_market(self, market: Mapping[str, Any]) -> MarketRules:
        mode = self._api().precisionMode
        if mode not in (TICK_SIZE, DECIMAL_PLACES):
            raise errors.ExchangeError(f"unsupported ccxt precisionMode {mode}")
        return parse.rules_from_market(
            market,
            symbol=self._symbol,
            contract_size=self._contract_size,
            precision_mode="tick" if mode == TICK_SIZE else "decimals",
        )

    async def quote(self) -> MarketQuote:
        """Mark, index and funding from the funding-rate endpoint; best bid/ask from the book.

        Raises ``VenueDataError`` when a field is missing or invalid (``ccxt_parse``)."""
        symbol = self._symbol
        funding = mapping(await self._call(self._api().fetch_funding_rate, symbol), "funding rate")
        book = mapping(await self._call(self._api().fetch_order_book, symbol, 5), "order book")
        return parse.quote_from_ccxt(funding, book, symbol=symbol, now_ms=self._now_ms())

    async def position(self) -> PerpPosition:
        """The signed position on the hedge symbol (base units, short < 0).

        Flat only when the venue lists no row for it or a row of zero contracts. The raw
        answer is checked before ccxt filters it (``ccxt_raw``: a non-object element, an open
        row with entry price 0 or of no known market), and a row it cannot size (contracts
        null, side against sign, notional off) raises ``VenueDataError``; rows open on other
        symbols only raise ``ExchangeError``.
        """
        symbol = self._symbol
        raw_positions = await self._call(self._api().fetch_positions, [symbol])
        raw_size = parse.RAW_SIZE_FIELDS.get(self._settings.exchange_id)
        row = parse.hedge_position_row(raw_positions, symbol, self._contract_size, raw_size)
        leverage = self.account_setup.leverage if self.account_setup else self._settings.leverage
        if row is not None:
            return parse.position_from_ccxt(
                row,
                symbol=symbol,
                contract_size=self._contract_size,
                default_leverage=leverage,
                raw_size=raw_size,
            )
        funding = mapping(await self._call(self._api().fetch_funding_rate, symbol), "funding rate")
        return PerpPosition(
            symbol=symbol,
            size_base=Decimal(0),
            entry_price=Decimal(0),
            mark_price=required(funding, "markPrice", f"{symbol} funding rate", sign="positive"),
            unrealized_pnl=Decimal(0),
            margin=Decimal(0),
            liquidation_price=None,
            leverage=leverage,
        )

    async def balance(self) -> AccountBalance:
        """Settlement-currency collateral: wallet balance (no unrealized PnL) and available."""
        raw = mapping(await self._call(self._api().fetch_balance), "balance")
        settle_id = self._market.get("settleId")
        return parse.balance_from_ccxt(
            raw,
            settle=str(self._market.get("settle") or "USDT"),
            settle_id=str(settle_id) if settle_id is not None else None,
            wallet_in_info=self._settings.exchange_id in _WALLET_IN_INFO,
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
            # a timestamp refusal (-1021) happens before any side effect: re-synced and re-sent
            raw = await self._request(
                client.create_order,
                symbol,
                order_type,
                intent.side.value,
                float(contracts),
                price,
                params,
            )
            order = self._order_from_ccxt(mapping(raw, "order answer"), intent)
        except _CALL_FAILURES as exc:
            mapped = self._map_error(exc, client_order_id=intent.client_order_id, order_sent=True)
            if is_duplicate_client_id(exc):
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
            raw = await self._request(
                client.fetch_order, None, self._symbol, {"clientOrderId": client_order_id}
            )
            return self._order_from_ccxt(mapping(raw, "order"))
        except _CALL_FAILURES as exc:
            if is_order_not_found(exc):
                return None
            raise self._map_error(exc) from exc

    async def open_orders(self) -> list[Order]:
        """Resting orders on the hedge symbol."""
        raw_orders = await self._call(self._api().fetch_open_orders, self._symbol)
        return [self._order_from_ccxt(mapping(raw, "open order")) for raw in _rows(raw_orders)]

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
            fill, currency = fill_from_ccxt(
                t,
                symbol=self._symbol,
                contract_size=self._contract_size,
                client_order_id=client_id,
                realized_pnl_key=REALIZED_PNL_FIELDS.get(self._settings.exchange_id),
            )
            fee = self._fee_in_quote(fill.fee_quote, currency, ref=f"trade {fill.trade_id}")
            result.append(replace(fill, fee_quote=fee))
        return sorted(result, key=lambda f: (f.timestamp, f.trade_id))

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Funding since ``since_ms``; rate and mark come from the venue's funding-rate history.

        Binance's income record holds only the amount, so the position size is derived:
        ``amount = -position * mark * rate``.
        """
        incomes = await self._paged(self._api().fetch_funding_history, since_ms)
        if not incomes:
            return []
        rates = await self._paged(self._api().fetch_funding_rate_history, since_ms - 1000)
        step = self._rules.amount_step if self._rules is not None else Decimal("1e-8")
        result = [
            funding_from_ccxt(income, rates, symbol=self._symbol, amount_step=step)
            for income in incomes
        ]
        return sorted(result, key=lambda p: (p.timestamp, p.id))

    # ----------------------------------------------------------------- helpers

    async def _windowed(
        self, method: Callable[..., Awaitable[list[dict[str, Any]]]], since_ms: int
    ) -> list[Mapping[str, Any]]:
        """Page a history endpoint through 7-day windows (binance caps each query at 7 days)."""
        out: list[Mapping[str, Any]] = []
        seen: set[str] = set()
        now = self._api().milliseconds()
        start = max(since_ms, now - _HISTORY_MS)
        while True:
            # the last window is open-ended: the venue's clock may run ahead of ours
            end = start + _WEEK_MS - 1
            last = end >= now
            params = {} if last else {"until": end}
            page = _rows(await self._call(method, self._symbol, start, _PAGE, params))
            for row in page:
                key = str(row.get("id"))
                if key not in seen:
                    seen.add(key)
                    out.append(row)
            if len(page) >= _PAGE:
                start = _latest_ms(page) + 1
            elif last:
                return out
            else:
                start = end + 1

    async def _paged(
        self, method: Callable[..., Awaitable[list[dict[str, Any]]]], since_ms: int
    ) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        start = since_ms
        while True:
            page = _rows(await self._call(method, self._symbol, start, _PAGE))
            out.extend(page)
            if len(page) < _PAGE:
                return out
            start = _latest_ms(page) + 1

    async def _remember_order(self, order_id: str) -> None:
        """Cache the client id of an order known only by its exchange id (a fill's order).

        Looked up by id, not by a time window: the venue files orders under their creation
        time, which may precede the window of the fills being read (after a restart).
        """
        try:
            raw = mapping(
                await self._request(self._api().fetch_order, order_id, self._symbol), "order"
            )
        except _CALL_FAILURES as exc:
            if is_order_not_found(exc):
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
        cost, currency = fee_cost(fee, ref or "fee")
        return self._fee_in_quote(cost, currency, ref=ref)

    def _fee_in_quote(self, cost: Decimal, currency: object, *, ref: str) -> Decimal:
        """The fee in quote; a fee in another asset (e.g. a BNB discount) counts as 0 and is
        logged, since no price to convert it at is known here."""
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

    async def _request(self, method: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run a ccxt call; on a timestamp refusal (host clock off, -1021 / InvalidNonce),
        re-sync the clock and send it once more. Raises what ccxt raised."""
        self._api()
        try:
            return await method(*args)
        except _CALL_FAILURES as exc:
            if not is_timestamp_error(exc) or not self._settings.sync_time:
                raise
            _log.warning("exchange.timestamp_refused", reason=str(self._map_error(exc)))
        await self.sync_time()
        return await method(*args)

    async def _call(self, method: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run a ccxt call that places nothing; map its failure to ``bot.errors``."""
        try:
            return await self._request(method, *args)
        except _CALL_FAILURES as exc:
            raise self._map_error(exc) from exc

    def _retry_after_s(self) -> float | None:
        headers = getattr(self._client, "last_response_headers", None) or {}
        for name, value in headers.items():
            if str(name).lower() == "retry-after":
                try:
                    return float(value)
                except (TypeError, ValueError):
                    return None
        return None

    def _map_error(
        self, exc: BaseException, *, client_order_id: str | None = None, order_sent: bool = False
    ) -> errors.ExchangeError:
        """The one place ccxt exceptions (and unparseable answers) become ``bot.errors``."""
        return map_ccxt_error(
            exc,
            ErrorContext(
                exchange_id=self._settings.exchange_id,
                client_order_id=client_order_id,
                order_sent=order_sent,
                retry_after_s=self._retry_after_s(),
            ),
        )


def _rows(page: object) -> list[Mapping[str, Any]]:
    """A ccxt list answer whose every item is an object; ``VenueDataError`` otherwise."""
    if not isinstance(page, list):
        raise errors.VenueDataError(f"expected a list, got {type(page).__name__}")
    return [mapping(row, "row") for row in page]


def _latest_ms(page: list[Mapping[str, Any]]) -> int:
    return max(timestamp_ms(r.get("timestamp"), "row timestamp") for r in page)
