"""Pre-trade guards, margin and funding rules, counterparty cap, kill-switch gate. Pure.

Every rule returns values, never raises for a tripped limit: the engine turns them into
alerts and into a :class:`TradingGate`. A tripped guard blocks trading, never monitoring; the
engine keeps reading the chain and the venue and publishing state while blocked.

Units: prices quote per base; notionals, PnL and collateral in quote; sizes signed base
(short < 0); ``*_pct`` are percentages (``2`` is 2 %); ratios and rates are fractions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from bot.core.policy import size_order
from bot.domain import Decision, MarketRules

__all__ = [
    "DATA_RULES",
    "SECONDS_PER_YEAR",
    "Breach",
    "CriticalAction",
    "FundingAction",
    "FundingAssessment",
    "FundingLimits",
    "FundingTotals",
    "KillMode",
    "MarginAssessment",
    "MarginLevels",
    "RiskInputs",
    "RiskLimits",
    "TradingGate",
    "annualise_funding_rate",
    "assess_funding",
    "assess_margin",
    "blocks_trading",
    "check_pre_trade",
    "count_stalled_ticks",
    "counterparty_breach",
    "funding_accumulator",
    "funding_payment_quote",
    "reduce_toward",
    "time_weighted_price",
    "trading_gate",
]

SECONDS_PER_YEAR = Decimal(365 * 24 * 3600)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)

Severity = Literal["warn", "block"]
CriticalAction = Literal["alert", "reduce", "flatten"]
FundingAction = Literal["alert", "lower_ratio", "pause"]
KillMode = Literal["off", "freeze", "flatten"]
MarginLevel = Literal["ok", "warn", "critical"]
MarginAction = Literal["none", "alert", "reduce", "flatten"]

# Rules that still apply to an emergency reduction (kill-switch flatten, margin critical):
# the data and limit guards protect new risk, not the way out; the order rate still holds.
_EMERGENCY_BLOCKERS = frozenset({"max_orders_per_minute"})
# The rules of the chain's data (:func:`check_pre_trade`'s data guards): unknown when the chain
# cannot be read, so they are neither evaluated nor cleared then.
DATA_RULES = frozenset({"stale_block", "block_not_advancing", "price_deviation", "twap_deviation"})


@dataclass(frozen=True, slots=True)
class MarginLevels:
    """Margin ratio rises and liquidation distance falls as risk grows; ``None`` disables."""

    warn_ratio: Decimal
    critical_ratio: Decimal
    warn_distance_pct: Decimal | None
    critical_distance_pct: Decimal | None
    critical_action: CriticalAction

    def __post_init__(self) -> None:
        if not _ZERO < self.warn_ratio < self.critical_ratio:
            raise ValueError(
                f"margin ratios need 0 < warn ({self.warn_ratio}) < critical "
                f"({self.critical_ratio})"
            )
        warn, critical = self.warn_distance_pct, self.critical_distance_pct
        if warn is not None and critical is not None and not warn > critical >= 0:
            raise ValueError(
                f"liquidation distances need warn ({warn}) > critical ({critical}) >= 0"
            )


@dataclass(frozen=True, slots=True)
class FundingLimits:
    """The funding-spike rule: a paying hedge beyond ``spike_annual_pct`` triggers ``action``."""

    spike_annual_pct: Decimal
    action: FundingAction
    min_hedge_ratio: Decimal

    def __post_init__(self) -> None:
        if not self.spike_annual_pct > 0:
            raise ValueError(f"spike_annual_pct must be > 0, got {self.spike_annual_pct}")
        if not _ZERO <= self.min_hedge_ratio <= _ONE:
            raise ValueError(f"min_hedge_ratio must be in [0, 1], got {self.min_hedge_ratio}")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every configured limit; ``bot.risk_settings.RiskSettings.to_limits`` builds it.

    No defaults here: the config section is their one home. ``None`` disables the optional
    checks (TWAP, counterparty cap).
    """

    max_block_age_s: float
    max_blocks_without_advance: int
    max_price_deviation_pct: Decimal
    max_twap_deviation_pct: Decimal | None
    max_order_notional_quote: Decimal
    max_position_notional_quote: Decimal
    max_orders_per_minute: int
    daily_loss_limit_quote: Decimal
    max_collateral_quote: Decimal | None
    margin: MarginLevels
    funding: FundingLimits


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """What the guards see at one tick, for the order about to be placed.

    ``order_notional`` 0 means no order: only the data guards run. ``stalled_ticks`` is the
    number of consecutive ticks, this one included, whose block did not advance (see
    :func:`count_stalled_ticks`); ``last_block_number`` is ``None`` on the first tick.
    """

    now_s: float
    block_number: int
    block_timestamp: int
    last_block_number: int | None
    pool_price: Decimal
    mark_price: Decimal
    twap_price: Decimal | None
    order_notional: Decimal
    position_notional_after: Decimal
    orders_last_minute: int
    day_pnl_quote: Decimal
    margin_ratio: Decimal | None
    liquidation_distance_pct: Decimal | None
    collateral_quote: Decimal
    funding_rate: Decimal
    funding_interval_s: int
    hedge_base: Decimal
    stalled_ticks: int = 0

    @property
    def position_notional_now(self) -> Decimal:
        """Current hedge notional at the mark, quote."""
        return abs(self.hedge_base) * self.mark_price

    @property
    def reduces_position(self) -> bool:
        """The order leaves a smaller position notional than there is now."""
        return self.position_notional_after < self.position_notional_now


