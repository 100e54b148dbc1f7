"""Readers (``report``, ``fleet status``, ``status``, dashboards) check the store's schema
version before their first query: a store migrated by another hedgebot version is refused
with one line naming both versions, instead of a raw SQL error about a missing column."""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import StoreError
from bot.store.migrations import MIGRATIONS, Migration

__all__ = ["check_schema_version", "latest_version"]


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """The schema version this hedgebot writes (its last migration; 0 without any)."""
    return migrations[-1].version if migrations else 0


def check_schema_version(
    current: int, where: str, migrations: Sequence[Migration] = MIGRATIONS
) -> None:
    """Raise ``StoreError`` unless ``current`` (the store's recorded version) is this
    hedgebot's: older ("start `hedgebot run` of this version once: it migrates") or newer
    ("upgrade hedgebot"), naming ``where`` and both versions."""
    latest = latest_version(migrations)
    if current == latest:
        return
    if current < latest:
        raise StoreError(
            f"store {where} has schema version {current}, this hedgebot reads version "
            f"{latest}: start `hedgebot run` of this version on it once (it migrates), or "
            "read it with the hedgebot that wrote it"
        )
    raise StoreError(
        f"store {where} has schema version {current}, newer than this hedgebot ({latest}): "
        "upgrade hedgebot to read it"
    )
