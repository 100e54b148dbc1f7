"""What an alert to a person says, how severe it is, how often it may repeat, and the daily
summary. Pure: values in, values out; ``bot.telemetry.notify`` sends them.

Sources are the engine's telemetry events: ``alert`` (``risk.<rule>`` trips, ``risk.cleared``,
``order.rejected``, ``order.outcome_unknown``, ``order.illegal_answer``, ``position.mismatch``,
``position.liquidated``, ``venue.authentication_refused``, ``position.unreadable``,
``chain.unreadable`` / ``chain.readable`` / ``chain.reorg`` of a multi-chain bot …) and
``range.exited``/``range.entered``; ``daemon.stopped`` is raised by the notifier itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.safety import printable, safe_str
from bot.telemetry.notify_settings import Severity

__all__ = [
    "DailySummary",
    "Notice",
    "RateLimiter",
    "guard_of",
    "notice_for",
    "severity_of",
    "subject_of",
]

_CRITICAL = frozenset(
    {
        "risk.margin_critical",
        "risk.kill_switch_freeze",
        "risk.kill_switch_flatten",
        "order.outcome_unknown",
        "order.illegal_answer",
        "position.mismatch",
        "position.liquidated",  # the venue closed the hedge: the LP is unhedged
        "position.unreadable",
        "venue.unreadable",
        "venue.authentication_refused",
        "chain.unreadable",  # a chain of several cannot be read: no trading until it reads
    }
)
_INFO = frozenset(
    {"range.entered", "position.readable", "chain.readable", "daily.summary", "daemon.started"}
)
_BODY_KEYS = (
    "message",
    "venue",
    "error",
    "rule",
    "position",
    "id",
    "client_order_id",
    "block",
    "detail",
)
_MAX_BODY = 1_000
# the family of an alert kind -> the event field naming what it is about (``subject_of``)
_SUBJECT_FIELD = {"chain": "chain", "venue": "venue", "position": "position", "range": "position"}
PNL_PARTS = ("lp_hold", "il", "lp_fees", "hedge", "funding", "trading_fees", "slippage", "gas")


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to people: ``kind`` is what happened (``risk.margin_warn``,
    ``risk.margin_warn.cleared``, ``chain.unreadable`` …), ``subject`` what it is about (the
    chain, venue or position: :func:`subject_of`; ``""`` for the bot as a whole); the pair is
    the rate-limit key (:attr:`key`)."""

    kind: str
    severity: Severity
    title: str
    body: str
    ts: float
    subject: str = ""

    @property
    def key(self) -> str:
        """The rate-limit key: ``kind`` alone, or ``kind@subject`` (``chain.unreadable@base``)."""
        return f"{self.kind}@{self.subject}" if self.subject else self.kind


def severity_of(kind: str) -> Severity:
    """critical: margin critical, kill switch, unknown order outcome, an answer no venue
    should give, a position not what the bot's own fills make it, the venue liquidating
    the hedge, unreadable position,
    venue or chain (``chain.unreadable``: one chain of several, so no trading), the venue
    refusing the key; info: clears, re-entries, a chain or position readable again,
    summaries; everything else warning (``chain.reorg``, ``position.duplicate`` …)."""
    if kind in _CRITICAL:
        return "critical"
    if kind in _INFO or kind.endswith(".cleared"):
        return "info"
    return "warning"


def subject_of(kind: str, data: dict[str, Any]) -> str:
    """What a ``<family>.<what>`` alert is about, so that one chain, venue or position going
    wrong never holds back the alert for another: the event's field named after the family
    (``chain``, ``venue``, ``position``; ``range.*``: ``position``), else its ``entries`` (a
    chain read's notice: the chain, or the config entries concerned; lists joined with
    ``,``); ``""`` for other families (``risk.*``, ``order.*``: the one hedge) or when the
    event names none. The first 80 characters of it, made printable (``bot.safety.safe_str``)."""
    family = kind.split(".", 1)[0]
    if family not in _SUBJECT_FIELD:
        return ""
    value = data.get(_SUBJECT_FIELD[family])
    if value in (None, "", []):
        value = data.get("entries")
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return "" if value is None else safe_str(value, 80)


def _body(data: dict[str, Any]) -> str:
    parts = [f"{key}: {data[key]}" for key in _BODY_KEYS if data.get(key) not in (None, "")]
    return printable("\n".join(parts), _MAX_BODY, keep_lines=True)


def notice_for(bot_id: str, event_type: str, data: dict[str, Any], now: float) -> Notice | None:
    """The notice an engine event stands for, or None when it is not for people."""
    if event_type in ("range.exited", "range.entered"):
        kind = event_type
    elif event_type == "alert" and isinstance(data.get("alert"), str):
        kind = data["alert"]
        if kind == "risk.cleared":
            kind = f"risk.{data.get('rule', 'unknown')}.cleared"
    else:
        return None
    kind = printable(kind, 80)
    severity = severity_of(kind)
    title = f"hedgebot {bot_id}: {kind} ({severity})"
    body = _body(data) or kind  # apprise needs a body
    return Notice(kind, severity, title, body, now, subject_of(kind, data))


# a clear that is not ``<trip>.cleared``: the kind it clears
_CLEARS = {
    "range.entered": "range.exited",
    "position.readable": "position.unreadable",
    "chain.readable": "chain.unreadable",
}


def guard_of(kind: str) -> tuple[str, bool]:
    """The guard an alert kind is about and whether it says the guard cleared:
    ``risk.margin_critical.cleared`` -> ``("risk.margin_critical", True)``, ``range.entered``
    -> ``("range.exited", True)``, any other kind -> ``(kind, False)``."""
    if kind.endswith(".cleared"):
        return kind.removesuffix(".cleared"), True
    if kind in _CLEARS:
        return _CLEARS[kind], True
    return kind, False


