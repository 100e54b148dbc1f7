"""The risk rules of one tick over a frozen :class:`GuardState`. Pure.

What the risk guard remembers between ticks (the last block, stalled ticks, recent order
times, the pool-price history for the TWAP, the day's PnL baseline, the rate of the last
settled funding payment, and which rules are tripped) is one frozen value threaded in and
out of :func:`bot.core.plan.plan_tick` like ``PolicyState``. The functions here feed one
tick's reads to the rules of :mod:`bot.core.risk` and return the verdicts with the next
state; the shell persists the day baseline and restores the state at start.

Units as in :mod:`bot.core.risk`: prices quote per base, notionals and PnL quote, sizes
signed base.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from bot.core.killswitch import KillSwitchState
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
    KillMode,
    MarginAssessment,
    RiskInputs,
    RiskLimits,
    assess_funding,
    assess_margin,
    check_pre_trade,
    count_stalled_ticks,
    counterparty_breach,
    time_weighted_price,
)
from bot.core.trading_gate import TradingGate, trading_gate
from bot.domain import AccountBalance, ChainSnapshot, MarketQuote, PerpPosition, Side

__all__ = [
    "TWAP_MAX_SAMPLES",
    "GuardLimits",
    "GuardState",
    "MarginView",
    "RiskView",
    "check_order",
    "day_pnl",
    "margin_view",
    "observe",
    "observe_venue",
    "record_order",
    "transitions",
]

_ZERO = Decimal(0)
_ORDER_WINDOW_S = 60.0
# TWAP samples kept (``GuardState.prices``): the window alone would keep one per tick, 7,200
# for a 30 min window at 4 blocks/s. Past the cap the two adjacent samples spanning the least
# time merge into their time-weighted price (the integral is unchanged): the TWAP then
# differs from the per-tick one only where a merged sample straddles the window's start,
# by at most that sample's share of the window (about 2/1024) times the price move within it.
TWAP_MAX_SAMPLES = 1024


@dataclass(frozen=True, slots=True)
class GuardLimits:
    """The configured limits and the venue facts the rules need (``risk`` config section)."""

    limits: RiskLimits
    funding_interval_s: int = 8 * 3600
    twap_window_s: int | None = None
    brackets: tuple[MaintenanceBracket, ...] = ETHUSDT_BRACKETS
    twap_max_samples: int = TWAP_MAX_SAMPLES  # at least 4 (two merge, first and last kept)


@dataclass(frozen=True, slots=True)
class GuardState:
    """What the rules remember between ticks. ``active`` holds ``(rule, message)`` pairs of
    the rules tripped now and ``tripped_at`` ``(rule, unix s)`` when each of them tripped (a
    rule tripped before a restart has none); ``orders_at`` the send times (unix s) of the
    last minute's orders; ``prices`` the ``(unix s, pool price)`` samples of the TWAP
    window (at most ``GuardLimits.twap_max_samples``); ``day`` the UTC date (ISO) whose PnL
    baseline is ``day_start_net`` (quote)."""

    last_block: int | None = None
    stalled_ticks: int = 0
    last_funding_rate: Decimal | None = None
    active: tuple[tuple[str, str], ...] = ()
    tripped_at: tuple[tuple[str, float], ...] = ()
    orders_at: tuple[float, ...] = ()
    prices: tuple[tuple[float, Decimal], ...] = ()
    day: str | None = None
    day_start_net: Decimal = _ZERO

    @property
    def active_rules(self) -> dict[str, str]:
        """The tripped rules as ``rule -> message``."""
        return dict(self.active)


@dataclass(frozen=True, slots=True)
class MarginView:
    """Margin ratio and liquidation distance of the hedge (None when flat)."""

    ratio: Decimal | None
    liquidation_price: Decimal | None
    distance_pct: Decimal | None


def margin_view(
    position: PerpPosition, brackets: tuple[MaintenanceBracket, ...] = ETHUSDT_BRACKETS
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
class VenueRead:
    """The venue's side of one tick: quote, position, balance (all read, never defaulted)."""

    quote: MarketQuote
    position: PerpPosition
    balance: AccountBalance


@dataclass(frozen=True, slots=True)
class _VenueRules:
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


def _orders_last_minute(state: GuardState, now_s: float) -> tuple[float, ...]:
    return tuple(t for t in state.orders_at if t > now_s - _ORDER_WINDOW_S)


