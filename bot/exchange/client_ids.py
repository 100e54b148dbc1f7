"""This bot's client order ids: deterministic ``hb-<bot hash>-<block>-<seq>``.

The same intent has the same id on every retry and after a restart, so a venue that already
has the order refuses a copy (ARCHITECTURE.md, "Idempotency").

Venues that take only a 128-bit hex client id (Hyperliquid's ``cloid``) get the same id in a
reversible hex form, ``0x`` + 32 hex digits (``hex_client_id``)::

    0x 4862 <bot hash: 8 hex> <block: 12 hex> <seq: 8 hex>

``4862`` ("Hb") marks an id as hedgebot's and the bot hash is the one of the text form, so the
hex prefix of a bot (``hex_client_id_prefix``) finds its own orders after a restart, and
``text_client_id`` turns a venue's hex id back into the id the store and the ledger know.
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "block_of",
    "client_id_prefix",
    "client_order_id",
    "hex_client_id",
    "hex_client_id_prefix",
    "seq_of",
    "text_client_id",
]

_CLIENT_ID_MAX = 36  # Binance's limit; also fits Bybit/OKX
_OWN_ID = re.compile(r"^hb-([0-9a-f]{8})-(\d+)-(\d+)$")
_HEX_MARK = "4862"  # "Hb"
_HEX_ID = re.compile(r"^0x4862([0-9a-f]{8})([0-9a-f]{12})([0-9a-f]{8})$")
_BLOCK_DIGITS, _SEQ_DIGITS = 12, 8


def _bot_hash(bot_id: str) -> str:
    return hashlib.sha256(bot_id.encode()).hexdigest()[:8]


def client_id_prefix(bot_id: str) -> str:
    """``hb-<bot hash>-``: what every client order id of this bot starts with."""
    return f"hb-{_bot_hash(bot_id)}-"


def client_order_id(bot_id: str, block: int, seq: int) -> str:
    """``hb-<bot hash>-<block>-<seq>``: unique per bot and tick, the same on every retry.

    Raises ``ValueError`` when longer than the venue's 36 characters."""
    cid = f"{client_id_prefix(bot_id)}{block}-{seq}"
    if len(cid) > _CLIENT_ID_MAX:
        raise ValueError(f"client order id {cid} longer than {_CLIENT_ID_MAX}")
    return cid


def block_of(client_id: str) -> int:
    """The block in one of our client ids (0 for an id of another shape)."""
    match = _OWN_ID.match(client_id)
    return int(match.group(2)) if match else 0


def seq_of(client_id: str) -> int:
    """The sequence number in one of our client ids (0 for an id of another shape)."""
    match = _OWN_ID.match(client_id)
    return int(match.group(3)) if match else 0


def hex_client_id_prefix(bot_id: str) -> str:
    """``0x4862<bot hash>``: what every hex client id of this bot starts with."""
    return f"0x{_HEX_MARK}{_bot_hash(bot_id)}"


def hex_client_id(client_id: str) -> str:
    """The 128-bit hex form (``0x`` + 32 lowercase hex digits) of one of our text ids.

    Raises ``ValueError`` for an id that is not ``hb-<8 hex>-<block>-<seq>`` or whose block
    (48 bits) or sequence (32 bits) does not fit."""
    match = _OWN_ID.match(client_id)
    if match is None:
        raise ValueError(f"{client_id!r} is not a hedgebot client order id")
    bot_hash, block, seq = match.group(1), int(match.group(2)), int(match.group(3))
    if block >= 16**_BLOCK_DIGITS or seq >= 16**_SEQ_DIGITS:
        raise ValueError(f"{client_id}: block or sequence too large for a 128-bit id")
    return f"0x{_HEX_MARK}{bot_hash}{block:0{_BLOCK_DIGITS}x}{seq:0{_SEQ_DIGITS}x}"


def text_client_id(venue_id: str) -> str:
    """The text id behind a venue's hex id (``hex_client_id`` reversed); any other id, a
    foreign order's, is returned as the venue wrote it."""
    match = _HEX_ID.match(venue_id.lower())
    if match is None:
        return venue_id
    bot_hash, block, seq = match.groups()
    return f"hb-{bot_hash}-{int(block, 16)}-{int(seq, 16)}"
