"""What the ccxt adapter is built from: ``CcxtPerpSettings`` and the per-exchange venue switches.

Exchanges (ccxt 4.5) and how their test environments are switched:

- ``binanceusdm``: verified end to end offline against ``bot.exchange.emulators.binance_usdm``.
  Binance's futures *testnet* is dead for ccxt: ``set_sandbox_mode(True)`` still swaps in
  ``testnet.binancefuture.com`` but every signed futures call then raises ``NotSupported``, so
  ``sandbox=True`` is refused with ``ConfigError`` (``SANDBOX_RETIRED``). Use
  ``demo_trading=True``: ``enable_demo_trading(True)`` swaps ``urls['api']`` for
  ``urls['demo']`` (``demo-fapi.binance.com``), with keys made on demo.binance.com.
- ``bybit``: ``sandbox=True`` -> ``set_sandbox_mode(True)`` (``api-testnet.bybit.com``);
  ``demo_trading=True`` -> ``enable_demo_trading(True)`` (``api-demo.bybit.com``). Not verified
  offline.
- ``okx``: ``sandbox=True`` -> ``set_sandbox_mode(True)``, which sends the
  ``x-simulated-trading: 1`` header (demo-trading keys); okx also needs ``password`` (the API
  passphrase). ``demo_trading`` is refused (ccxt has no ``urls['demo']`` for okx). Not
  verified offline.
- ``hyperliquid``: ``sandbox=True`` -> ``set_sandbox_mode(True)`` (testnet). Verified end to end
  offline against ``bot.exchange.emulators.hyperliquid``. Credentials are a wallet:
  ``wallet_address`` (the master account; ``api_key`` is read as it when unset) goes to ccxt's
  ``walletAddress``, ``api_secret`` (the agent / API-wallet private key) to ``privateKey``;
  ``vault_address`` trades a vault or sub-account. Client ids, prices and statuses:
  ``dialect.HyperliquidDialect``; no builder fee or referrer unless ``builder`` is set
  (``hyperliquid``).

``sandbox`` and ``demo_trading`` are exclusive. ``urls`` overrides entries of ccxt's
``urls['api']`` after the environment switch (how tests point binanceusdm at the emulator).
The tables below are the only places an exchange id changes what the adapter does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from bot import errors
from bot.safety import MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    from bot.config import ExchangeConfig

__all__ = [
    "FUNDING_IN_INCOME",
    "MARGIN_MODE_WITH_LEVERAGE",
    "RAW_SIZE_FIELDS",
    "REALIZED_PNL_FIELDS",
    "SANDBOX_RETIRED",
    "TIMESTAMP_SIGNED",
    "WALLET_IN_INFO",
    "AccountSetup",
    "BuilderFee",
    "CcxtPerpSettings",
    "RawSize",
    "secret_value",
]

# ------------------------------------------------------------- venue switches

# venues that sign a ``timestamp`` judged against a recvWindow: they sign with the injected
# clock (the wall clock in production); nonce-signing venues keep ccxt's own, always-rising one
TIMESTAMP_SIGNED = frozenset({"binance", "binanceusdm", "binancecoinm"})
# venues whose ccxt balance ``total`` includes unrealized PnL: the wallet must come from info
WALLET_IN_INFO = frozenset({"binanceusdm", "binance"})
# ccxt keeps these sandbox URLs but refuses every signed futures call made through them
SANDBOX_RETIRED = {
    exchange_id: (
        f"{exchange_id}: ccxt no longer supports Binance's futures testnet; "
        "use demo_trading: true (keys from demo.binance.com)"
    )
    for exchange_id in ("binance", "binanceusdm", "binancecoinm")
}
# venues that set the margin mode with the leverage (Hyperliquid's ``updateLeverage`` carries
# ``isCross``): one ``set_leverage(leverage, symbol, {"marginMode": ...})`` at start sets both
MARGIN_MODE_WITH_LEVERAGE = frozenset({"hyperliquid"})
# venues whose funding income rows carry the rate and the position charged (Hyperliquid's
# ``userFunding``): no rate history is read to derive the position
FUNDING_IN_INCOME = frozenset({"hyperliquid"})
# where a venue reports a trade's realized PnL in ccxt's ``info`` (not a unified field):
# Binance userTrades ``realizedPnl``, Hyperliquid userFills ``closedPnl`` (both verified
# offline), Bybit execution ``execPnl``, OKX fills ``fillPnl`` (from the venues' API docs). A
# venue not listed has no known field: its fills are a read error, never realized PnL 0.
REALIZED_PNL_FIELDS: dict[str, str] = {
    "binanceusdm": "realizedPnl",
    "binance": "realizedPnl",
    "hyperliquid": "closedPnl",
    "bybit": "execPnl",
    "okx": "fillPnl",
}


@dataclass(frozen=True, slots=True)
class RawSize:
    """Where a venue's own position size sits in ccxt's ``info``, and whether it is signed."""

    key: str
    signed: bool
    # the venue's own liquidation price in ``info``: ccxt estimates one when it is missing
    liquidation_key: str | None = None
    # the price the venue's ``notional`` is reported at (Bybit's positionValue: the entry)
    notional_price: Literal["mark", "entry"] = "mark"


# ccxt fills a missing ``contracts`` by estimating it from notional, mark or liquidation price;
# the bot trusts only the venue's own size, so for these venues it must be in ``info``.
_BINANCE_RAW = RawSize("positionAmt", signed=True, liquidation_key="liquidationPrice")
RAW_SIZE_FIELDS: dict[str, RawSize] = {
    "binanceusdm": _BINANCE_RAW,
    "binance": _BINANCE_RAW,
    "bybit": RawSize("size", signed=False, notional_price="entry"),
    "okx": RawSize("pos", signed=True),
}

# ------------------------------------------------------------------- settings


def secret_value(value: SecretStr | str | None) -> str | None:
    """The plain text of a credential (only when building the client)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value