def _held_note(count: int, what: str) -> str:
    return f"\n({count} more {what} held back by the rate limit)"


@dataclass
class RateLimiter:
    """At most one notice per :attr:`Notice.key` (kind and subject: chain B going unreadable
    is not held back by chain A's alert) every ``interval_s`` (clock time), except that a
    notice changing its guard's state (a trip after its sent clear, a clear after its sent
    trip: :func:`guard_of`) always goes out at once, so the last message people got says
    the guard's state. What is held back is kept (the newest per key, and a count) and sent
    by :meth:`due` when the key's window ends, saying how many were held; a state change
    drops the held notices of the state it ends (counted in its own text)."""

    interval_s: float
    _last: dict[str, float] = field(default_factory=dict)  # by key: when one was last sent
    _cleared: dict[str, bool] = field(default_factory=dict)  # by guard@subject: last sent
    _held: dict[str, Notice] = field(default_factory=dict)  # by key: the newest held back
    suppressed: dict[str, int] = field(default_factory=dict)  # by key: held back, not sent

    @staticmethod
    def _guard_key(notice: Notice) -> tuple[str, bool]:
        guard, cleared = guard_of(notice.kind)
        return (f"{guard}@{notice.subject}" if notice.subject else guard), cleared

    def admit(self, notice: Notice) -> Notice | None:
        """``notice`` to send now (with the count of held-back ones appended), or None when
        it is held back (too soon after the last of its key, and no change of state)."""
        key = notice.key
        guard, cleared = self._guard_key(notice)
        changed = self._cleared.get(guard, cleared) != cleared
        last = self._last.get(key)
        if not changed and last is not None and notice.ts - last < self.interval_s:
            self.suppressed[key] = self.suppressed.get(key, 0) + 1
            self._held[key] = notice
            return None
        body = notice.body
        if changed:  # what was held of the state this one ends is out of date now
            for other_key, held in list(self._held.items()):
                if other_key != key and self._guard_key(held)[0] == guard:
                    del self._held[other_key]
                    count = self.suppressed.pop(other_key, 0)
                    body += _held_note(count, f"{held.kind} before this")
        self._held.pop(key, None)
        held_count = self.suppressed.pop(key, 0)
        if held_count:
            body += _held_note(held_count, "of this kind")
        self._last[key] = notice.ts
        self._cleared[guard] = cleared
        return notice if body == notice.body else replace(notice, body=body)

    def due(self, now: float, *, everything: bool = False) -> list[Notice]:
        """The held-back notices whose key's window has ended by ``now`` (clock time; all of
        them when ``everything``, at stop): the newest of each, stamped ``now``, saying how
        many were held; they count as sent."""
        out = []
        for key, held in list(self._held.items()):
            if not everything and now - self._last.get(key, now) < self.interval_s:
                continue
            del self._held[key]
            count = self.suppressed.pop(key, 0)
            self._last[key] = now
            note = f"\n({count} of this kind held back by the rate limit, the newest shown)"
            out.append(replace(held, body=held.body + note, ts=now))
        return out


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def next_summary_at(now: float, at: time) -> float:
    """The first ``at`` (UTC time of day) strictly after ``now``, unix seconds."""
    today = datetime.fromtimestamp(now, UTC)
    candidate = datetime.combine(today.date(), at, tzinfo=UTC)
    if candidate.timestamp() <= now:
        candidate += timedelta(days=1)
    return candidate.timestamp()


@dataclass
class DailySummary:
    """PnL parts, rebalances and funding since the last summary, from the engine's state
    (cumulative ``pnl``) and ``order`` events; due at ``at`` UTC each day."""

    at: time
    started: float
    due_at: float = 0.0
    period_start: float = 0.0
    _baseline: dict[str, Decimal] | None = None
    _latest: dict[str, Decimal] | None = None
    _state: dict[str, Any] = field(default_factory=dict)
    rebalances: int = 0

    def __post_init__(self) -> None:
        self.due_at = next_summary_at(self.started, self.at)
        self.period_start = self.started

    def observe_state(self, state: dict[str, Any]) -> None:
        """Fold one published state (its ``pnl`` is cumulative)."""
        pnl = state.get("pnl")
        if isinstance(pnl, dict):
            parts = {k: _decimal(pnl.get(k, 0)) for k in (*PNL_PARTS, "net")}
            self._latest = parts
            if self._baseline is None:
                self._baseline = parts
        self._state = state

    def observe_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Count orders that filled something as rebalances."""
        if event_type == "order" and _decimal(data.get("filled_base", 0)) != 0:
            self.rebalances += 1

    def take_if_due(self, bot_id: str, now: float) -> Notice | None:
        """The summary when ``now`` has reached the due time (then the next period starts)."""
        if now < self.due_at:
            return None
        since = datetime.fromtimestamp(self.period_start, UTC).strftime("%Y-%m-%d %H:%M")
        lines = [f"since {since} UTC", f"rebalances: {self.rebalances}"]
        if self._latest is not None and self._baseline is not None:
            base = self._baseline
            for key in (*PNL_PARTS, "net"):
                lines.append(f"{key}: {self._latest[key] - base[key]:.2f}")
        for key in ("delta_base", "hedge_base", "margin_ratio", "funding_rate"):
            if self._state.get(key) is not None:
                lines.append(f"{key}: {self._state[key]}")
        self._baseline, self.rebalances, self.period_start = self._latest, 0, now
        self.due_at = next_summary_at(now, self.at)
        body = printable("\n".join(lines), 2 * _MAX_BODY, keep_lines=True)
        title = f"hedgebot {bot_id}: daily summary"
        return Notice("daily.summary", "info", title, body, now)