@dataclass(frozen=True, slots=True)
class Breach:
    """A tripped rule: ``rule`` is a stable id for alerts and tests, ``message`` for humans."""

    rule: str
    severity: Severity
    message: str


def count_stalled_ticks(previous: int, block_number: int, last_block_number: int | None) -> int:
    """Consecutive ticks without a new block: reset to 0 when the block advances."""
    if last_block_number is None or block_number > last_block_number:
        return 0
    return previous + 1


def time_weighted_price(
    samples: Sequence[tuple[float, Decimal]], now_s: float, window_s: float
) -> Decimal | None:
    """Time-weighted average of ``(timestamp_s, price)`` samples over ``[now - window, now]``.

    Each price holds from its timestamp to the next sample's (the last one to ``now_s``);
    the sample in force at the window start counts from there. ``None`` without history
    covering some of the window (a single sample at ``now`` has no weight).
    """
    start = now_s - window_s
    ordered = sorted(samples, key=lambda sample: sample[0])
    total = _ZERO
    weight = 0.0
    for index, (ts, price) in enumerate(ordered):
        end = ordered[index + 1][0] if index + 1 < len(ordered) else now_s
        begin = max(ts, start)
        span = min(end, now_s) - begin
        if span <= 0:
            continue
        total += price * Decimal(repr(span))
        weight += span
    if weight <= 0:
        return None
    return total / Decimal(repr(weight))


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    return abs(part) / whole * _HUNDRED


def _fmt(value: Decimal, places: int = 2) -> str:
    return f"{value:,.{places}f}"


def _data_guards(inputs: RiskInputs, limits: RiskLimits) -> list[Breach]:
    breaches: list[Breach] = []
    age_s = inputs.now_s - inputs.block_timestamp
    if age_s > limits.max_block_age_s:
        breaches.append(
            Breach(
                "stale_block",
                "block",
                f"block {inputs.block_number} is {age_s:.0f}s old "
                f"(limit {limits.max_block_age_s:.0f}s)",
            )
        )
    last = inputs.last_block_number
    if last is not None and inputs.block_number < last:
        breaches.append(
            Breach(
                "block_not_advancing",
                "block",
                f"block went backwards: {inputs.block_number} after {last} (lagging RPC or reorg)",
            )
        )
    elif last is not None and inputs.block_number == last:
        stalled = max(inputs.stalled_ticks, 1)
        tripped = stalled >= limits.max_blocks_without_advance
        breaches.append(
            Breach(
                "block_not_advancing",
                "block" if tripped else "warn",
                f"block {inputs.block_number} did not advance for {stalled} "
                f"tick(s) (limit {limits.max_blocks_without_advance})",
            )
        )
    if not (inputs.mark_price > 0 and inputs.pool_price > 0):
        breaches.append(
            Breach(
                "price_deviation",
                "block",
                f"non-positive price: pool {inputs.pool_price}, mark {inputs.mark_price}",
            )
        )
        return breaches
    deviation = _pct(inputs.pool_price - inputs.mark_price, inputs.mark_price)
    if deviation > limits.max_price_deviation_pct:
        breaches.append(
            Breach(
                "price_deviation",
                "block",
                f"pool price {_fmt(inputs.pool_price)} is {_fmt(deviation)}% from mark "
                f"{_fmt(inputs.mark_price)} (limit {limits.max_price_deviation_pct}%)",
            )
        )
    twap, twap_limit = inputs.twap_price, limits.max_twap_deviation_pct
    if twap is not None and twap_limit is not None:
        twap_dev = _pct(inputs.pool_price - twap, twap) if twap > 0 else None
        if twap_dev is None or twap_dev > twap_limit:
            shown = "n/a" if twap_dev is None else f"{_fmt(twap_dev)}%"
            breaches.append(
                Breach(
                    "twap_deviation",
                    "block",
                    f"pool price {_fmt(inputs.pool_price)} is {shown} from its TWAP "
                    f"{_fmt(twap)} (limit {twap_limit}%)",
                )
            )
    return breaches


