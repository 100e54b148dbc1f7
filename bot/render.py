"""``hedgebot snapshot`` for people: the ``--json`` object rounded for display in 80 columns.

Base amounts are rounded to the venue's amount step (``amount_step_base`` in the snapshot),
quote amounts to cents, prices to significant digits (``bot.display``); the JSON output keeps
the exact decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.display import fmt_base, fmt_price, fmt_quote

__all__ = ["SNAPSHOT_WIDTH", "render_snapshot"]

SNAPSHOT_WIDTH = 80


def _step(result: dict[str, Any]) -> Decimal | None:
    step = result.get("amount_step_base")
    return None if step is None else Decimal(str(step))


def _positions_table(result: dict[str, Any], step: Decimal | None) -> Table:
    table = Table(title="LP positions", title_justify="left")
    for name in ("position", "kind", "base", "quote", "value", "delta", "in range"):
        table.add_column(name, justify="left" if name in ("position", "kind") else "right")
    for p in result["positions"]:
        table.add_row(
            Text(str(p["id"])),
            Text(str(p["kind"])),
            fmt_base(p["amount_base"], step),
            fmt_quote(p["amount_quote"]),
            fmt_quote(p["value_quote"]),
            fmt_base(p["delta_base"], step),
            "yes" if p["in_range"] else "no",
        )
    return table


def _decision_line(result: dict[str, Any], step: Decimal | None) -> str:
    d = result["decision"]
    action = str(d["action"])
    if action == "rebalance":
        reduce = " reduce-only" if d["reduce_only"] else ""
        action += f" ({d['side']} {fmt_base(d['amount_base'], step)}{reduce})"
    return f"would: {action}: {d['reason']}  (snapshot places no orders)"


def render_snapshot(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the snapshot (the dict ``take_snapshot`` returns) for a person, at most
    80 columns wide; numbers rounded for display (module docstring)."""
    console = console or Console(width=min(SNAPSHOT_WIDTH, Console().width))
    step = _step(result)
    console.print(
        Text(
            f"block {result['block']}  pool price {fmt_price(result['price'])}  "
            f"mark {fmt_price(result['mark_price'])}"
        )
    )
    console.print(_positions_table(result, step))
    hedge = Table(show_header=True, title="hedge (base)", title_justify="left")
    for name in ("delta", "target", "hedge", "drift", "band"):
        hedge.add_column(name, justify="right")
    hedge.add_row(
        *(
            fmt_base(result[key], step)
            for key in ("delta_base", "target_base", "hedge_base", "drift_base", "band_base")
        )
    )
    console.print(hedge)
    console.print(Text(_decision_line(result, step)))
    if step is not None:
        console.print(
            Text(f"base amounts rounded to the venue step {step.normalize()}; --json: exact")
        )
