"""``hedgebot fleet status``'s table: one line per bot in 80 columns (base to 3 places,
quote to cents, unknown ``?``)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.fleet_status import BotStatus

__all__ = ["HEADER", "WIDTH", "render_fleet"]

WIDTH = 80


def _fmt(value: Decimal | None, places: int) -> str:
    if value is None:
        return "?"
    step = Decimal(1).scaleb(-places)
    return f"{value.quantize(step, rounding=ROUND_HALF_EVEN):,}"


def _age(age_s: float | None) -> str:
    if age_s is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if age_s >= 2 * size:
            return f"{int(age_s // size)}{unit}"
    return f"{int(age_s)}s"


def _name(bot_id: str, width: int = 13) -> str:
    return bot_id if len(bot_id) <= width else bot_id[: width - 1] + "~"


HEADER = (
    f"{'bot':<13} {'src':<3} {'block':>8} {'age':>5} {'delta':>9} {'hedge':>9} "
    f"{'drift':>7} {'net PnL':>10} {'state':<8}"
)


def render_fleet(rows: Sequence[BotStatus]) -> list[str]:
    """The table's lines (each at most 80 columns): base to 3 places, quote to cents."""
    lines = [HEADER]
    for r in rows:
        state = r.trading_state or "?"
        if r.online is False:
            state = "offline"
        elif r.activity == "stale":
            state = "stale"
        if r.activity == "never ticked":
            lines.append(f"{_name(r.bot_id):<13} {r.source:<3} {'never ticked':<53} {state:<8}")
            continue
        lines.append(
            f"{_name(r.bot_id):<13} {r.source:<3} {'?' if r.block is None else r.block:>8} "
            f"{_age(r.age_s):>5} {_fmt(r.delta_base, 3):>9} {_fmt(r.hedge_base, 3):>9} "
            f"{_fmt(r.drift_base, 3):>7} {_fmt(r.net_pnl_quote, 2):>10} {state:<8}"[:WIDTH]
        )
    return lines
