"""Building the ccxt client from ``CcxtPerpSettings``: credentials, the signing clock, bounded
JSON, raw-answer checks, then the venue switches (sandbox, demo trading, URL overrides)."""

from __future__ import annotations

from typing import Any

import ccxt
import ccxt.async_support as ccxt_async

from bot import errors
from bot.exchange.ccxt.http import bounded_json_parser
from bot.exchange.ccxt.hyperliquid import hyperliquid_credentials, no_silent_builder
from bot.exchange.ccxt.raw import checked_fetch
from bot.exchange.ccxt.settings import (
    SANDBOX_RETIRED,
    TIMESTAMP_SIGNED,
    CcxtPerpSettings,
    secret_value,
)
from bot.ports import Clock

__all__ = ["build_client"]


def build_client(settings: CcxtPerpSettings, clock: Clock | None = None) -> Any:
    """A ccxt async exchange for ``settings`` (not yet connected: no session, no markets).

    Raises ``ConfigError`` for an exchange ccxt does not have, a retired or missing sandbox,
    no demo-trading mode, or ``urls`` that do not fit the exchange's ``urls['api']``."""
    s = settings
    exchange_class = getattr(ccxt_async, s.exchange_id, None)
    if exchange_class is None:
        raise errors.ConfigError(f"ccxt has no exchange {s.exchange_id!r}")
    client = exchange_class(_client_config(s))
    if s.exchange_id == "hyperliquid":
        no_silent_builder(client)
    if clock is not None and s.exchange_id in TIMESTAMP_SIGNED:
        # the host clock: a test's ManualClock signs in venue time
        client.milliseconds = lambda: int(clock.now() * 1000)
    client.on_json_response = bounded_json_parser(s.max_response_bytes)
    # every answer is checked raw, before ccxt can filter or default what it cannot read
    client.fetch = checked_fetch(
        client.fetch, s.exchange_id, lambda: set(client.markets_by_id or ()) or None
    )
    _switch_environment(client, s)
    _override_urls(client, s)
    return client


def _client_config(s: CcxtPerpSettings) -> dict[str, Any]:
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
    if s.exchange_id == "hyperliquid":
        credentials = hyperliquid_credentials(s)
        options.update(credentials.pop("options"))
        config.update(credentials)
    else:
        config.update(apiKey=secret_value(s.api_key), secret=secret_value(s.api_secret))
    password = secret_value(s.password)
    if password is not None:
        config["password"] = password
    return config


def _switch_environment(client: Any, s: CcxtPerpSettings) -> None:
    if s.sandbox:
        if s.exchange_id in SANDBOX_RETIRED:
            raise errors.ConfigError(SANDBOX_RETIRED[s.exchange_id])
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


def _override_urls(client: Any, s: CcxtPerpSettings) -> None:
    if not s.urls:
        return
    api_urls = client.urls.get("api")
    if isinstance(api_urls, dict):
        client.urls["api"] = {**api_urls, **s.urls}
    elif "api" in s.urls:
        client.urls["api"] = s.urls["api"]
    else:
        raise errors.ConfigError(
            f"ccxt {s.exchange_id} has one API url; override it with key 'api'"
        )
