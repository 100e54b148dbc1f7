"""What the monitor and the fleet page believe of a peer's message. Pure.

A message can validate and still be implausible: a hedge of ``1e400`` base, a negative
price or margin ratio, a state published under another bot's topic, a status that is not
``online``/``offline``. Such a value is never shown as if a bot had said it: it is shown as
``?`` and named, with its reason, in the bot's problem text (:func:`state_doubts`,
:func:`doubts_problem`, :func:`status_problem`; escaped, at most ``MAX_PROBLEM_CHARS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.telemetry.command_text import describe, echo
from bot.telemetry.messages import StateMessage

__all__ = [
    "KNOWN_STATUSES",
    "MAX_PROBLEM_CHARS",
    "PLAUSIBLE_EXPONENT",
    "UNKNOWN",
    "BotView",
    "Doubt",
    "Loc",
    "bot_id_problem",
    "doubts_problem",
    "masked_state",
    "payload_problem",
    "state_doubts",
    "status_problem",
]

MAX_PROBLEM_CHARS = 160
KNOWN_STATUSES = ("online", "offline")  # what a bot (or its Last Will) publishes on status
PLAUSIBLE_EXPONENT = 18  # |number| >= 1e18 is no amount, price, block or time a bot has
UNKNOWN = "?"  # what is shown in place of a value not believed
_DOUBTS_NAMED = 3  # fields named in the problem text; the rest are counted
# fields whose negative value no market or venue has (prices, the band, the margin ratio)
_NON_NEGATIVE = frozenset(
    {"price", "mark_price", "liquidation_price", "band_base", "margin_ratio"}
    | {"price_lower", "price_upper"}
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Doubt:
    """One implausible value of a state: where it is (``("pnl", "net")``,
    ``("positions", 0, "price_lower")``) and why (``beyond ±1e18``, ``negative``)."""

    loc: Loc
    reason: str

    @property
    def field(self) -> str:
        """The dotted field name people read: ``pnl.net``, ``positions[0].price_lower``."""
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out


@dataclass
class BotView:
    """What the monitor knows about one bot: its status (``?`` until a known one), its last
    believed state, that state's implausible values (``doubts``, shown as ``?``) and what
    is wrong with its messages, by kind (``status``, ``state``, ``events``)."""

    status: str = UNKNOWN
    state: StateMessage | None = None
    state_received_s: float | None = None
    doubts: tuple[Doubt, ...] = ()
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def problem(self) -> str | None:
        """Every kind's problem in one line (escaped, at most ``MAX_PROBLEM_CHARS``)."""
        return echo("; ".join(self.problems.values()), MAX_PROBLEM_CHARS) or None

    def doubted(self, *loc: str) -> bool:
        """Whether the state's value at ``loc`` (``"pnl", "net"``) is not believed."""
        return any(d.loc == loc for d in self.doubts)

    def note_problem(self, kind: str, problem: str | None) -> None:
        """Set (or clear, with None) what is wrong with the bot's ``kind`` messages."""
        if problem is None:
            self.problems.pop(kind, None)
        else:
            self.problems[kind] = problem


