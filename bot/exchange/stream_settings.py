"""The optional streaming venue mode's settings (issue 16, item 2).

``exchange.streaming: true`` (off by default) makes the ccxt adapter keep a ccxt.pro client
whose WebSocket streams (mark price, the account's position updates) serve the quiet tick's
reads; REST stays the fallback and the reconciliation (``bot.exchange.ccxt.streaming``).
Fields of the ``exchange:`` section (:class:`VenueStreamFields`, a base of the cadence fields
and so of ``bot.config.ExchangeConfig``):

* ``stream_url``: the venue's WebSocket base (ccxt's ``urls['api']['ws']['linear']``, e.g.
  ``ws://127.0.0.1:8765/ws`` for the emulator); unset: ccxt's own.
* ``stream_max_age_s`` (default 3, at most 60): a streamed mark older than this (host
  seconds since its frame; Binance sends one a second) is not used: REST is read instead.
* ``stream_reconcile_reads`` (default 20, the position check's period): every that many
  streamed position reads, one is read over REST instead and becomes the new base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

__all__ = ["STREAMING_VENUES", "StreamSettings", "VenueStreamFields"]

STREAMING_VENUES = frozenset({"binanceusdm"})  # ccxt ids whose streams are wired and tested


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How the streaming mode runs (``_s`` host seconds).

    ``ws_url``: the ``linear`` WebSocket base or None (ccxt's); ``max_age_s``: a streamed
    mark older than this is unknown; ``reconcile_reads``: one position read in that many goes
    to REST; ``backoff_s``/``backoff_max_s``: the first and the longest wait before a dropped
    stream is opened again (doubling in between); ``cache_limit``: ccxt.pro's kept orders and
    trades (``ordersLimit``/``tradesLimit``)."""

    ws_url: str | None = None
    max_age_s: float = 3.0
    reconcile_reads: int = 20
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    cache_limit: int = 100


_DEFAULTS = StreamSettings()


class VenueStreamFields(BaseModel):
    """The ``exchange:`` fields of the streaming mode (validated, bounded)."""

    # keep the venue's WebSocket streams (ccxt.pro) for the quiet tick's reads; REST fallback
    streaming: bool = False
    # the venue's WebSocket base (ccxt urls['api']['ws']['linear']); unset: ccxt's own
    stream_url: str | None = None
    # a streamed mark older than this (s) is not used
    stream_max_age_s: Annotated[float, Field(gt=0, le=60)] = _DEFAULTS.max_age_s
    # one position read in this many goes to REST (reconciliation)
    stream_reconcile_reads: Annotated[int, Field(ge=1, le=1000)] = _DEFAULTS.reconcile_reads

    @model_validator(mode="after")
    def _streams_where_wired(self) -> Self:
        kind, venue = getattr(self, "kind", "ccxt"), getattr(self, "exchange_id", None)
        if self.streaming and (kind != "ccxt" or venue not in STREAMING_VENUES):
            wired = ", ".join(sorted(STREAMING_VENUES))
            raise ValueError(f"streaming: only for kind ccxt with exchange_id {wired}")
        if self.stream_url is not None and not self.stream_url.startswith(("ws://", "wss://")):
            raise ValueError("stream_url: a ws:// or wss:// URL")
        return self

    def stream_settings(self) -> StreamSettings | None:
        """The streaming mode's settings, or None when ``streaming`` is off."""
        if not self.streaming:
            return None
        return StreamSettings(
            ws_url=self.stream_url,
            max_age_s=self.stream_max_age_s,
            reconcile_reads=self.stream_reconcile_reads,
        )