def _order_guards(inputs: RiskInputs, limits: RiskLimits) -> list[Breach]:
    breaches: list[Breach] = []
    # A smaller position is less risk: the size and loss limits only warn for it (nothing
    # splits orders, so blocking a large reduction would keep the bot over-hedged forever).
    relief: Severity = "warn" if inputs.reduces_position else "block"
    if inputs.order_notional > limits.max_order_notional_quote:
        breaches.append(
            Breach(
                "max_order_notional",
                relief,
                f"order notional {_fmt(inputs.order_notional)} exceeds "
                f"{_fmt(limits.max_order_notional_quote)}",
            )
        )
    if inputs.position_notional_after > limits.max_position_notional_quote:
        breaches.append(
            Breach(
                "max_position_notional",
                relief,
                f"position notional after the order {_fmt(inputs.position_notional_after)} "
                f"exceeds {_fmt(limits.max_position_notional_quote)}",
            )
        )
    if inputs.orders_last_minute + 1 > limits.max_orders_per_minute:
        breaches.append(
            Breach(
                "max_orders_per_minute",
                "block",
                f"{inputs.orders_last_minute} orders in the last minute "
                f"(limit {limits.max_orders_per_minute})",
            )
        )
    increases = not inputs.reduces_position
    margin_level = max(
        _ratio_level(inputs.margin_ratio, limits.margin),
        _distance_level(inputs.liquidation_distance_pct, limits.margin),
        key=_RANK.__getitem__,
    )
    if increases and margin_level != "ok":
        breaches.append(
            Breach(
                "margin_headroom",
                "block",
                f"margin is at {margin_level}: no order may grow the position",
            )
        )
    if inputs.day_pnl_quote <= -limits.daily_loss_limit_quote:
        breaches.append(
            Breach(
                "daily_loss",
                relief,
                f"day PnL {_fmt(inputs.day_pnl_quote)} reached the loss limit "
                f"{_fmt(limits.daily_loss_limit_quote)}",
            )
        )
    return breaches


def check_pre_trade(inputs: RiskInputs, limits: RiskLimits) -> list[Breach]:
    """Every tripped pre-trade guard, data guards first; empty means clear to trade.

    Data guards (stale or stalled block, pool vs mark, pool vs TWAP) always block: the delta
    and the price cannot be trusted. Order guards run only when there is an order
    (``order_notional > 0``); ``max_position_notional`` and ``daily_loss`` only warn for an
    order that makes the position smaller, so a limit can never trap the bot in risk; an order
    that grows the position is refused while the margin is at warn or worse
    (``margin_headroom``), so a margin reduction is not undone by the next rebalance.
    """
    breaches = _data_guards(inputs, limits)
    if inputs.order_notional > 0:
        breaches.extend(_order_guards(inputs, limits))
    return breaches


def blocks_trading(breaches: Iterable[Breach]) -> bool:
    """True when any breach has severity ``block``."""
    return any(b.severity == "block" for b in breaches)


