"""The ``store`` section of the configuration (SQLite file or shared PostgreSQL database)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["StoreConfig"]


class StoreConfig(BaseModel):
    """Where the append-only record lives: a SQLite file (``path``, the default) or, with
    ``url``, a PostgreSQL database shared by a fleet (every key carries ``bot_id``).

    ``url`` is ``postgresql://user@host:port/db``; its password comes from the environment
    only (``HEDGEBOT_STORE__PASSWORD``, or libpq's ``PGPASSWORD``): a URL carrying one is
    refused. With ``url`` set, ``path`` still names where local files go (the kill switch
    file defaults to beside it). ``pg_schema`` is the PostgreSQL schema of the tables;
    ``timeout_s`` bounds connecting and waiting for a pooled connection (seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    path: Path = Path("var/hedgebot.sqlite")
    url: str | None = None
    password: SecretStr | None = None
    pg_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0

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
        if parts.password is not None or "password" in parse_qs(parts.query):
            raise ValueError(
                "store.url must not carry a password: set HEDGEBOT_STORE__PASSWORD or "
                "PGPASSWORD in the environment"
            )
        return url

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        """Which store this section selects."""
        return "sqlite" if self.url is None else "postgresql"
