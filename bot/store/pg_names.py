"""The one rule for a PostgreSQL schema name given by an operator (``--pg-schema``,
``store.pg_schema``): a lower-case identifier, so it can never carry libpq options
(``-c default_transaction_read_only=off``) or SQL into the connection it names."""

from __future__ import annotations

import re

__all__ = ["PG_SCHEMA_PATTERN", "pg_schema_name"]

PG_SCHEMA_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"  # PostgreSQL's unquoted identifiers, <= 63 bytes
_SCHEMA = re.compile(PG_SCHEMA_PATTERN)


def pg_schema_name(text: str) -> str:
    """``text`` when it is a schema name by :data:`PG_SCHEMA_PATTERN`; ``ValueError`` naming
    the rule otherwise."""
    if not _SCHEMA.fullmatch(text):
        raise ValueError(
            f"--pg-schema {text[:80]!r}: a schema name is a lower-case letter or _ followed by "
            "up to 62 lower-case letters, digits or _"
        )
    return text
