"""Reads of the store's records for reports, dashboards and guards (no writes here)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiosqlite

from bot.domain import ChainSnapshot, Decision, Fill, FundingPayment
from bot.records import decision_from, fill_from, funding_from, snapshot_from

__all__ = ["RECORD_TABLES", "RecordReads"]

RECORD_TABLES = frozenset(
    {"snapshots", "decisions", "intents", "order_updates", "fills", "funding", "commands", "events"}
)


class RecordReads:
    """Typed reads over the record tables of an open connection."""

    _db: aiosqlite.Connection

    async def read_events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Recorded events (oldest first), each its body plus ``type`` and ``ts``."""
        sql = "SELECT ts, type, body FROM events"
        params: tuple[Any, ...] = ()
        if event_type is not None:
            sql, params = sql + " WHERE type = ?", (event_type,)
        async with self._db.execute(sql + " ORDER BY id", params) as cur:
            rows = await cur.fetchall()
        return [{**json.loads(row[2]), "type": row[1], "ts": float(row[0])} for row in rows]

    async def totals(self) -> dict[str, Decimal]:
        """Cumulative fees, funding and realized PnL from stored fills and funding (quote)."""
        fees = Decimal(0)
        realized = Decimal(0)
        async with self._db.execute("SELECT body FROM fills") as cur:
            async for row in cur:
                body = json.loads(row[0])
                fees += Decimal(body["fee_quote"])
                realized += Decimal(body["realized_pnl"])
        funding = Decimal(0)
        async with self._db.execute("SELECT amount_quote FROM funding") as cur:
            async for row in cur:
                funding += Decimal(row[0])
        return {"fees_quote": fees, "funding_quote": funding, "realized_pnl_quote": realized}

    async def count(self, table: str) -> int:
        """Rows in one of the record tables; ``ValueError`` for any other name."""
        if table not in RECORD_TABLES:
            raise ValueError(f"unknown table {table}")
        async with self._db.execute(f"SELECT COUNT(*) FROM {table}") as cur:  # noqa: S608
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def read_snapshots(self) -> list[tuple[float, ChainSnapshot]]:
        """Every stored chain snapshot with its record time, oldest first."""
        async with self._db.execute("SELECT ts, body FROM snapshots ORDER BY id") as cur:
            rows = await cur.fetchall()
        return [(float(row[0]), snapshot_from(json.loads(row[1]))) for row in rows]

    async def read_decisions(self) -> list[tuple[float, int, Decision]]:
        """Every stored decision as (record time, block, decision), oldest first."""
        async with self._db.execute("SELECT ts, block, body FROM decisions ORDER BY id") as cur:
            rows = await cur.fetchall()
        return [(float(row[0]), int(row[1]), decision_from(json.loads(row[2]))) for row in rows]

    async def read_fills(self) -> list[Fill]:
        """Every stored fill, by venue time."""
        async with self._db.execute("SELECT body FROM fills ORDER BY ts, trade_id") as cur:
            rows = await cur.fetchall()
        return [fill_from(json.loads(row[0])) for row in rows]

    async def read_funding(self) -> list[FundingPayment]:
        """Every stored funding payment, by venue time."""
        async with self._db.execute("SELECT body FROM funding ORDER BY ts, id") as cur:
            rows = await cur.fetchall()
        return [funding_from(json.loads(row[0])) for row in rows]

    async def intent_blocks(self) -> dict[str, int]:
        """Block of the tick that created each intent, by client order id."""
        async with self._db.execute("SELECT client_order_id, block FROM intents") as cur:
            rows = await cur.fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    async def applied_command_ids(self) -> list[str]:
        """Ids of commands already applied (duplicates are rejected)."""
        async with self._db.execute("SELECT id FROM commands WHERE status = 'ok'") as cur:
            rows = await cur.fetchall()
        return [str(row[0]) for row in rows]

    async def command_statuses(self) -> dict[str, str]:
        """Every recorded command id with its status (``ok``/``rejected``): ids are used once."""
        async with self._db.execute("SELECT id, status FROM commands") as cur:
            rows = await cur.fetchall()
        return {str(row[0]): str(row[1]) for row in rows}
