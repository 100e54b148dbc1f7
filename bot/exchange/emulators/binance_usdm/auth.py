"""Binance SIGNED endpoint security: the API key header, the ``timestamp``/``recvWindow``
rule against the server's own clock, and the HMAC-SHA256 ``signature`` over totalParams
(the query string concatenated with the body; the signature comes last)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web

from bot.exchange.emulators.binance_usdm.wire import BinanceError, int_param, mandatory

__all__ = ["ApiCredentials", "check_timestamp", "signed_params"]

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000
_AHEAD_LIMIT_MS = 1000  # Binance: a timestamp at most 1 s ahead of the server


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """The one API key and secret the emulated account accepts."""

    api_key: str
    api_secret: str


def check_timestamp(timestamp_ms: int, server_ms: int, recv_window_ms: int) -> None:
    """Binance's rule: ``timestamp < serverTime + 1000`` and ``serverTime - timestamp <=
    recvWindow``; -1021 otherwise."""
    if not (
        timestamp_ms < server_ms + _AHEAD_LIMIT_MS and server_ms - timestamp_ms <= recv_window_ms
    ):
        raise BinanceError(-1021)


def _split_signature(part: str) -> tuple[str, str]:
    """Split ``...&signature=hex`` (signature must come last) into payload and signature."""
    if part.startswith("signature="):
        return "", part[len("signature=") :]
    head, sep, sig = part.rpartition("&signature=")
    if not sep:
        return part, ""
    return head, sig


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality of a client's text (a header or query value, any characters:
    aiohttp keeps undecodable bytes as surrogates) and ours, as UTF-8 bytes: a non-ASCII value
    is a refusal, never a ``TypeError`` (HTTP 500)."""
    raw = given.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(raw, expected.encode("utf-8"))


async def signed_params(
    request: web.Request, credentials: ApiCredentials, server_ms: int
) -> dict[str, str]:
    """The parameters of a signed request once key, timestamp and signature check out.

    Raises ``BinanceError``: -2014/-2015 (key, HTTP 401), -1102 (no timestamp or signature),
    -1131 (recvWindow over 60 s), -1021 (timestamp outside the window of ``server_ms``),
    -1022 (bad signature)."""
    key = request.headers.get("X-MBX-APIKEY")
    if not key:
        raise BinanceError(-2014)
    if not same_text(key, credentials.api_key):
        raise BinanceError(-2015)
    query = request.rel_url.raw_query_string
    body = (await request.text()) if request.body_exists else ""
    query_payload, query_signature = _split_signature(query)
    body_payload, body_signature = _split_signature(body)
    payload, signature = query_payload + body_payload, query_signature or body_signature
    params = dict(parse_qsl(query, keep_blank_values=True))
    params.update(parse_qsl(body, keep_blank_values=True))
    params.pop("signature", None)
    timestamp = int_param(params, "timestamp")
    if timestamp is None:
        raise mandatory("timestamp")
    recv_window = int_param(params, "recvWindow") or DEFAULT_RECV_WINDOW_MS
    if recv_window > MAX_RECV_WINDOW_MS:
        raise BinanceError(-1131)
    check_timestamp(timestamp, server_ms, recv_window)
    if not signature:
        raise mandatory("signature")
    secret = credentials.api_secret.encode()
    expected = hmac.new(
        secret, payload.encode("utf-8", "surrogateescape"), hashlib.sha256
    ).hexdigest()
    if not same_text(expected, signature.lower()):
        raise BinanceError(-1022)
    return params
