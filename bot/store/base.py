"""The store's contract, written once: transactions, typed meta, append-only records.

:class:`RecordStore` holds every query (dialect templates, :mod:`bot.store.dialect`); a
backend supplies two sessions: ``_begin()`` (one transaction: commits at its end, rolls back
when the block raises) and ``_reader()`` (reads outside a transaction). SQLite
(:mod:`bot.store.sqlite`) and PostgreSQL (:mod:`bot.store.postgres`) are the backends. Every
method raises ``StoreError`` when the store cannot be written or read; the engine never
trades without its record.
"""

from __future__ import annotations

import asyncio
import json
from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot.domain import (
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    Order,
    OrderIntent,
    OrderStatus,
)
from bot.errors import StoreError
from bot.records import intent_from, to_json
from bot.store.decision_runs import DecisionRunRecords
from bot.store.dialect import Dialect
from bot.store.meta import MetaField, MetaKey
from bot.store.reads import RecordReads
from bot.store.snapshot_policy import SnapshotPolicy

__all__ = ["RecordStore", "SqlSession"]

T = TypeVar("T")

_DELETE_CHUNK = 500  # row ids per DELETE statement (SQLite's parameter limit is 32,766)
_UNRESOLVED = (OrderStatus.NEW.value, OrderStatus.UNKNOWN.value, OrderStatus.OPEN.value)


