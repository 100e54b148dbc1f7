"""The bot's durable record: SQLite (one bot, the default) or PostgreSQL (a fleet).

``open_store(settings)`` opens the backend the ``store`` section selects; both are a
:class:`~bot.store.base.RecordStore` (one contract, one set of queries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.store.base import RecordStore
from bot.store.postgres import PostgresStore
from bot.store.snapshot_policy import SnapshotPolicy
from bot.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["RecordStore", "open_store"]


async def open_store(settings: Settings, *, read_only: bool = False) -> RecordStore:
    """The store ``settings.store`` names, opened and migrated (``read_only``: for reports,
    nothing written), with the section's snapshot policy. Raises ``StoreError`` saying why
    it cannot be used."""
    config = settings.store
    store: RecordStore
    if config.url is None:
        store = await SqliteStore.open(config.path, read_only=read_only)
    else:
        store = await _open_postgresql(settings, read_only=read_only)
    store.snapshot_policy = SnapshotPolicy(config.snapshot_tolerance, config.snapshot_interval_s)
    return store


async def _open_postgresql(settings: Settings, *, read_only: bool) -> RecordStore:
    config = settings.store
    assert config.url is not None
    return await PostgresStore.open(
        config.url,
        settings.bot_id,
        path=config.path,
        schema=config.pg_schema,
        password=None if config.password is None else config.password.get_secret_value(),
        timeout_s=config.timeout_s,
        read_only=read_only,
    )
