"""Closing the ccxt client: the SSL grace (ccxt's ``timeout_on_exit``) is waited after our
own session closes, and only when a URL in use is not plain http. Real ccxt clients built by
the adapter's ``build_client`` (no request made) and real aiohttp sessions; the sleep is
recorded instead of waited."""

from __future__ import annotations

import aiohttp
import pytest

from bot.exchange.ccxt import CcxtPerpSettings
from bot.exchange.ccxt.client import build_client
from bot.exchange.ccxt.closing import close_client, tls_grace_ms
from bot.exchange.emulators.binance_usdm.wire import ccxt_urls

pytestmark = pytest.mark.unit

EMULATOR = ccxt_urls("http://127.0.0.1:8123")
HL_KEY = "0x" + "2" * 64
HL_WALLET = "0x" + "1" * 40


def binance(urls: dict[str, str] | None = None) -> CcxtPerpSettings:
    """binanceusdm with keys, pointed at ``urls`` (default: the venue's own https hosts)."""
    return CcxtPerpSettings(api_key="k" * 16, api_secret="s" * 16, urls=urls or {})


def hyperliquid(urls: dict[str, str] | None = None) -> CcxtPerpSettings:
    """hyperliquid with an agent key, pointed at ``urls`` (default: the venue's hosts)."""
    return CcxtPerpSettings(
        exchange_id="hyperliquid",
        symbol="ETH/USDC:USDC",
        api_key=HL_KEY,
        wallet_address=HL_WALLET,
        urls=urls or {},
    )


def test_the_emulators_plain_http_urls_have_no_grace() -> None:
    """binanceusdm and hyperliquid pointed at a loopback http emulator: 0 ms."""
    for settings in (binance(EMULATOR), hyperliquid({"public": "http://127.0.0.1:1"})):
        client = build_client(settings)
        assert client.timeout_on_exit == 250  # ccxt's default, which close() would sleep
        assert tls_grace_ms(client, settings.urls) == 0


def test_https_venues_keep_ccxts_grace() -> None:
    """The venues' own https hosts, or any override that is not plain http: ccxt's 250 ms."""
    for settings in (binance(), hyperliquid()):
        assert tls_grace_ms(build_client(settings), settings.urls) == 250
    mixed = {**EMULATOR, "fapiPrivate": "https://fapi.example.invalid/fapi/v1"}
    assert tls_grace_ms(build_client(binance(mixed)), mixed) == 250


async def test_close_waits_the_grace_after_our_session_closed_for_https_only() -> None:
    """An https client: ccxt's own sleep is skipped, our session is closed, then 0.25 s is
    slept once. An http client: session closed, nothing slept."""
    for settings, expected in ((binance(), [(0.25, True)]), (binance(EMULATOR), [])):
        client = build_client(settings)
        session = aiohttp.ClientSession()
        client.session, client.own_session = session, False
        slept: list[tuple[float, bool]] = []

        async def record(
            seconds: float,
            slept: list[tuple[float, bool]] = slept,
            session: aiohttp.ClientSession = session,
        ) -> None:
            slept.append((seconds, session.closed))  # the grace after our session closed

        await close_client(client, session, settings.urls, sleep=record)
        assert session.closed
        assert client.timeout_on_exit == 0  # ccxt's close did not sleep it
        assert slept == expected
