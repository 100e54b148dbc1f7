"""The lean venue cadence's settings: how long a read balance is kept.

``exchange.balance_interval_s`` (seconds, default 30, at most 3600) and
``exchange.balance_refresh_move`` (a fraction of the mark, default 0.005 = 0.5 %, at most 0.5)
are fields of the ``exchange:`` section (:class:`VenueCadenceFields`, a base of
``bot.config.ExchangeConfig``); :meth:`VenueCadenceFields.cadence_settings` hands them to the
engine's :class:`bot.engine.cadence.VenueCadence` as a :class:`CadenceSettings`.

A balance is read again when either bound is reached, and always before an order is sized,
so these only decide how often a quiet tick spends a request on it (issue 16, item 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from bot.exchange.stream_settings import VenueStreamFields

__all__ = ["CadenceSettings", "VenueCadenceFields"]


@dataclass(frozen=True, slots=True)
class CadenceSettings:
    """The lean cadence's settings (``_s`` seconds; ``balance_refresh_move`` a fraction of
    the mark, 0.005 = 0.5 %)."""

    balance_interval_s: float = 30.0
    balance_refresh_move: Decimal = Decimal("0.005")
    fills_interval_s: float = 60.0
    funding_retry_s: float = 10.0
    funding_grace_s: float = 120.0


_DEFAULTS = CadenceSettings()


class VenueCadenceFields(VenueStreamFields):
    """The ``exchange:`` fields of the cadence (validated: positive and bounded), and those of
    the optional streaming mode (``bot.exchange.stream_settings``)."""

    # a read balance is kept at most this long (s) on ticks that place no order
    balance_interval_s: Annotated[float, Field(gt=0, le=3600)] = _DEFAULTS.balance_interval_s
    # ... or until the mark moved more than this fraction since it was read
    balance_refresh_move: Annotated[Decimal, Field(gt=0, le=Decimal("0.5"))] = (
        _DEFAULTS.balance_refresh_move
    )

    def cadence_settings(self) -> CadenceSettings:
        """The engine's cadence settings with these fields (the rest at their defaults)."""
        return CadenceSettings(
            balance_interval_s=self.balance_interval_s,
            balance_refresh_move=self.balance_refresh_move,
        )