def counterparty_breach(collateral_quote: Decimal, cap: Decimal | None) -> Breach | None:
    """An alert (``warn``: it does not block hedging) when venue collateral exceeds ``cap``."""
    if cap is None or collateral_quote <= cap:
        return None
    return Breach(
        "counterparty_cap",
        "warn",
        f"collateral on the exchange {_fmt(collateral_quote)} exceeds the cap {_fmt(cap)}: "
        f"withdraw {_fmt(collateral_quote - cap)}",
    )


# ---------------------------------------------------------------------------------- margin


@dataclass(frozen=True, slots=True)
class MarginAssessment:
    """Margin level, the action it calls for, and the target hedge size for reduce/flatten."""

    level: MarginLevel
    action: MarginAction
    safe_size_base: Decimal | None
    message: str = ""


def _ratio_level(ratio: Decimal | None, levels: MarginLevels) -> MarginLevel:
    if ratio is None:
        return "ok"
    if ratio >= levels.critical_ratio:
        return "critical"
    return "warn" if ratio >= levels.warn_ratio else "ok"


def _distance_level(distance: Decimal | None, levels: MarginLevels) -> MarginLevel:
    if distance is None:
        return "ok"
    if levels.critical_distance_pct is not None and distance <= levels.critical_distance_pct:
        return "critical"
    if levels.warn_distance_pct is not None and distance <= levels.warn_distance_pct:
        return "warn"
    return "ok"


_RANK: dict[MarginLevel, int] = {"ok": 0, "warn": 1, "critical": 2}


def _safe_size(
    hedge_base: Decimal,
    ratio: Decimal | None,
    distance: Decimal | None,
    levels: MarginLevels,
) -> Decimal:
    """Hedge size whose margin ratio and liquidation distance are back at the warn levels.

    Approximation: with the margin balance unchanged by the reduce (closing at the mark moves
    unrealised PnL into the wallet), the margin ratio ``(Q·P·MMR − cum)/MB`` is taken as
    proportional to ``Q`` and the distance ``(MB/(Q·P) − MMR)/(1 + MMR)`` as proportional to
    ``1/Q``. Both err small: ``cum ≥ 0``, the ``MMR`` term and a lower tier after the reduce
    all make the exact safe size larger. Only the reduce order's fee is ignored.
    """
    scale = _ONE
    if ratio is not None and ratio > levels.warn_ratio:
        scale = min(scale, levels.warn_ratio / ratio)  # ratio = Infinity gives 0
    warn_distance = levels.warn_distance_pct
    if distance is not None and warn_distance is not None and distance < warn_distance:
        scale = min(scale, max(distance, _ZERO) / warn_distance)  # warn > critical >= 0
    return hedge_base * scale


def assess_margin(
    margin_ratio: Decimal | None,
    liq_distance_pct: Decimal | None,
    levels: MarginLevels,
    *,
    hedge_base: Decimal,
) -> MarginAssessment:
    """Worse of the ratio and distance levels; at critical, the configured action.

    ``None`` inputs are "not applicable" (flat, or no liquidation price), not "unknown": the
    engine must not call this with a failed read. ``reduce`` targets :func:`_safe_size` of
    ``hedge_base`` (signed like it, never larger); ``flatten`` targets 0.
    """
    by_ratio = _ratio_level(margin_ratio, levels)
    by_distance = _distance_level(liq_distance_pct, levels)
    level = max(by_ratio, by_distance, key=_RANK.__getitem__)
    parts = []
    if margin_ratio is not None:
        parts.append(f"margin ratio {_fmt(margin_ratio * _HUNDRED)}%")
    if liq_distance_pct is not None:
        parts.append(f"liquidation {_fmt(liq_distance_pct)}% away")
    shown = ", ".join(parts)
    if level == "ok":
        return MarginAssessment("ok", "none", None, shown)
    thresholds = (
        f"warn {_fmt(levels.warn_ratio * _HUNDRED)}% / {levels.warn_distance_pct}%, "
        f"critical {_fmt(levels.critical_ratio * _HUNDRED)}% / {levels.critical_distance_pct}%"
    )
    if level == "warn":
        return MarginAssessment("warn", "alert", None, f"margin warn: {shown} ({thresholds})")
    action = levels.critical_action
    message = f"margin critical: {shown} ({thresholds}); action {action}"
    if action == "flatten":
        return MarginAssessment("critical", "flatten", _ZERO, message)
    if action == "reduce":
        safe = _safe_size(hedge_base, margin_ratio, liq_distance_pct, levels)
        return MarginAssessment("critical", "reduce", safe, f"{message} to {safe:f} base")
    return MarginAssessment("critical", "alert", None, message)


