"""The ``store`` section of the configuration (SQLite file or shared PostgreSQL database)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bot.store.pg_names import PG_SCHEMA_PATTERN

__all__ = ["RetentionConfig", "StoreConfig", "shown_store_url"]


def shown_store_url(url: str) -> str:
    """``url`` as ``check-config`` prints it: scheme, user, host, port and database (what an
    operator checks; the config refuses a password in it), the query string replaced by
    ``?…`` (its parameters may name key files or carry what we do not know to hide)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{parts.path}" + ("?…" if parts.query else "")


class RetentionConfig(BaseModel):
    """How ``hedgebot store compact`` thins old snapshots: every snapshot of the last
    ``full_days`` days is kept; older ones are thinned to one per ``interval_s`` seconds
    (plus those the PnL replay needs: the first, the last, each one a fill or funding
    payment is attributed to). Decisions, intents, orders, fills, funding, commands and
    events are never removed."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    full_days: Annotated[float, Field(ge=0, le=36500)] = 7.0
    interval_s: Annotated[float, Field(gt=0, le=86400 * 31)] = 3600.0


class StoreConfig(BaseModel):
    """Where the append-only record lives: a SQLite file (``path``, the default) or, with
    ``url``, a PostgreSQL database shared by a fleet (every key carries ``bot_id``).

    ``url`` is ``postgresql://user@host:port/db``; its password comes from the environment
    only (``HEDGEBOT_STORE__PASSWORD``, or libpq's ``PGPASSWORD``): a URL carrying one, in
    ``user:password@`` or in any query parameter whose name holds ``password``
    (``sslpassword``), is refused. With ``url`` set, ``path`` still names where local files
    go (the kill switch file defaults to beside it). ``pg_schema`` is the PostgreSQL schema
    of the tables; ``timeout_s`` bounds connecting and waiting for a pooled connection
    (seconds).

    A tick's snapshot is kept when the total delta or LP value moved by more than
    ``snapshot_tolerance`` (relative) since the last kept one, on trades and position
    changes, and at least every ``snapshot_interval_s`` seconds
    (:mod:`bot.store.snapshot_policy`; both 0: every tick). ``retention`` is what
    ``hedgebot store compact`` thins."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    path: Path = Path("var/hedgebot.sqlite")
    url: str | None = None
    password: SecretStr | None = None
    pg_schema: str = Field(default="public", pattern=PG_SCHEMA_PATTERN)
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    snapshot_tolerance: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.001")
    snapshot_interval_s: Annotated[float, Field(ge=0, le=86400)] = 60.0
    retention: RetentionConfig = RetentionConfig()

    @field_validator("url")
    @classmethod
    def _postgresql_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(
                f"store.url must be postgresql://user@host:port/db (scheme {parts.scheme!r}); "
                "leave it unset for the SQLite file at store.path"
            )
        secret_keys = sorted(
            key
            for key in parse_qs(parts.query, keep_blank_values=True)
            if "password" in key.lower()
        )
        if secret_keys:  # password, sslpassword (the client key's passphrase), ...
            raise ValueError(
                f"store.url must not carry a password (query parameter {', '.join(secret_keys)}):"
                " set HEDGEBOT_STORE__PASSWORD or PGPASSWORD in the environment, and libpq's "
                "sslpassword through a PGSERVICEFILE entry, never in the URL"
            )
        if parts.password is not None:
            raise ValueError(
                "store.url must not carry a password: set HEDGEBOT_STORE__PASSWORD or "
                "PGPASSWORD in the environment"
            )
        return url

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        """Which store this section selects."""
        return "sqlite" if self.url is None else "postgresql"
