"""Fault switches of the Hyperliquid emulator.

``HyperliquidFaults`` is mutable state the emulator consults on every request; one-shot
switches clear themselves when used. Numbers in admin bodies go through the emulators' one
admin number parser (``bot.exchange.emulators.admin``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from bot.exchange.emulators.admin import admin_drop_mode, admin_int, admin_number

__all__ = ["HyperliquidFaults", "apply_fault"]


@dataclass
class HyperliquidFaults:
    """Mutable fault switches; each one-shot switch clears itself when used."""

    drop_next_order: Literal["reset", "delay"] | None = None
    drop_delay_s: float = 30.0
    rate_limit_requests: int = 0  # the next N requests are answered HTTP 429
    latency_s: float = 0.0
    partial_fill_next_ioc: Decimal | None = None  # fraction of the next IOC order to fill

    def reset(self) -> None:
        """Clear every switch."""
        self.drop_next_order = None
        self.rate_limit_requests = 0
        self.latency_s = 0.0
        self.partial_fill_next_ioc = None

    def take_partial_fill(self) -> Decimal | None:
        """The partial-fill fraction for this IOC order (clears the switch)."""
        fraction, self.partial_fill_next_ioc = self.partial_fill_next_ioc, None
        return fraction


def _drop_next_order(faults: HyperliquidFaults, body: Mapping[str, Any]) -> None:
    faults.drop_next_order, faults.drop_delay_s = admin_drop_mode(body, faults.drop_delay_s)


def _partial_fill(faults: HyperliquidFaults, body: Mapping[str, Any]) -> None:
    fraction = admin_number(body, "fraction", low=0, high=1, above_low=True, default="0.5")
    if fraction == 1:
        raise ValueError("fraction must be in (0, 1)")
    faults.partial_fill_next_ioc = fraction


def apply_fault(faults: HyperliquidFaults, action: str, body: Mapping[str, Any]) -> bool:
    """Set the switch an admin ``action`` names; False when it names none.

    Raises ``ValueError``/``KeyError`` for a malformed body (the admin API answers 400)."""
    if action == "drop_next_order":
        _drop_next_order(faults, body)
    elif action == "rate_limit":
        faults.rate_limit_requests = admin_int(body, "count", low=0)
    elif action == "latency":
        faults.latency_s = float(admin_number(body, "seconds", low=0, high=3600))
    elif action == "partial_fill_next_ioc":
        _partial_fill(faults, body)
    elif action == "reset_faults":
        faults.reset()
    else:
        return False
    return True