# --------------------------------------------------------------------------------- funding


@dataclass(frozen=True, slots=True)
class FundingAssessment:
    """The worse of the current and predicted funding rates, seen from our hedge."""

    annualised_rate: Decimal  # fraction per year, sign of the venue rate
    pays: bool  # the hedge pays at this rate (a short pays when the rate is negative)
    spike: bool
    action: Literal["none", "alert", "lower_ratio", "pause"]
    suggested_hedge_ratio: Decimal | None
    message: str = ""


def annualise_funding_rate(funding_rate: Decimal, funding_interval_s: int) -> Decimal:
    """Per-interval rate to a simple annual rate (no compounding)."""
    if funding_interval_s <= 0:
        raise ValueError(f"funding_interval_s must be > 0, got {funding_interval_s}")
    return funding_rate * SECONDS_PER_YEAR / funding_interval_s


def funding_payment_quote(funding_rate: Decimal, position_base: Decimal, mark: Decimal) -> Decimal:
    """Funding received (+) or paid (−) at one funding time: longs pay a positive rate."""
    return -funding_rate * position_base * mark


def assess_funding(
    funding_rate: Decimal,
    funding_interval_s: int,
    hedge_base: Decimal,
    limits: FundingLimits,
    *,
    predicted_rate: Decimal | None = None,
    hedge_ratio: Decimal = _ONE,
) -> FundingAssessment:
    """Funding-spike rule for the hedge that pays.

    The rate assessed is whichever of current and predicted costs the hedge more. A spike is
    a paying hedge at an annualised rate beyond ``spike_annual_pct``. ``lower_ratio``
    suggests ``hedge_ratio · threshold / |annualised|`` (the funding paid falls back to what
    the threshold rate would cost), clamped to ``[min_hedge_ratio, hedge_ratio]``.
    """
    side = (hedge_base > 0) - (hedge_base < 0)
    rates = [funding_rate] if predicted_rate is None else [funding_rate, predicted_rate]
    # Cost to us per unit: long pays +rate, short pays -rate.
    rate = max(rates, key=lambda r: side * r)
    annual = annualise_funding_rate(rate, funding_interval_s)
    pays = side * rate > 0
    threshold = limits.spike_annual_pct / _HUNDRED
    spike = pays and abs(annual) > threshold
    shown = f"funding {_fmt(annual * _HUNDRED)}%/yr"
    if not spike:
        return FundingAssessment(annual, pays, False, "none", None, shown)
    message = (
        f"funding spike: hedge pays {_fmt(abs(annual) * _HUNDRED)}%/yr "
        f"(limit {limits.spike_annual_pct}%); action {limits.action}"
    )
    if limits.action == "lower_ratio":
        floor = min(limits.min_hedge_ratio, hedge_ratio)
        suggested = max(floor, min(hedge_ratio, hedge_ratio * threshold / abs(annual)))
        return FundingAssessment(
            annual, True, True, "lower_ratio", suggested, f"{message} to {suggested:.4f}"
        )
    return FundingAssessment(annual, True, True, limits.action, None, message)


@dataclass(frozen=True, slots=True)
class FundingTotals:
    """Funding paid and received so far (both >= 0, quote)."""

    paid_quote: Decimal = _ZERO
    received_quote: Decimal = _ZERO
    payments: int = 0

    @property
    def net_quote(self) -> Decimal:
        """Received minus paid."""
        return self.received_quote - self.paid_quote

    def add(self, amount_quote: Decimal) -> FundingTotals:
        """Fold one payment in: positive is received, negative is paid."""
        if amount_quote >= 0:
            return FundingTotals(
                self.paid_quote, self.received_quote + amount_quote, self.payments + 1
            )
        return FundingTotals(self.paid_quote - amount_quote, self.received_quote, self.payments + 1)


