"""The SQL differences between the store's backends, in one place.

Every query of the store is written once as a template with named parameters (``:name``)
and three scope fields:

- ``{bot_col}`` in a column list and ``{bot_val}`` in its ``VALUES``: the ``bot_id`` column;
- ``{bot_is}`` before a condition: ``bot_id = :bot_id AND``;
- ``{rowid}``: the insertion order of a table without an id (SQLite's ``rowid``, the ``seq``
  identity column on PostgreSQL).

A SQLite file holds one bot (its instance lock guards it), so its scope renders to nothing
and its schema has no ``bot_id``; a PostgreSQL database is shared by a fleet, so every key
carries ``bot_id`` and every statement is scoped to this store's bot. PostgreSQL's driver
(psycopg) takes ``%(name)s`` placeholders; SQLite takes ``:name``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Dialect"]

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one backend spells the store's queries: ``render(template)`` gives the SQL,
    ``params(values)`` the parameters (``bot_id`` included)."""

    name: Literal["sqlite", "postgresql"]
    bot_id: str | None = None  # None: the database holds one bot (no bot_id column)
    _rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def sqlite(cls) -> Dialect:
        """One bot per file: no ``bot_id``, ``:name`` placeholders."""
        return cls("sqlite")

    @classmethod
    def postgresql(cls, bot_id: str) -> Dialect:
        """A shared database: every statement scoped to ``bot_id``; ``%(name)s`` placeholders."""
        if not bot_id:
            raise ValueError("a PostgreSQL store needs a bot_id")
        return cls("postgresql", bot_id)

    def render(self, template: str) -> str:
        """The SQL of ``template`` for this backend (cached per template)."""
        sql = self._rendered.get(template)
        if sql is None:
            scoped = self.bot_id is not None
            sql = template.format(
                bot_col="bot_id, " if scoped else "",
                bot_val=":bot_id, " if scoped else "",
                bot_is="bot_id = :bot_id AND " if scoped else "",
                rowid="seq" if self.name == "postgresql" else "rowid",
            )
            if self.name == "postgresql":
                sql = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
            self._rendered[template] = sql
        return sql

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` plus this store's ``bot_id`` (ignored by SQL that does not name it)."""
        return {"bot_id": self.bot_id or "", **values}