@dataclass(frozen=True, slots=True)
class BuilderFee:
    """A Hyperliquid builder the user chose to pay: its address and fee (basis points of each
    order's notional; the venue's unit is tenths of a basis point, so a multiple of 0.1)."""

    address: str
    fee_bps: Decimal

    def __post_init__(self) -> None:
        tenths = self.fee_bps * 10
        if not (0 <= self.fee_bps <= 10 and tenths == tenths.to_integral_value()):
            raise errors.ConfigError(
                f"exchange.builder.fee_bps {self.fee_bps}: 0..10 bps in steps of 0.1"
            )

    @property
    def tenths_bps(self) -> int:
        """The fee as an order's ``builder.f`` (tenths of a basis point)."""
        return int(self.fee_bps * 10)

    @property
    def max_fee_rate(self) -> str:
        """The fee as ``approveBuilderFee``'s ``maxFeeRate`` (a percentage, ``"0.01%"``)."""
        return f"{(self.fee_bps / 100).normalize():f}%"


@dataclass(frozen=True, slots=True)
class CcxtPerpSettings:
    """Everything needed to build the ccxt client; secrets stay ``SecretStr`` until use.

    Raises ``ConfigError`` for sandbox with demo trading, leverage outside 1..125 or a
    ``max_response_bytes`` below 1024."""

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
    wallet_address: str | None = None  # hyperliquid: the master account (else api_key)
    vault_address: str | None = None  # hyperliquid: a vault / sub-account to trade
    builder: BuilderFee | None = None  # hyperliquid: a builder fee the user chose to pay

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
            password=config.password,
            sandbox=config.sandbox,
            demo_trading=config.demo_trading,
            leverage=config.leverage,
            margin_mode=config.margin_mode,
            urls=MappingProxyType(dict(config.urls)),
            timeout_ms=config.timeout_ms,
            max_response_bytes=config.max_response_bytes,
            sync_time=config.sync_time,
            wallet_address=config.wallet_address,
            vault_address=config.vault_address,
            builder=(
                BuilderFee(config.builder.address, config.builder.fee_bps)
                if config.builder is not None
                else None
            ),
        )


@dataclass(frozen=True, slots=True)
class AccountSetup:
    """What the venue accepted at start: leverage and margin mode may differ from the ask."""

    leverage: int
    margin_mode: str | None  # the venue's; None: refused and ccxt cannot read it (see note)
    note: str = ""
