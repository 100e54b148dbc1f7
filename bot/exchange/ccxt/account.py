"""Start-up account checks and settings: one-way position mode, margin mode and leverage.

"Not modified" answers (``ccxt.errors.NOT_MODIFIED``) are success. Any other refusal, whatever
its code (Binance -2027, -4028, -4161, ...; Hyperliquid's "Cannot switch leverage type with
open position."), is logged with the venue's current setting, read back, which is then used,
so an open hedge is managed. The read-back is ``fetchLeverage``/``fetchMarginMode`` where ccxt
has them; else (Hyperliquid) the open position row, which carries the setting (its
``leverage {type, value}``): where a venue sets the margin mode with the leverage
(``MARGIN_MODE_WITH_LEVERAGE``), a refused leverage leaves the mode unchanged too, and the mode
read back is the account's. Without an open row the setting cannot be read: start fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import structlog

from bot import errors
from bot.exchange.ccxt import parse
from bot.exchange.ccxt.calls import CALL_FAILURES, CcxtCalls
from bot.exchange.ccxt.errors import is_not_modified, is_setup_fatal, venue_code
from bot.exchange.ccxt.fields import mapping, required
from bot.exchange.ccxt.positions import hedge_position_row, leverage_setting_of_row
from bot.exchange.ccxt.settings import MARGIN_MODE_WITH_LEVERAGE, RAW_SIZE_FIELDS, AccountSetup
from bot.safety import describe_exc, safe_str

__all__ = ["apply_account_settings", "apply_leverage", "require_one_way_mode"]

_log = structlog.get_logger("hedgebot.exchange.ccxt_perp")
_Setting = TypeVar("_Setting")
# venues whose ccxt ``setMarginMode`` needs the leverage too (bybit: ArgumentsRequired without)
MARGIN_MODE_TAKES_LEVERAGE = frozenset({"bybit"})


@dataclass(frozen=True, slots=True)
class VenueLeverage:
    """The leverage a venue has for the symbol (whole, >= 1), with its margin mode when it was
    read with it (``isolated``/``cross``; None when not)."""

    leverage: int
    margin_mode: str | None = None

    def __str__(self) -> str:
        return f"{self.leverage}" + (f" ({self.margin_mode})" if self.margin_mode else "")


async def require_one_way_mode(calls: CcxtCalls, symbol: str) -> None:
    """``ConfigError`` when the account is in hedge (dual-side) mode; ``VenueDataError`` when
    the venue's answer has no boolean ``hedged``."""
    api = calls.api()
    if not api.has.get("fetchPositionMode"):
        return
    mode = mapping(await calls.call(api.fetch_position_mode, symbol), "position mode")
    hedged = mode.get("hedged")
    if not isinstance(hedged, bool):
        raise errors.VenueDataError(f"position mode: hedged {hedged!r} is not a boolean")
    if hedged:
        raise errors.ConfigError(
            f"{calls.settings.exchange_id} account is in hedge (dual-side) position mode; "
            "hedgebot needs one-way mode"
        )


async def apply_account_settings(calls: CcxtCalls, symbol: str) -> AccountSetup:
    """Ask for the configured margin mode and leverage; return and log what was accepted.

    Raises the mapped ``AuthenticationError``/``ExchangeUnavailable`` when the venue was not
    reached or refused the keys, and ``ExchangeError`` (one line) when a refused setting
    cannot be read back."""
    s = calls.settings
    margin_mode, note = await _apply_margin_mode(calls, symbol)
    venue, leverage_note = await _apply_leverage(calls, symbol)
    if s.exchange_id in MARGIN_MODE_WITH_LEVERAGE and leverage_note:
        margin_mode = venue.margin_mode  # refused with the leverage: the venue's, as read
    setup = AccountSetup(
        leverage=venue.leverage,
        margin_mode=margin_mode,
        note="; ".join(n for n in (note, leverage_note) if n),
    )
    _log.info(
        "exchange.account_configured",
        exchange=s.exchange_id,
        symbol=symbol,
        leverage=setup.leverage,
        margin_mode=setup.margin_mode,
        note=setup.note,
    )
    return setup


def _setup_refusal(calls: CcxtCalls, exc: BaseException) -> errors.ExchangeError:
    """The mapped refusal of a start-up setting; raised when start cannot go on after it."""
    mapped = calls.map_error(exc)
    if is_setup_fatal(mapped):
        raise mapped from exc
    return mapped


async def _refused(
    calls: CcxtCalls,
    exc: BaseException,
    setting: str,
    wanted: object,
    read_back: Callable[[errors.ExchangeError], Awaitable[_Setting]],
    shown: Callable[[_Setting], Mapping[str, object]] = lambda current: {"current": current},
) -> tuple[_Setting, str]:
    """A refused ``setting``: raised when start cannot go on (``_setup_refusal``), else the
    venue's current value read back, logged as ``exchange.<setting>_refused`` (the value as
    ``shown`` gives it), with a note."""
    refusal = _setup_refusal(calls, exc)
    current = await read_back(refusal)
    _log.warning(
        f"exchange.{setting.replace(' ', '_')}_refused",
        wanted=wanted,
        **shown(current),
        code=venue_code(exc),
        reason=safe_str(refusal),
    )
    return current, f"{setting} unchanged at {current}: {safe_str(refusal)}"