def record_order(state: GuardState, now_s: float) -> GuardState:
    """Count an order toward the rate limit (sent, whatever its outcome)."""
    return replace(state, orders_at=(*_orders_last_minute(state, now_s), now_s))


def _twap(
    state: GuardState, cfg: GuardLimits, now_s: float, price: Decimal
) -> tuple[Decimal | None, tuple[tuple[float, Decimal], ...]]:
    """The TWAP before this sample, and the window's samples with it added."""
    window = cfg.twap_window_s
    if window is None:
        return None, state.prices
    twap = time_weighted_price(list(state.prices), now_s, window)
    prices = [*state.prices, (now_s, price)]
    while len(prices) > 1 and prices[1][0] <= now_s - window:
        prices.pop(0)
    while len(prices) > max(4, cfg.twap_max_samples):
        _merge_shortest_pair(prices)
    return twap, tuple(prices)


def _merge_shortest_pair(prices: list[tuple[float, Decimal]]) -> None:
    """Merge the two adjacent samples spanning the least time into one holding their
    time-weighted price from the first's time, so the price integral over them (what
    :func:`bot.core.risk.time_weighted_price` sums) is unchanged. The first sample (it may
    straddle the window's start) and the last (its span is still open) are never merged;
    needs at least 4 samples."""
    i = min(range(1, len(prices) - 2), key=lambda k: prices[k + 2][0] - prices[k][0])
    (t0, p0), (t1, p1), (t2, _) = prices[i], prices[i + 1], prices[i + 2]
    span = t2 - t0
    merged = (
        p1
        if span <= 0
        else ((p0 * Decimal(repr(t1 - t0)) + p1 * Decimal(repr(t2 - t1))) / Decimal(repr(span)))
    )
    prices[i : i + 2] = [(t0, merged)]


def _inputs(
    state: GuardState,
    venue: VenueRead,
    margin: MarginView,
    chain: tuple[float, int, int, int | None, Decimal],
    cfg: GuardLimits,
    twap: Decimal | None,
) -> RiskInputs:
    now_s, block_number, block_timestamp, last_block, pool_price = chain
    quote, position = venue.quote, venue.position
    return RiskInputs(
        now_s=now_s,
        block_number=block_number,
        block_timestamp=block_timestamp,
        last_block_number=last_block,
        pool_price=pool_price,
        mark_price=quote.mark_price,
        twap_price=twap,
        order_notional=_ZERO,
        position_notional_after=abs(position.size_base) * quote.mark_price,
        orders_last_minute=len(_orders_last_minute(state, now_s)),
        day_pnl_quote=_ZERO,
        margin_ratio=margin.ratio,
        liquidation_distance_pct=margin.distance_pct,
        collateral_quote=venue.balance.wallet_balance,
        funding_rate=quote.funding_rate,
        funding_interval_s=cfg.funding_interval_s,
        hedge_base=position.size_base,
        stalled_ticks=state.stalled_ticks,
    )


def _venue_rules(
    state: GuardState,
    cfg: GuardLimits,
    venue: VenueRead,
    kill: KillSwitchState,
    kill_mode: KillMode,
    hedge_ratio: Decimal,
) -> _VenueRules:
    """The rules that need only the venue: kill switch, margin, funding, counterparty."""
    position, quote = venue.position, venue.quote
    margin = margin_view(position, cfg.brackets)
    settled = state.last_funding_rate
    return _VenueRules(
        kill=kill,
        kill_mode=kill_mode,
        margin=margin,
        assessment=assess_margin(
            margin.ratio, margin.distance_pct, cfg.limits.margin, hedge_base=position.size_base
        ),
        funding=assess_funding(
            settled if settled is not None else quote.funding_rate,
            cfg.funding_interval_s,
            position.size_base,
            cfg.limits.funding,
            predicted_rate=quote.funding_rate,
            hedge_ratio=hedge_ratio,
        ),
        counterparty=counterparty_breach(
            venue.balance.wallet_balance, cfg.limits.max_collateral_quote
        ),
    )


