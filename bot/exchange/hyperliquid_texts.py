"""Hyperliquid's refusal texts: the one table the Hyperliquid emulator answers with and the ccxt
adapter's error mapping reads (``ccxt/errors.py``), as ``binance_codes`` is for Binance.

Hyperliquid has no error codes: a refused action is ``{"status": "err", "response": text}`` and
a refused order a status ``{"error": text}``, the text often ending in `` asset=<n>``. ccxt
raises most of them as ``InvalidOrder`` (the $10 minimum too), so the meaning is read from the
text here. Each ``HyperliquidText`` is the venue's message (a template with ``{name}`` fields
where the venue puts a value), the fixed part that identifies it (``prefix``: the text up to
the first field), what it means to the bot (``CodeKind``, shared with Binance) and the domain
exception it maps to. Source: the texts of the live API as ccxt's ``hyperliquid.exceptions``
and the Hyperliquid API docs quote them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

from bot import errors
from bot.exchange.binance_codes import CodeKind

__all__ = ["HYPERLIQUID_TEXTS", "HyperliquidText", "Refusal", "hyperliquid_text", "text_of"]


class Refusal(Enum):
    """The refusals the table names (the emulator picks its answer by these)."""

    MIN_VALUE = "min_value"
    REDUCE_ONLY = "reduce_only"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    INVALID_SIZE = "invalid_size"
    ZERO_SIZE = "zero_size"
    TICK = "tick"
    PRICE_BAND = "price_band"
    DUPLICATE_CLOID = "duplicate_cloid"
    POST_ONLY_CROSS = "post_only_cross"
    IOC_NO_MATCH = "ioc_no_match"
    CANCEL_UNKNOWN = "cancel_unknown"
    UNKNOWN_SIGNER = "unknown_signer"
    NO_DEPOSIT = "no_deposit"
    VAULT_UNKNOWN = "vault_unknown"
    RATE_LIMIT = "rate_limit"


@dataclass(frozen=True, slots=True)
class HyperliquidText:
    """One Hyperliquid refusal: its ``text`` (template), ``kind`` and domain ``error``."""

    refusal: Refusal
    text: str
    kind: CodeKind
    error: type[errors.ExchangeError]

    @property
    def prefix(self) -> str:
        """The fixed part of the text that identifies it (up to the first ``{field}``)."""
        return self.text.split("{", 1)[0]

    def message(self, **fields: Any) -> str:
        """The text with its ``{name}`` fields filled in."""
        return self.text.format(**fields) if fields else self.text


def _t(
    refusal: Refusal, kind: CodeKind, error: type[errors.ExchangeError], text: str
) -> HyperliquidText:
    return HyperliquidText(refusal, text, kind, error)


_R = Refusal
_K = CodeKind
_E = errors
_TABLE = (
    _t(_R.MIN_VALUE, _K.MIN_NOTIONAL, _E.MinNotionalError,
       "Order must have minimum value of $10.{suffix}"),
    _t(_R.REDUCE_ONLY, _K.REDUCE_ONLY, _E.ReduceOnlyRejected,
       "Reduce only order would increase position.{suffix}"),
    _t(_R.INSUFFICIENT_MARGIN, _K.INSUFFICIENT_MARGIN, _E.InsufficientMargin,
       "Insufficient margin to place order.{suffix}"),
    _t(_R.INVALID_SIZE, _K.BAD_REQUEST, _E.InvalidOrder, "Order has invalid size.{suffix}"),
    _t(_R.ZERO_SIZE, _K.BAD_REQUEST, _E.InvalidOrder, "Order has zero size.{suffix}"),
    _t(_R.TICK, _K.BAD_REQUEST, _E.InvalidOrder,
       "Price must be divisible by tick size.{suffix}"),
    _t(_R.PRICE_BAND, _K.BAD_REQUEST, _E.InvalidOrder,
       "Order price cannot be more than 80% away from the reference price{suffix}"),
    _t(_R.DUPLICATE_CLOID, _K.DUPLICATE_CLIENT_ID, _E.InvalidOrder,
       "Order has duplicate cloid.{suffix}"),
    _t(_R.POST_ONLY_CROSS, _K.BAD_REQUEST, _E.InvalidOrder,
       "Post only order would have immediately matched, bbo was {bbo}.{suffix}"),
    _t(_R.IOC_NO_MATCH, _K.BAD_REQUEST, _E.InvalidOrder,
       "Order could not immediately match against any resting orders.{suffix}"),
    _t(_R.CANCEL_UNKNOWN, _K.ORDER_NOT_FOUND, _E.OrderNotFound,
       "Order was never placed, already canceled, or filled.{suffix}"),
    _t(_R.UNKNOWN_SIGNER, _K.AUTH, _E.AuthenticationError,
       "User or API Wallet {signer} does not exist."),
    _t(_R.NO_DEPOSIT, _K.AUTH, _E.AuthenticationError,
       "Must deposit before performing actions. User: {user}"),
    _t(_R.VAULT_UNKNOWN, _K.AUTH, _E.AuthenticationError, "Vault not registered: {vault}"),
    _t(_R.RATE_LIMIT, _K.RATE_LIMIT, _E.RateLimited,
       "Too many cumulative requests sent {detail}"),
)  # fmt: skip

HYPERLIQUID_TEXTS: Mapping[Refusal, HyperliquidText] = MappingProxyType(
    {t.refusal: t for t in _TABLE}
)


def hyperliquid_text(refusal: Refusal) -> HyperliquidText:
    """The table entry of ``refusal``."""
    return HYPERLIQUID_TEXTS[refusal]


def text_of(message: str) -> HyperliquidText | None:
    """The table entry whose fixed text ``message`` contains (ccxt's exception text holds the
    venue's answer), or None for a text the table does not hold. The longest prefix wins."""
    found = [t for t in _TABLE if t.prefix.rstrip(". ") in message]
    return max(found, key=lambda t: len(t.prefix), default=None)
