"""This bot's client order ids: deterministic ``hb-<bot hash>-<block>-<seq>``.

The same intent has the same id on every retry and after a restart, so a venue that already
has the order refuses a copy (ARCHITECTURE.md, "Idempotency").
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["block_of", "client_id_prefix", "client_order_id"]

_CLIENT_ID_MAX = 36  # Binance's limit; also fits Bybit/OKX
_OWN_ID = re.compile(r"^hb-[0-9a-f]{8}-(\d+)-(\d+)$")


def client_id_prefix(bot_id: str) -> str:
    """``hb-<bot hash>-``: what every client order id of this bot starts with."""
    return f"hb-{hashlib.sha256(bot_id.encode()).hexdigest()[:8]}-"


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
    return int(match.group(1)) if match else 0
