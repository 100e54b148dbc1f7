"""Offline checks of the ccxt adapter's venue switches against ccxt's own exchange classes.

Only binanceusdm is verified end to end (tests/integration, against the emulator). For bybit,
okx and hyperliquid these tests pin what can be known without a network: the sandbox / demo
switch reaches the host ccxt documents, credentials land in the fields ccxt reads, and the
unified methods the adapter calls exist (``has``). No request is made.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot import errors
from bot.exchange.ccxt import CcxtPerpSettings
from bot.exchange.ccxt.client import build_client

pytestmark = pytest.mark.unit

# every unified ccxt method CcxtPerpExchange calls, by its `has` name
ADAPTER_METHODS = (
    "fetchPositions",
    "fetchFundingRate",
    "fetchOrderBook",
    "fetchBalance",
    "createOrder",
    "fetchOrder",
    "fetchOpenOrders",
    "cancelOrder",
    "fetchMyTrades",
    "fetchFundingHistory",
    "fetchFundingRateHistory",
    "setLeverage",
    "setMarginMode",
)
HL_WALLET = "0x" + "1" * 40
HL_KEY = "0x" + "2" * 64


def settings(exchange_id: str, **switches: Any) -> CcxtPerpSettings:
    hyperliquid = exchange_id == "hyperliquid"
    return CcxtPerpSettings(
        exchange_id=exchange_id,
        symbol="ETH/USDC:USDC" if hyperliquid else "ETH/USDT:USDT",
        api_key=HL_WALLET if hyperliquid else "key",
        api_secret=HL_KEY if hyperliquid else "secret",
        **switches,
    )


def client_for(exchange_id: str, **switches: Any) -> Any:
    return build_client(settings(exchange_id, **switches))


@pytest.mark.parametrize(
    ("exchange_id", "switch", "api_prefix", "host"),
    [
        ("binanceusdm", "demo_trading", "fapiPrivate", "https://demo-fapi.binance.com/fapi/"),
        ("bybit", "sandbox", "private", "https://api-testnet.{hostname}"),
        ("bybit", "demo_trading", "private", "https://api-demo.{hostname}"),
        ("hyperliquid", "sandbox", "private", "https://api.hyperliquid-testnet.xyz"),
    ],
)
async def test_switch_points_ccxt_at_the_test_environment(
    exchange_id: str, switch: str, api_prefix: str, host: str
) -> None:
    """The sandbox / demo switch swaps the private API urls for the test environment's."""
    client = client_for(exchange_id, **{switch: True})
    try:
        api = client.urls["api"]
        private = [url for name, url in api.items() if name.startswith(api_prefix)]
        assert private
        assert all(url.startswith(host) for url in private), private
    finally:
        await client.close()


async def test_okx_sandbox_is_demo_trading_by_header() -> None:
    """okx's sandbox keeps the production host and marks every request as simulated trading."""
    client = client_for("okx", sandbox=True)
    try:
        assert client.headers.get("x-simulated-trading") == "1"
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("exchange_id", "switch", "reason"),
    [
        ("binanceusdm", "sandbox", "demo_trading: true"),
        ("okx", "demo_trading", "no demo trading mode"),
        ("hyperliquid", "demo_trading", "no demo trading mode"),
    ],
)
def test_switches_ccxt_cannot_honour_are_config_errors(
    exchange_id: str, switch: str, reason: str
) -> None:
    """A test environment ccxt does not offer (or no longer supports) fails at start, by name."""
    with pytest.raises(errors.ConfigError, match=reason):
        client_for(exchange_id, **{switch: True})


async def test_credentials_land_where_ccxt_reads_them() -> None:
    """API key/secret for key-based venues; wallet address/private key for hyperliquid."""
    binance, hyperliquid = client_for("binanceusdm"), client_for("hyperliquid")
    try:
        assert (binance.apiKey, binance.secret) == ("key", "secret")
        assert (hyperliquid.walletAddress, hyperliquid.privateKey) == (HL_WALLET, HL_KEY)
        binance.check_required_credentials()
        hyperliquid.check_required_credentials()
    finally:
        await binance.close()
        await hyperliquid.close()


@pytest.mark.parametrize(
    ("exchange_id", "missing"),
    [
        ("binanceusdm", set()),
        ("hyperliquid", set()),
        ("bybit", set()),
        ("okx", set()),
    ],
)
async def test_unified_methods_the_adapter_needs(exchange_id: str, missing: set[str]) -> None:
    """ccxt offers every unified method the adapter calls on each supported venue."""
    client = client_for(exchange_id)
    try:
        assert {m for m in ADAPTER_METHODS if not client.has.get(m)} == missing
        assert client.has.get("swap")
    finally:
        await client.close()


async def test_url_overrides_apply_after_the_switch() -> None:
    """``urls`` replaces entries of ccxt's urls['api'] (how the emulator is reached)."""
    client = build_client(
        CcxtPerpSettings(
            api_key="k", api_secret="s", urls={"fapiPrivate": "http://127.0.0.1:1/fapi/v1"}
        )
    )
    try:
        assert client.urls["api"]["fapiPrivate"] == "http://127.0.0.1:1/fapi/v1"
        assert client.urls["api"]["fapiPublic"].startswith("https://fapi.binance.com")
    finally:
        await client.close()