def funding_accumulator(
    amounts_quote: Iterable[Decimal], start: FundingTotals | None = None
) -> FundingTotals:
    """Sum signed funding amounts (e.g. ``FundingPayment.amount_quote``) into totals."""
    totals = start if start is not None else FundingTotals()
    for amount in amounts_quote:
        totals = totals.add(amount)
    return totals


# ----------------------------------------------------------------------------- the gate


@dataclass(frozen=True, slots=True)
class TradingGate:
    """What the engine may do this tick, from every rule together.

    ``allow_orders`` False: no order at all. ``reduce_only``: only orders toward
    ``target_override_base`` (0 for flatten), sent reduce-only. ``hedge_ratio_override``
    replaces the configured ratio for the policy. ``reasons`` are the stable rule ids.
    """

    allow_orders: bool
    reduce_only: bool
    target_override_base: Decimal | None
    hedge_ratio_override: Decimal | None
    reasons: tuple[str, ...]


def trading_gate(
    breaches: Sequence[Breach],
    margin: MarginAssessment,
    funding: FundingAssessment,
    kill_mode: KillMode,
) -> TradingGate:
    """Combine the rules; first match wins.

    1. kill switch ``flatten``: reduce-only to 0; 2. kill switch ``freeze``: nothing;
    3. margin critical ``flatten``/``reduce``: reduce-only to the safe size; 4. a blocking
    breach: nothing; 5. funding ``pause``: nothing; 6. funding ``lower_ratio``: ratio override.
    Emergency reductions (1, 3) ignore blocking breaches except the order rate, since stale
    data or a loss limit must never keep the bot in a position it is told to leave. Call it
    once before sizing (with no breaches) for the overrides, and again with the order's
    :func:`check_pre_trade` result.
    """
    blocking = tuple(b.rule for b in breaches if b.severity == "block")
    emergency_blocked = tuple(r for r in blocking if r in _EMERGENCY_BLOCKERS)

    def emergency(target: Decimal, reason: str) -> TradingGate:
        if emergency_blocked:
            return TradingGate(False, True, target, None, (reason, *emergency_blocked))
        return TradingGate(True, True, target, None, (reason,))

    if kill_mode == "flatten":
        return emergency(_ZERO, "kill_switch_flatten")
    if kill_mode == "freeze":
        return TradingGate(False, False, None, None, ("kill_switch_freeze",))
    if margin.action in ("flatten", "reduce") and margin.safe_size_base is not None:
        return emergency(margin.safe_size_base, f"margin_critical_{margin.action}")
    if blocking:
        return TradingGate(False, False, None, None, blocking)
    if funding.action == "pause":
        # no new risk while funding spikes, but shrinking the hedge (which pays) is allowed
        return TradingGate(True, True, None, None, ("funding_spike_pause",))
    if funding.action == "lower_ratio":
        return TradingGate(
            True, False, None, funding.suggested_hedge_ratio, ("funding_spike_lower_ratio",)
        )
    return TradingGate(True, False, None, None, ())


def reduce_toward(
    decision: Decision,
    hedge_base: Decimal,
    target_base: Decimal,
    price: Decimal,
    rules: MarketRules,
    reason: str,
) -> Decision:
    """Replace the policy's decision by a reduce-only order from ``hedge_base`` to ``target_base``.

    For the emergency gates (kill-switch flatten, margin critical): the band and the LP delta
    are ignored; the order only ever makes the position smaller.
    """
    if hedge_base == 0 or abs(hedge_base) <= abs(target_base):
        return replace(decision, action="hold", reason="flat" if hedge_base == 0 else reason)
    sizing = size_order(hedge_base - target_base, hedge_base, price, rules)
    if sizing.refusal is not None:
        return replace(decision, action="skip", reason=f"{reason}_{sizing.refusal}")
    return replace(
        decision,
        action="rebalance",
        reason=reason,
        order_side=sizing.side,
        order_amount_base=sizing.amount_base,
        reduce_only=True,
    )
