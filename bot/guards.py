"""The risk shell: feeds one tick's reads to the pure rules of ``bot.core.risk``, keeps their state.

State kept between ticks: the last block (stalled/backwards blocks), recent order times (the
order-rate limit), the pool-price history (TWAP), the day's PnL baseline (persisted in the
store), funding totals (rebuilt from the store), and which rules are currently tripped, so an
alert is raised when a rule trips and a ``risk.cleared`` alert when it clears, not every tick.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bot.config import ChainConfig, Settings
from bot.core.killswitch import KillSwitchState, combine_modes
from bot.core.margin import (
    ETHUSDT_BRACKETS,
    MaintenanceBracket,
    liquidation_distance_pct,
    liquidation_price_isolated,
    maintenance_margin,
    margin_ratio,
)
from bot.core.risk import (
    DATA_RULES,
    Breach,
    FundingAssessment,
    FundingTotals,
    KillMode,
    MarginAssessment,
    RiskInputs,
    RiskLimits,
    TradingGate,
    assess_funding,
    assess_margin,
    check_pre_trade,
    count_stalled_ticks,
    counterparty_breach,
    funding_accumulator,
    time_weighted_price,
    trading_gate,
)
from bot.domain import AccountBalance, ChainSnapshot, MarketQuote, PerpPosition, Side
from bot.killswitch import FileKillSwitch, kill_switch_path
from bot.ports import Clock
from bot.risk_settings import RiskSettings
from bot.store.sqlite import SqliteStore

__all__ = ["MarginView", "RiskGuard", "RiskView", "margin_view"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MarginView:
    """Margin ratio and liquidation distance of the hedge (None when flat)."""

    ratio: Decimal | None
    liquidation_price: Decimal | None
    distance_pct: Decimal | None


def margin_view(
    position: PerpPosition, brackets: Sequence[MaintenanceBracket] = ETHUSDT_BRACKETS
) -> MarginView:
    """Exchange-reported liquidation price when there is one, else the isolated formula."""
    size, mark = position.size_base, position.mark_price
    if size == 0 or not mark > 0:
        return MarginView(None, None, None)
    maintenance = maintenance_margin(size * mark, brackets)
    ratio = margin_ratio(maintenance, position.margin + position.unrealized_pnl)
    liq = position.liquidation_price
    if liq is None and position.entry_price > 0:
        liq = liquidation_price_isolated(size, position.entry_price, position.margin, brackets)
    return MarginView(ratio, liq, liquidation_distance_pct(mark, liq, size))


@dataclass(frozen=True, slots=True)
class RiskView:
    """Every rule's verdict at one tick before any order is sized."""

    kill: KillSwitchState
    kill_mode: KillMode
    data_breaches: tuple[Breach, ...]
    margin: MarginView
    margin_assessment: MarginAssessment
    funding: FundingAssessment
    counterparty: Breach | None
    gate: TradingGate  # overrides only: no order breaches yet

    @property
    def trading_blocked(self) -> bool:
        """No order could pass this tick (a blocking data guard or a freeze)."""
        return not self.gate.allow_orders or any(b.severity == "block" for b in self.data_breaches)


@dataclass(frozen=True, slots=True)
class _VenueRules:
    """The verdicts of the rules that need only the venue's reads."""

    kill: KillSwitchState
    kill_mode: KillMode
    margin: MarginView
    assessment: MarginAssessment
    funding: FundingAssessment
    counterparty: Breach | None

    def view(self, data_breaches: tuple[Breach, ...], gate: TradingGate) -> RiskView:
        return RiskView(
            self.kill,
            self.kill_mode,
            data_breaches,
            self.margin,
            self.assessment,
            self.funding,
            self.counterparty,
            gate,
        )


