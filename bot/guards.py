"""The risk shell: the configured limits, the kill-switch file and the state restored at start.

The rules themselves are pure (:mod:`bot.core.risk`, :mod:`bot.core.gate`) and their memory
between ticks is the frozen :class:`bot.core.gate.GuardState` the engine threads through
:func:`bot.core.plan.plan_tick`. What is left here touches files and the store: the kill
switch's flag file, and :meth:`RiskGuard.restore`, which rebuilds the state a restart must
keep (the rate of the last settled funding payment, the day's PnL baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bot.config import ChainConfig, Settings
from bot.core.gate import GuardLimits, GuardState, MarginView, RiskView, margin_view
from bot.core.margin import ETHUSDT_BRACKETS, MaintenanceBracket
from bot.core.risk import RiskLimits
from bot.killswitch import FileKillSwitch, kill_switch_path
from bot.ports import Clock, Store
from bot.risk_settings import RiskSettings
from bot.store.meta import MetaKey

__all__ = ["MarginView", "RiskGuard", "RiskView", "margin_view"]

DAY_META_KEY = MetaKey.RISK_DAY
DAY_START_NET_META_KEY = MetaKey.RISK_DAY_START_NET


@dataclass
class RiskGuard:
    """The risk configuration of one bot and its kill switch."""

    limits: RiskLimits
    kill_switch: FileKillSwitch
    funding_interval_s: int = 8 * 3600
    twap_window_s: int | None = None
    brackets: tuple[MaintenanceBracket, ...] = ETHUSDT_BRACKETS

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> RiskGuard:
        """The guard the ``risk`` and ``chain`` config sections describe."""
        risk = settings.risk
        path = kill_switch_path(risk.kill_switch_file, settings.store.path)
        return cls(
            limits=risk.to_limits(settings.chain.max_block_age_s),
            kill_switch=FileKillSwitch(path, clock),
            funding_interval_s=risk.funding_interval_s,
            twap_window_s=risk.twap_window_s,
        )

    @classmethod
    def with_defaults(cls, store_path: Path, clock: Clock) -> RiskGuard:
        """Default limits, the kill switch beside the store (for engines built without one)."""
        risk = RiskSettings()
        return cls(
            limits=risk.to_limits(ChainConfig.model_fields["max_block_age_s"].default),
            kill_switch=FileKillSwitch(kill_switch_path(None, store_path), clock),
            funding_interval_s=risk.funding_interval_s,
        )

    @property
    def config(self) -> GuardLimits:
        """The limits as the pure rules take them."""
        return GuardLimits(self.limits, self.funding_interval_s, self.twap_window_s, self.brackets)

    @staticmethod
    async def restore(store: Store) -> GuardState:
        """The state a restart keeps: the last settled funding rate and the day baseline."""
        payments = await store.read_funding()
        last_rate = max(payments, key=lambda p: p.timestamp).rate if payments else None
        return GuardState(
            last_funding_rate=last_rate,
            day=await store.get_meta(DAY_META_KEY),
            day_start_net=Decimal(await store.get_meta(DAY_START_NET_META_KEY) or "0"),
        )

    @staticmethod
    async def persist_day(store: Store, before: GuardState, after: GuardState) -> None:
        """Write the day baseline when a tick started a new UTC day."""
        if after.day != before.day and after.day is not None:
            await store.set_meta(DAY_META_KEY, after.day)
            await store.set_meta(DAY_START_NET_META_KEY, str(after.day_start_net))