async def _apply_margin_mode(calls: CcxtCalls, symbol: str) -> tuple[str | None, str]:
    s, api = calls.settings, calls.api()
    if not api.has.get("setMarginMode") or s.exchange_id in MARGIN_MODE_WITH_LEVERAGE:
        return s.margin_mode, ""
    # ccxt's bybit switches a classic account's symbol with its leverage (switch-isolated)
    params = {"leverage": s.leverage} if s.exchange_id in MARGIN_MODE_TAKES_LEVERAGE else {}
    try:
        await calls.request(api.set_margin_mode, s.margin_mode, symbol, params)
    except CALL_FAILURES as exc:
        if is_not_modified(s.exchange_id, exc):
            return s.margin_mode, ""
        return await _refused(
            calls, exc, "margin mode", s.margin_mode, lambda r: _venue_margin_mode(calls, symbol, r)
        )
    return s.margin_mode, ""


async def apply_leverage(calls: CcxtCalls, symbol: str) -> tuple[int, str]:
    """``(accepted leverage, note)``: the venue's answer, or its current leverage (with a
    note) after a refusal that is not "not modified"."""
    venue, note = await _apply_leverage(calls, symbol)
    return venue.leverage, note


async def _apply_leverage(calls: CcxtCalls, symbol: str) -> tuple[VenueLeverage, str]:
    s, api = calls.settings, calls.api()
    with_mode = s.exchange_id in MARGIN_MODE_WITH_LEVERAGE
    params = {"marginMode": s.margin_mode} if with_mode else {}
    try:
        response = await calls.request(api.set_leverage, s.leverage, symbol, params)
    except CALL_FAILURES as exc:
        if is_not_modified(s.exchange_id, exc):
            return VenueLeverage(s.leverage, s.margin_mode), ""

        def shown(venue: VenueLeverage) -> Mapping[str, object]:
            if not with_mode:
                return {"current": venue.leverage}
            return {
                "current": venue.leverage,
                "wanted_margin_mode": s.margin_mode,
                "current_margin_mode": venue.margin_mode,
            }

        return await _refused(
            calls, exc, "leverage", s.leverage, lambda r: _venue_leverage(calls, symbol, r), shown
        )
    accepted = s.leverage
    if isinstance(response, Mapping) and response.get("leverage") is not None:
        accepted = int(required(response, "leverage", "set leverage answer", sign="positive"))
    if accepted != s.leverage:
        _log.warning("exchange.leverage_adjusted", wanted=s.leverage, accepted=accepted)
    return VenueLeverage(accepted, s.margin_mode), ""


def _unreadable_setting(
    calls: CcxtCalls, setting: str, refusal: errors.ExchangeError, why: object
) -> errors.ExchangeError:
    return errors.ExchangeError(
        f"{calls.settings.exchange_id}: {setting} refused ({safe_str(refusal, 200)}) and the "
        f"venue's current {setting} cannot be read back: {safe_str(why, 200)}"
    )


async def _venue_leverage(
    calls: CcxtCalls, symbol: str, refusal: errors.ExchangeError
) -> VenueLeverage:
    """The leverage the venue has for the symbol now: ``fetchLeverage``, else the open
    position row's (with its margin mode); ``ExchangeError`` naming the refusal when it
    cannot be read (the read fails, or no fetchLeverage and no open position)."""
    api = calls.api()
    try:
        if api.has.get("fetchLeverage"):
            raw = mapping(await calls.call(api.fetch_leverage, symbol), "leverage")
            leverage = parse.leverage_from_ccxt(raw, f"{symbol} leverage")
            mode = raw.get("marginMode")
            return VenueLeverage(leverage, mode if mode in ("isolated", "cross") else None)
        answer = await calls.call(api.fetch_positions, [symbol])
        raw_size = RAW_SIZE_FIELDS.get(calls.settings.exchange_id)
        row = hedge_position_row(answer, symbol, Decimal(1), raw_size)
    except errors.ExchangeError as exc:
        raise _unreadable_setting(calls, "leverage", refusal, describe_exc(exc)) from exc
    if row is None:
        why = "no fetchLeverage in ccxt and no open position carrying it"
        raise _unreadable_setting(calls, "leverage", refusal, why)
    try:
        return VenueLeverage(*leverage_setting_of_row(row, f"{symbol} position"))
    except errors.ExchangeError as exc:
        raise _unreadable_setting(calls, "leverage", refusal, describe_exc(exc)) from exc


async def _venue_margin_mode(
    calls: CcxtCalls, symbol: str, refusal: errors.ExchangeError
) -> str | None:
    """The venue's margin mode for the symbol now; None when ccxt cannot read it for this
    venue (start goes on, as before), ``ExchangeError`` when the read fails."""
    api = calls.api()
    if not api.has.get("fetchMarginMode"):
        return None
    try:
        raw = await calls.call(api.fetch_margin_mode, symbol)
        return parse.margin_mode_from_ccxt(mapping(raw, "margin mode"), f"{symbol} margin mode")
    except errors.ExchangeError as exc:
        raise _unreadable_setting(calls, "margin mode", refusal, describe_exc(exc)) from exc