@dataclass
class RiskGuard:
    """Risk rules for one bot; the engine calls ``observe`` then ``check_order`` each tick."""

    limits: RiskLimits
    kill_switch: FileKillSwitch
    funding_interval_s: int = 8 * 3600
    twap_window_s: int | None = None
    brackets: Sequence[MaintenanceBracket] = ETHUSDT_BRACKETS
    last_block: int | None = None
    stalled_ticks: int = 0
    funding_totals: FundingTotals = field(default_factory=FundingTotals)
    last_funding_rate: Decimal | None = None  # the rate of the last settled payment
    active: dict[str, str] = field(default_factory=dict)  # rule -> message, tripped now
    _orders_at: deque[float] = field(default_factory=deque)
    _prices: deque[tuple[float, Decimal]] = field(default_factory=deque)
    _day: str | None = None
    _day_start_net: Decimal = _ZERO

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

    async def restore(self, store: SqliteStore) -> None:
        """Funding totals, the last settled rate and the day's PnL baseline from the store."""
        payments = await store.read_funding()
        self.funding_totals = funding_accumulator(p.amount_quote for p in payments)
        if payments:
            self.last_funding_rate = max(payments, key=lambda p: p.timestamp).rate
        self._day = await store.get_meta("risk_day")
        self._day_start_net = Decimal(await store.get_meta("risk_day_start_net") or "0")

    def add_funding(self, amounts: Sequence[tuple[Decimal, Decimal]]) -> None:
        """Fold newly settled ``(amount_quote, rate)`` payments in."""
        for amount, rate in amounts:
            self.funding_totals = self.funding_totals.add(amount)
            self.last_funding_rate = rate

    async def day_pnl(self, store: SqliteStore, now_s: float, net_quote: Decimal) -> Decimal:
        """PnL since the start of the UTC day (the first tick of a day sets the baseline)."""
        day = datetime.fromtimestamp(now_s, UTC).date().isoformat()
        if day != self._day:
            self._day, self._day_start_net = day, net_quote
            await store.set_meta("risk_day", day)
            await store.set_meta("risk_day_start_net", str(net_quote))
        return net_quote - self._day_start_net

    def orders_last_minute(self, now_s: float) -> int:
        """Orders sent in the minute before ``now_s``."""
        while self._orders_at and self._orders_at[0] <= now_s - 60:
            self._orders_at.popleft()
        return len(self._orders_at)

    def record_order(self, now_s: float) -> None:
        """Count an order toward the rate limit (sent, whatever its outcome)."""
        self._orders_at.append(now_s)

    def _twap(self, now_s: float, price: Decimal) -> Decimal | None:
        if self.twap_window_s is None:
            return None
        twap = time_weighted_price(list(self._prices), now_s, self.twap_window_s)
        self._prices.append((now_s, price))
        while len(self._prices) > 1 and self._prices[1][0] <= now_s - self.twap_window_s:
            self._prices.popleft()
        return twap

    def _inputs(
        self,
        now_s: float,
        block_number: int,
        block_timestamp: int,
        last_block_number: int | None,
        pool_price: Decimal,
        quote: MarketQuote,
        position: PerpPosition,
        balance: AccountBalance,
        margin: MarginView,
        *,
        twap: Decimal | None,
    ) -> RiskInputs:
        return RiskInputs(
            now_s=now_s,
            block_number=block_number,
            block_timestamp=block_timestamp,
            last_block_number=last_block_number,
            pool_price=pool_price,
            mark_price=quote.mark_price,
            twap_price=twap,
            order_notional=_ZERO,
            position_notional_after=abs(position.size_base) * quote.mark_price,
            orders_last_minute=self.orders_last_minute(now_s),
            day_pnl_quote=_ZERO,
            margin_ratio=margin.ratio,
            liquidation_distance_pct=margin.distance_pct,
            collateral_quote=balance.wallet_balance,
            funding_rate=quote.funding_rate,
            funding_interval_s=self.funding_interval_s,
            hedge_base=position.size_base,
            stalled_ticks=self.stalled_ticks,
        )

    def _venue_rules(
        self,
        quote: MarketQuote,
        position: PerpPosition,
        balance: AccountBalance,
        hedge_ratio: Decimal,
        operator_mode: KillMode,
    ) -> _VenueRules:
        """The rules that need only the venue: kill switch, margin, funding, counterparty."""
        kill = self.kill_switch.read()
        margin = margin_view(position, self.brackets)
        return _VenueRules(
            kill=kill,
            kill_mode=combine_modes(kill.mode, operator_mode),
            margin=margin,
            assessment=assess_margin(
                margin.ratio,
                margin.distance_pct,
                self.limits.margin,
                hedge_base=position.size_base,
            ),
            funding=assess_funding(
                self.last_funding_rate
                if self.last_funding_rate is not None
                else quote.funding_rate,
                self.funding_interval_s,
                position.size_base,
                self.limits.funding,
                predicted_rate=quote.funding_rate,
                hedge_ratio=hedge_ratio,
            ),
            counterparty=counterparty_breach(
                balance.wallet_balance, self.limits.max_collateral_quote
            ),
        )

    def observe(
        self,
        now_s: float,
        snapshot: ChainSnapshot,
        quote: MarketQuote,
        position: PerpPosition,
        balance: AccountBalance,
        *,
        hedge_ratio: Decimal,
        operator_mode: KillMode = "off",
    ) -> tuple[RiskView, RiskInputs]:
        """Every rule that does not depend on the order; advances the block bookkeeping."""
        venue = self._venue_rules(quote, position, balance, hedge_ratio, operator_mode)
        self.stalled_ticks = count_stalled_ticks(
            self.stalled_ticks, snapshot.block_number, self.last_block
        )
        inputs = self._inputs(
            now_s,
            snapshot.block_number,
            snapshot.block_timestamp,
            self.last_block,
            snapshot.price,
            quote,
            position,
            balance,
            venue.margin,
            twap=self._twap(now_s, snapshot.price),
        )
        breaches = tuple(check_pre_trade(inputs, self.limits))
        if self.last_block is None or snapshot.block_number > self.last_block:
            self.last_block = snapshot.block_number
        gate = trading_gate((), venue.assessment, venue.funding, venue.kill_mode)
        return venue.view(breaches, gate), inputs

    def observe_venue(
        self,
        now_s: float,
        quote: MarketQuote,
        position: PerpPosition,
        balance: AccountBalance,
        *,
        chain_error: str,
        hedge_ratio: Decimal,
        operator_mode: KillMode = "off",
    ) -> tuple[RiskView, RiskInputs]:
        """The rules that need no chain read, for a tick whose chain read failed.

        Kill switch, margin, funding and counterparty come from the venue alone. The chain's
        failure is a blocking ``chain_unreadable`` breach in the gate, so only the emergency
        reductions can pass: kill-switch or operator flatten to 0, margin critical ``flatten``
        to 0 and ``reduce`` to :func:`bot.core.risk.assess_margin`'s safe size of the current
        hedge (same sign, never larger, so it never crosses zero). The data guards tripped at
        the last chain read stay as they were (unknown, not cleared); block bookkeeping and
        TWAP are left alone. The returned inputs' chain fields are neutral (pool price = mark,
        block time = now, no previous block), so :meth:`check_order` runs the order guards only.
        """
        venue = self._venue_rules(quote, position, balance, hedge_ratio, operator_mode)
        inputs = self._inputs(
            now_s,
            self.last_block or 0,
            int(now_s),
            None,
            quote.mark_price,
            quote,
            position,
            balance,
            venue.margin,
            twap=None,
        )
        kept = tuple(
            Breach(rule, "warn", message)
            for rule, message in self.active.items()
            if rule in DATA_RULES
        )
        unreadable = Breach("chain_unreadable", "block", chain_error)
        gate = trading_gate((unreadable,), venue.assessment, venue.funding, venue.kill_mode)
        return venue.view(kept, gate), inputs

    def check_order(
        self,
        view: RiskView,
        inputs: RiskInputs,
        side: Side,
        amount_base: Decimal,
        day_pnl_quote: Decimal,
    ) -> tuple[TradingGate, tuple[Breach, ...]]:
        """The gate for one order, with the order guards added to the data guards."""
        signed = amount_base if side is Side.BUY else -amount_base
        order_inputs = RiskInputs(
            **{
                **{name: getattr(inputs, name) for name in RiskInputs.__dataclass_fields__},
                "order_notional": amount_base * inputs.mark_price,
                "position_notional_after": abs(inputs.hedge_base + signed) * inputs.mark_price,
                "day_pnl_quote": day_pnl_quote,
            }
        )
        breaches = tuple(check_pre_trade(order_inputs, self.limits))
        gate = trading_gate(breaches, view.margin_assessment, view.funding, view.kill_mode)
        return gate, breaches

    def transitions(self, current: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        """Rules newly tripped (rule -> message) and rules cleared since the last call."""
        tripped = {rule: msg for rule, msg in current.items() if rule not in self.active}
        cleared = [rule for rule in self.active if rule not in current]
        self.active = dict(current)
        return tripped, cleared