class SqlSession(Protocol):
    """One backend connection: statements with named parameters; errors are ``StoreError``."""

    async def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        """Run one statement; the rows it changed."""
        ...

    async def fetchall(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run one query; every row."""
        ...


class RecordStore(RecordReads, DecisionRunRecords):
    """The bot's record over one backend. Open a backend's subclass with its ``open``."""

    path: Path  # where local files beside the store go (the kill switch file's default)
    # which ticks' snapshots and decisions the engine keeps (store.snapshot_*; open_store)
    snapshot_policy: SnapshotPolicy = SnapshotPolicy()

    def __init__(self, dialect: Dialect, path: Path) -> None:
        self._dialect = dialect
        self.path = path
        self._lock = asyncio.Lock()  # one writer at a time; a transaction holds it throughout
        self._tx_owner: asyncio.Task[Any] | None = None
        self._tx_session: SqlSession | None = None

    @abstractmethod
    def _begin(self) -> AbstractAsyncContextManager[SqlSession]:
        """A session in a new transaction: committed at exit (``StoreError`` when the commit
        fails), rolled back when the block raises."""

    @abstractmethod
    def _reader(self) -> AbstractAsyncContextManager[SqlSession]:
        """A session for reads outside any transaction."""

    @abstractmethod
    async def close(self) -> None:
        """Close the backend's connections."""

    # writing ---------------------------------------------------------------------------
    def _in_transaction(self) -> bool:
        return self._tx_owner is not None and self._tx_owner is asyncio.current_task()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Group the writes of the block into one transaction: all commit at its end, or
        none (rolled back when the block raises). Nested use joins the outer transaction;
        other tasks' writes wait until it ends. Raises ``StoreError`` when the commit fails."""
        if self._in_transaction():
            yield
            return
        async with self._lock:
            self._tx_owner = asyncio.current_task()
            try:
                async with self._begin() as session:
                    self._tx_session = session
                    yield
            finally:
                self._tx_owner = None
                self._tx_session = None

    async def _execute(self, template: str, **values: Any) -> int:
        """One statement, committed now (or with the caller's transaction); rows changed."""
        async with self.transaction():
            session = self._tx_session
            if session is None:  # pragma: no cover - transaction() always sets it
                raise StoreError("store write outside a transaction")
            return await session.execute(
                self._dialect.render(template), self._dialect.params(values)
            )

    async def _fetch(self, template: str, **values: Any) -> list[tuple[Any, ...]]:
        sql, params = self._dialect.render(template), self._dialect.params(values)
        if self._in_transaction() and self._tx_session is not None:
            return await self._tx_session.fetchall(sql, params)  # sees its own writes
        async with self._reader() as session:
            return await session.fetchall(sql, params)

    async def check_writable(self) -> None:
        """Prove a write still succeeds (disk full, read-only file system, database gone)."""
        await self._execute(
            "INSERT INTO meta({bot_col}key, value) VALUES({bot_val}'last_write_check', '1') "
            "ON CONFLICT({bot_col}key) DO UPDATE "
            "SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
        )

    # meta ------------------------------------------------------------------------------
    async def get_meta(self, key: MetaKey | str) -> str | None:
        """A stored meta value as text; ``ValueError`` for a key that is no ``MetaKey``."""
        rows = await self._fetch(
            "SELECT value FROM meta WHERE {bot_is}key = :key", key=MetaKey(key).value
        )
        return str(rows[0][0]) if rows else None

    async def set_meta(self, key: MetaKey | str, value: str) -> None:
        """Store a meta value as text (``""`` deletes it); ``ValueError`` for an unknown key."""
        if value == "":
            await self._execute("DELETE FROM meta WHERE {bot_is}key = :key", key=MetaKey(key).value)
            return
        await self._execute(
            "INSERT INTO meta({bot_col}key, value) VALUES({bot_val}:key, :value) "
            "ON CONFLICT({bot_col}key) DO UPDATE SET value = excluded.value",
            key=MetaKey(key).value,
            value=value,
        )

    async def get(self, field: MetaField[T]) -> T:
        """A typed meta value, or the field's default when absent."""
        text = await self.get_meta(field.key)
        return field.default if text is None else field.decode(text)

    async def set(self, field: MetaField[T], value: T) -> None:
        """Store a typed meta value (a value that encodes to ``""`` deletes the key)."""
        await self.set_meta(field.key, field.encode(value))

    # records ---------------------------------------------------------------------------
    async def record_snapshot(self, ts: float, snapshot: ChainSnapshot) -> None:
        """Append the chain snapshot of one tick."""
        await self._execute(
            "INSERT INTO snapshots({bot_col}ts, block, price, delta_base, body) "
            "VALUES({bot_val}:ts, :block, :price, :delta_base, :body)",
            ts=ts,
            block=snapshot.block_number,
            price=str(snapshot.price),
            delta_base=str(snapshot.delta_base),
            body=to_json(snapshot),
        )

    async def snapshot_index(self) -> list[tuple[int, float, int]]:
        """Every stored snapshot as (row id, record time in seconds, block), oldest first."""
        rows = await self._fetch(
            "SELECT id, ts, block FROM snapshots WHERE {bot_is}1 = 1 ORDER BY id"
        )
        return [(int(row[0]), float(row[1]), int(row[2])) for row in rows]

    async def delete_snapshots(self, ids: Sequence[int]) -> int:
        """Remove the snapshots with these row ids (``store compact``; nothing else is ever
        deleted), in the caller's transaction or one of its own; how many were removed."""
        removed = 0
        async with self.transaction():
            for start in range(0, len(ids), _DELETE_CHUNK):
                chunk = ids[start : start + _DELETE_CHUNK]
                names = {f"i{n}": int(row_id) for n, row_id in enumerate(chunk)}
                placeholders = ", ".join(f":{name}" for name in names)
                removed += await self._execute(
                    "DELETE FROM snapshots WHERE {bot_is}id IN (" + placeholders + ")",  # noqa: S608 (named parameters only)
                    **names,
                )
        return removed

    async def record_decision(self, ts: float, block: int, decision: Decision) -> None:
        """Append the policy decision of one tick: the head of a new run (quiet repeats
        extend it, :meth:`extend_decision_run`)."""
        await self._execute(
            "INSERT INTO decisions({bot_col}ts, block, action, reason, body) "
            "VALUES({bot_val}:ts, :block, :action, :reason, :body)",
            ts=ts,
            block=block,
            action=decision.action,
            reason=decision.reason,
            body=to_json(decision),
        )

    async def record_intent(self, ts: float, block: int, intent: OrderIntent) -> None:
        """Record an intent BEFORE it is sent (write-ahead)."""
        await self._execute(
            "INSERT INTO intents({bot_col}client_order_id, ts, block, status, body) "
            "VALUES({bot_val}:cid, :ts, :block, :status, :body) "
            "ON CONFLICT({bot_col}client_order_id) DO NOTHING",
            cid=intent.client_order_id,
            ts=ts,
            block=block,
            status=OrderStatus.NEW.value,
            body=to_json(intent),
        )

    async def record_order(self, ts: float, order: Order) -> None:
        """Append an order update and move its intent to the reported status (one
        transaction: both or neither)."""
        async with self.transaction():
            await self._execute(
                "INSERT INTO order_updates({bot_col}ts, client_order_id, status, filled_base, "
                "body) VALUES({bot_val}:ts, :cid, :status, :filled_base, :body)",
                ts=ts,
                cid=order.client_order_id,
                status=order.status.value,
                filled_base=str(order.filled_base),
                body=to_json(order),
            )
            await self.mark_intent(order.client_order_id, order.status)

    async def mark_intent(self, client_order_id: str, status: OrderStatus) -> None:
        """Set an intent's status (e.g. UNKNOWN after a timeout, REJECTED)."""
        await self._execute(
            "UPDATE intents SET status = :status WHERE {bot_is}client_order_id = :cid",
            status=status.value,
            cid=client_order_id,
        )

    async def unresolved_intents(self) -> list[OrderIntent]:
        """Intents whose outcome the store does not know (NEW, UNKNOWN or OPEN)."""
        rows = await self._fetch(
            "SELECT body FROM intents WHERE {bot_is}status IN (:new, :unknown, :open) "
            "ORDER BY ts, {rowid}",
            new=_UNRESOLVED[0],
            unknown=_UNRESOLVED[1],
            open=_UNRESOLVED[2],
        )
        return [intent_from(json.loads(row[0])) for row in rows]

    async def intent_count(self) -> int:
        """How many intents were ever recorded (client ids must never repeat)."""
        rows = await self._fetch("SELECT COUNT(*) FROM intents WHERE {bot_is}1 = 1")
        return int(rows[0][0]) if rows else 0

    async def record_fill(self, fill: Fill, *, own: bool = True) -> bool:
        """Store a fill once; returns False when it was already known (its row unchanged).

        ``own``: the bot's own fill (its client id is an intent of this bot), or someone
        else's on the account (another bot's, a manual trade, a fill without client id:
        ``own=False``). The venue history classifies each (``bot.venue_history``); a foreign
        fill is kept for the position checks but never counts in PnL (:meth:`totals`,
        ``read_fills(own=True)``)."""
        added = await self._execute(
            "INSERT INTO fills({bot_col}trade_id, ts, client_order_id, body, own) "
            "VALUES({bot_val}:trade_id, :ts, :cid, :body, :own) "
            "ON CONFLICT({bot_col}trade_id) DO NOTHING",
            trade_id=fill.trade_id,
            ts=fill.timestamp,
            cid=fill.client_order_id,
            body=to_json(fill),
            own=int(own),
        )
        return added > 0

    async def record_funding(self, payment: FundingPayment) -> bool:
        """Store a funding payment once; returns False when it was already known."""
        added = await self._execute(
            "INSERT INTO funding({bot_col}id, ts, amount_quote, body) "
            "VALUES({bot_val}:id, :ts, :amount, :body) ON CONFLICT({bot_col}id) DO NOTHING",
            id=payment.id,
            ts=payment.timestamp,
            amount=str(payment.amount_quote),
            body=to_json(payment),
        )
        return added > 0

    async def record_event(self, ts: float, event_type: str, body: dict[str, Any]) -> None:
        """Append an operational event (alert, command, range change)."""
        await self._execute(
            "INSERT INTO events({bot_col}ts, type, body) VALUES({bot_val}:ts, :type, :body)",
            ts=ts,
            type=event_type,
            body=to_json(body),
        )

    async def record_command(
        self, ts: float, command_id: str, command: str, status: str, body: dict[str, Any]
    ) -> None:
        """Record an applied or rejected command (a command id is recorded once)."""
        await self._execute(
            "INSERT INTO commands({bot_col}id, ts, command, status, body) "
            "VALUES({bot_val}:id, :ts, :command, :status, :body) "
            "ON CONFLICT({bot_col}id) DO NOTHING",
            id=command_id,
            ts=ts,
            command=command,
            status=status,
            body=to_json(body),
        )