def observe(
    state: GuardState,
    cfg: GuardLimits,
    now_s: float,
    snapshot: ChainSnapshot,
    venue: VenueRead,
    kill: tuple[KillSwitchState, KillMode],
    hedge_ratio: Decimal,
) -> tuple[RiskView, RiskInputs, GuardState]:
    """Every rule that does not depend on the order; advances the block and TWAP state.

    ``kill`` is the switch as read and the effective mode (switch and operator together).
    """
    rules = _venue_rules(state, cfg, venue, kill[0], kill[1], hedge_ratio)
    stalled = count_stalled_ticks(state.stalled_ticks, snapshot.block_number, state.last_block)
    twap, prices = _twap(state, cfg, now_s, snapshot.price)
    chain = (
        now_s,
        snapshot.block_number,
        snapshot.block_timestamp,
        state.last_block,
        snapshot.price,
    )
    inputs = _inputs(replace(state, stalled_ticks=stalled), venue, rules.margin, chain, cfg, twap)
    breaches = tuple(check_pre_trade(inputs, cfg.limits))
    last = state.last_block
    if last is None or snapshot.block_number > last:
        last = snapshot.block_number
    gate = trading_gate((), rules.assessment, rules.funding, rules.kill_mode)
    after = replace(state, last_block=last, stalled_ticks=stalled, prices=prices)
    return rules.view(breaches, gate), inputs, after


def observe_venue(
    state: GuardState,
    cfg: GuardLimits,
    now_s: float,
    venue: VenueRead,
    kill: tuple[KillSwitchState, KillMode],
    *,
    chain_error: str,
    hedge_ratio: Decimal,
) -> tuple[RiskView, RiskInputs]:
    """The rules that need no chain read, for a tick whose chain read failed.

    Kill switch, margin, funding and counterparty come from the venue alone. The chain's
    failure is a blocking ``chain_unreadable`` breach in the gate, so only the emergency
    reductions can pass: kill-switch or operator flatten to 0, margin critical ``flatten``
    to 0 and ``reduce`` to :func:`bot.core.risk.assess_margin`'s safe size of the current
    hedge (same sign, never larger, so it never crosses zero). The data guards tripped at
    the last chain read stay as they were (unknown, not cleared); block bookkeeping and
    TWAP are left alone. The returned inputs' chain fields are neutral (pool price = mark,
    block time = now, no previous block), so :func:`check_order` runs the order guards only.
    """
    rules = _venue_rules(state, cfg, venue, kill[0], kill[1], hedge_ratio)
    mark = venue.quote.mark_price
    chain = (now_s, state.last_block or 0, int(now_s), None, mark)
    inputs = _inputs(state, venue, rules.margin, chain, cfg, None)
    kept = tuple(
        Breach(rule, "warn", message) for rule, message in state.active if rule in DATA_RULES
    )
    unreadable = Breach("chain_unreadable", "block", chain_error)
    gate = trading_gate((unreadable,), rules.assessment, rules.funding, rules.kill_mode)
    return rules.view(kept, gate), inputs


def check_order(
    view: RiskView,
    inputs: RiskInputs,
    cfg: GuardLimits,
    order: tuple[Side, Decimal],
    day_pnl_quote: Decimal,
) -> tuple[TradingGate, tuple[Breach, ...]]:
    """The gate for one ``(side, amount_base)`` order, with the order guards added."""
    side, amount_base = order
    signed = amount_base if side is Side.BUY else -amount_base
    order_inputs = replace(
        inputs,
        order_notional=amount_base * inputs.mark_price,
        position_notional_after=abs(inputs.hedge_base + signed) * inputs.mark_price,
        day_pnl_quote=day_pnl_quote,
    )
    breaches = tuple(check_pre_trade(order_inputs, cfg.limits))
    gate = trading_gate(breaches, view.margin_assessment, view.funding, view.kill_mode)
    return gate, breaches


def transitions(
    state: GuardState, current: dict[str, str], now_s: float | None = None
) -> tuple[dict[str, str], list[str], GuardState]:
    """Rules newly tripped (rule -> message), rules cleared, and the state remembering now
    (a newly tripped rule is stamped ``now_s``, unix s, when given)."""
    active = state.active_rules
    tripped = {rule: msg for rule, msg in current.items() if rule not in active}
    cleared = [rule for rule in active if rule not in current]
    since = {rule: at for rule, at in state.tripped_at if rule in current}
    if now_s is not None:
        since.update((rule, now_s) for rule in tripped)
    after = replace(state, active=tuple(current.items()), tripped_at=tuple(since.items()))
    return tripped, cleared, after


def day_pnl(state: GuardState, now_s: float, net_quote: Decimal) -> tuple[Decimal, GuardState]:
    """PnL since the start of the UTC day; the first call of a day sets the baseline."""
    day = datetime.fromtimestamp(now_s, UTC).date().isoformat()
    if day != state.day:
        state = replace(state, day=day, day_start_net=net_quote)
    return net_quote - state.day_start_net, state