def payload_problem(kind: str, exc: ValueError) -> str:
    """Why a ``kind`` payload (``state``, ``events``) did not validate, for people: its first
    error's field and reason (``bad state payload: delta_base: must be a number (+1 more)``),
    escaped and at most ``MAX_PROBLEM_CHARS`` characters."""
    if not isinstance(exc, ValidationError):  # e.g. digits past the int-str limit
        return echo(f"bad {kind} payload: {exc}", MAX_PROBLEM_CHARS)
    errors = exc.errors(include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        reason = f"not JSON ({(first.get('ctx') or {}).get('error', 'unparsable')})"
    elif not first["loc"]:
        reason = str(first["msg"])
    else:  # ``describe`` skips a command's union tag: give it the kind in that place
        reason = describe({**first, "loc": (kind, *first["loc"])})
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return echo(f"bad {kind} payload: {reason}{more}", MAX_PROBLEM_CHARS)


def status_problem(payload: bytes) -> str | None:
    """None for a known status (``online``, ``offline``); else the problem text, the
    peer's bytes escaped (``\\xff``) and bounded: ``bad status payload: status: '\\xff…' is
    not online or offline``."""
    text = payload.decode(errors="backslashreplace")
    if text in KNOWN_STATUSES:
        return None
    shown = echo(text, 24)
    return echo(
        f"bad status payload: status: {shown!r} is not {' or '.join(KNOWN_STATUSES)}",
        MAX_PROBLEM_CHARS,
    )


def bot_id_problem(topic_bot_id: str, state: StateMessage) -> str | None:
    """None when the state names the bot of its topic; else the problem text (both ids
    escaped and bounded): such a state is not believed for either bot."""
    if state.bot_id == topic_bot_id:
        return None
    return echo(
        f"bad state payload: bot_id: {echo(state.bot_id, 32)!r} is not the topic's bot id",
        MAX_PROBLEM_CHARS,
    )


def state_doubts(state: StateMessage) -> tuple[Doubt, ...]:
    """Every implausible number of ``state``, in field order: any number (amounts, prices,
    PnL parts, block, timestamps, each position's) whose magnitude is 1e18 or more
    (``beyond ±1e18``) or that is not finite, and a negative price, mark price, liquidation
    price, range edge price, band or margin ratio (``negative``). Empty: all plausible."""
    doubts: list[Doubt] = []
    for loc, value in _numbers(state, ()):
        reason = _implausible(loc, value)
        if reason is not None:
            doubts.append(Doubt(loc, reason))
    return tuple(doubts)


def doubts_problem(doubts: tuple[Doubt, ...]) -> str | None:
    """The problem text naming the first implausible fields and why: ``implausible state:
    hedge_base: beyond ±1e18; margin_ratio: negative (+2 more)``; None without doubts."""
    if not doubts:
        return None
    named = "; ".join(f"{d.field}: {d.reason}" for d in doubts[:_DOUBTS_NAMED])
    more = len(doubts) - _DOUBTS_NAMED
    return echo(
        f"implausible state: {named}" + (f" (+{more} more)" if more > 0 else ""),
        MAX_PROBLEM_CHARS,
    )


def masked_state(state: StateMessage, doubts: tuple[Doubt, ...]) -> dict[str, Any]:
    """``state`` as JSON-ready data (``model_dump(mode="json")``) with every doubted value
    replaced by ``UNKNOWN`` (``"?"``): what a page may show."""
    data: dict[str, Any] = state.model_dump(mode="json")
    for doubt in doubts:
        node: Any = data
        for part in doubt.loc[:-1]:
            node = node[part]
        node[doubt.loc[-1]] = UNKNOWN
    return data


def _numbers(value: object, loc: Loc) -> list[tuple[Loc, Decimal | int | float]]:
    """Every number inside a model, tuple or dict with its location (bools are no numbers)."""
    if isinstance(value, BaseModel):
        out: list[tuple[Loc, Decimal | int | float]] = []
        for name in type(value).model_fields:
            out.extend(_numbers(getattr(value, name), (*loc, name)))
        return out
    if isinstance(value, tuple | list):
        return [n for i, item in enumerate(value) for n in _numbers(item, (*loc, i))]
    if isinstance(value, dict):
        return [n for key, item in value.items() for n in _numbers(item, (*loc, str(key)))]
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return [(loc, value)]
    return []


def _implausible(loc: Loc, value: Decimal | int | float) -> str | None:
    """Why ``value`` at ``loc`` is implausible, or None. No arithmetic on a huge Decimal
    (its exponent is read instead: it could overflow the decimal context)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "not a finite number"
        if not value.is_zero() and value.adjusted() >= PLAUSIBLE_EXPONENT:
            return f"beyond ±1e{PLAUSIBLE_EXPONENT}"
    elif isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    elif abs(value) >= 10**PLAUSIBLE_EXPONENT:
        return f"beyond ±1e{PLAUSIBLE_EXPONENT}"
    if loc and loc[-1] in _NON_NEGATIVE and value < 0:
        return "negative"
    return None
