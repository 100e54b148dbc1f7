"""Reads of the store's records for reports, dashboards and guards (no writes here).

Queries are dialect templates (:mod:`bot.store.dialect`): on a shared PostgreSQL database
every read sees only this store's bot.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any

from bot.domain import ChainSnapshot, Decision, Fill, FundingPayment, Order
from bot.records import decision_from, fill_from, funding_from, order_from, snapshot_from

__all__ = ["RECORD_TABLES", "RecordReads"]

RECORD_TABLES = frozenset(
    {"snapshots", "decisions", "intents", "order_updates", "fills", "funding", "commands", "events"}
)


class RecordReads(ABC):
    """Typed reads over the record tables, through the backend's ``_fetch``."""

    @abstractmethod
    async def _fetch(self, template: str, **values: Any) -> list[tuple[Any, ...]]:
        """Every row of one dialect template; ``StoreError`` when the store cannot be read."""

    async def read_events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Recorded events (oldest first), each its body plus ``type`` and ``ts``."""
        if event_type is None:
            rows = await self._fetch(
                "SELECT ts, type, body FROM events WHERE {bot_is}1 = 1 ORDER BY id"
            )
        else:
            rows = await self._fetch(
                "SELECT ts, type, body FROM events WHERE {bot_is}type = :type ORDER BY id",
                type=event_type,
            )
        return [{**json.loads(row[2]), "type": row[1], "ts": float(row[0])} for row in rows]

    async def recent_commands(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` recorded operator commands, oldest first, each its body
        (``params``, ``reason``) plus ``id``, ``command``, ``status`` and ``ts`` (unix s)."""
        rows = await self._fetch(
            "SELECT ts, id, command, status, body FROM commands WHERE {bot_is}1 = 1 "
            "ORDER BY ts DESC LIMIT :limit",
            limit=limit,
        )
        return [
            {
                **json.loads(r[4]),
                "id": str(r[1]),
                "command": str(r[2]),
                "status": str(r[3]),
                "ts": float(r[0]),
            }
            for r in reversed(rows)
        ]

    async def totals(self) -> dict[str, Decimal]:
        """Cumulative fees, funding and realized PnL from the bot's own stored fills (someone
        else's fills on the account are not its trades) and funding (quote)."""
        fees = Decimal(0)
        realized = Decimal(0)
        for row in await self._fetch("SELECT body FROM fills WHERE {bot_is}own = 1"):
            body = json.loads(row[0])
            fees += Decimal(body["fee_quote"])
            realized += Decimal(body["realized_pnl"])
        funding = Decimal(0)
        for row in await self._fetch("SELECT amount_quote FROM funding WHERE {bot_is}1 = 1"):
            funding += Decimal(row[0])
        return {"fees_quote": fees, "funding_quote": funding, "realized_pnl_quote": realized}

    async def count(self, table: str) -> int:
        """Rows in one of the record tables; ``ValueError`` for any other name."""
        if table not in RECORD_TABLES:
            raise ValueError(f"unknown table {table}")
        sql = "SELECT COUNT(*) FROM " + table + " WHERE {bot_is}1 = 1"  # noqa: S608 (known name)
        rows = await self._fetch(sql)
        return int(rows[0][0]) if rows else 0

    async def read_snapshots(self) -> list[tuple[float, ChainSnapshot]]:
        """Every stored chain snapshot with its record time, oldest first."""
        rows = await self._fetch("SELECT ts, body FROM snapshots WHERE {bot_is}1 = 1 ORDER BY id")
        return [(float(row[0]), snapshot_from(json.loads(row[1]))) for row in rows]

    async def read_decisions(self) -> list[tuple[float, int, Decision]]:
        """Every stored decision as (record time, block, decision), oldest first."""
        rows = await self._fetch(
            "SELECT ts, block, body FROM decisions WHERE {bot_is}1 = 1 ORDER BY id"
        )
        return [(float(row[0]), int(row[1]), decision_from(json.loads(row[2]))) for row in rows]

    async def read_fills(self, *, own: bool | None = None) -> list[Fill]:
        """Stored fills by venue time: every one (``own`` None), only the bot's own (True:
        client id an intent of this bot, what PnL counts) or only someone else's (False)."""
        if own is None:
            rows = await self._fetch(
                "SELECT body FROM fills WHERE {bot_is}1 = 1 ORDER BY ts, trade_id"
            )
        else:
            rows = await self._fetch(
                "SELECT body FROM fills WHERE {bot_is}own = :own ORDER BY ts, trade_id",
                own=int(own),
            )
        return [fill_from(json.loads(row[0])) for row in rows]

    async def read_last_orders(self) -> dict[str, Order]:
        """The newest recorded update of each of the bot's orders, by client order id (the
        venue's last word the ledger kept: status and filled amount)."""
        rows = await self._fetch(
            "SELECT client_order_id, body FROM order_updates WHERE {bot_is}1 = 1 ORDER BY id"
        )
        return {str(row[0]): order_from(json.loads(row[1])) for row in rows}

    async def read_funding(self) -> list[FundingPayment]:
        """Every stored funding payment, by venue time."""
        rows = await self._fetch("SELECT body FROM funding WHERE {bot_is}1 = 1 ORDER BY ts, id")
        return [funding_from(json.loads(row[0])) for row in rows]

    async def intent_blocks(self) -> dict[str, int]:
        """Block of the tick that created each intent, by client order id."""
        rows = await self._fetch("SELECT client_order_id, block FROM intents WHERE {bot_is}1 = 1")
        return {str(row[0]): int(row[1]) for row in rows}

    async def applied_command_ids(self) -> list[str]:
        """Ids of commands already applied (duplicates are rejected)."""
        rows = await self._fetch("SELECT id FROM commands WHERE {bot_is}status = 'ok'")
        return [str(row[0]) for row in rows]

    async def command_statuses(self) -> dict[str, str]:
        """Every recorded command id with its status (``ok``/``rejected``): ids are used once."""
        rows = await self._fetch("SELECT id, status FROM commands WHERE {bot_is}1 = 1")
        return {str(row[0]): str(row[1]) for row in rows}

    # bounded reads: a page, a row, or an aggregate; never a whole tick table -----------
    async def snapshot_page(
        self, after_id: int, limit: int
    ) -> list[tuple[int, float, ChainSnapshot]]:
        """Up to ``limit`` snapshots with a row id above ``after_id`` as (row id, record
        time in seconds, snapshot), oldest first (keyset paging: the streamed replay)."""
        rows = await self._fetch(
            "SELECT id, ts, body FROM snapshots WHERE {bot_is}id > :after ORDER BY id LIMIT :limit",
            after=after_id,
            limit=limit,
        )
        return [(int(r[0]), float(r[1]), snapshot_from(json.loads(r[2]))) for r in rows]

    async def decision_page(self, after_id: int, limit: int) -> list[tuple[int, int, Decision]]:
        """Up to ``limit`` decisions with a row id above ``after_id`` as (row id, block,
        decision), oldest first."""
        rows = await self._fetch(
            "SELECT id, block, body FROM decisions WHERE {bot_is}id > :after ORDER BY id "
            "LIMIT :limit",
            after=after_id,
            limit=limit,
        )
        return [(int(r[0]), int(r[1]), decision_from(json.loads(r[2]))) for r in rows]

    async def last_decision(self) -> tuple[float, int, Decision] | None:
        """The newest decision as (record time, block, decision); None: none yet. A run of
        quiet repeats (``bot.store.decision_runs``) gives its last repeat's time and block."""
        rows = await self._fetch(
            "SELECT COALESCE(last_ts, ts), COALESCE(last_block, block), body FROM decisions "
            "WHERE {bot_is}1 = 1 ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return None
        return float(rows[0][0]), int(rows[0][1]), decision_from(json.loads(rows[0][2]))

    async def first_snapshot_at_intent_blocks(self) -> dict[int, int]:
        """For each block an intent was created at and a snapshot was kept at: the row id of
        its first snapshot (one row per intent block)."""
        rows = await self._fetch(
            "SELECT block, MIN(id) FROM snapshots WHERE {bot_is}block IN "
            "(SELECT block FROM intents WHERE {bot_is}1 = 1) GROUP BY block"
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def snapshots_through(self, snapshot_id: int) -> int:
        """How many snapshots have a row id up to ``snapshot_id`` (an aggregate)."""
        rows = await self._fetch(
            "SELECT COUNT(*) FROM snapshots WHERE {bot_is}id <= :id", id=snapshot_id
        )
        return int(rows[0][0]) if rows else 0

    async def next_snapshot_time(self, snapshot_id: int) -> float | None:
        """Record time (seconds) of the first snapshot after row id ``snapshot_id``."""
        rows = await self._fetch(
            "SELECT ts FROM snapshots WHERE {bot_is}id > :id ORDER BY id LIMIT 1", id=snapshot_id
        )
        return float(rows[0][0]) if rows else None
