"""``hedgebot snapshot`` for people: the ``--json`` object rounded for display in 80 columns.

Base amounts are rounded to the venue's amount step (``amount_step_base`` in the snapshot),
quote amounts to cents, prices to significant digits (``bot.display``); the JSON output keeps
the exact decimal strings. No number is cut: a table cell too narrow for a number keeps
fewer decimals, then a ``k``/``M``/``B``/``T`` suffix (:func:`bot.display.fit_number`).
Base held outside the pools (``wallet_base``) has its own row, so the positions' deltas and
the wallet add up to the total delta. ``kind`` shows the protocol (``v4`` for a Uniswap V4
position, whose JSON ``kind`` is ``v3``: it is valued with V3's math); positions on several
chains get a ``chain`` column.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.display import as_decimal, fit_base, fit_quote, fmt_base, fmt_price

__all__ = ["SNAPSHOT_WIDTH", "render_snapshot"]

SNAPSHOT_WIDTH = 80
_NUMBER_MIN, _NUMBER_MAX = 7, 13  # characters of a number cell (the width shares them out)
_HEDGE_KEYS = ("delta_base", "target_base", "hedge_base", "drift_base", "band_base")


def _step(result: dict[str, Any]) -> Decimal | None:
    step = result.get("amount_step_base")
    return None if step is None else Decimal(str(step))


def _number_width(width: int, fixed: int, numbers: int) -> int:
    """Characters per number cell: what ``width`` leaves after ``fixed`` characters (text
    columns and separators), shared by ``numbers`` cells, within 7..13."""
    share = (width - fixed) // numbers
    return max(_NUMBER_MIN, min(_NUMBER_MAX, share))


def _table(title: str | None) -> Table:
    """A borderless table, one space between columns, folding (never cutting) any cell."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        show_edge=False,
        pad_edge=False,
    )


def _wallet(result: dict[str, Any]) -> Decimal | None:
    """``wallet_base`` when it is a nonzero number (the row is shown), else None."""
    try:
        wallet = as_decimal(result.get("wallet_base") or "0")
    except (InvalidOperation, ValueError):
        return None
    return None if not wallet.is_finite() or wallet.is_zero() else wallet


def _kind(position: dict[str, Any]) -> str:
    """What the position is: ``v2``/``v3``/``v4`` for Uniswap (a V4 position is valued
    with V3's math, so its ``kind`` says ``v3``: its ``protocol`` says which), else the
    protocol (``pancakeswap_v3``, ``slipstream``)."""
    protocol = str(position.get("protocol") or f"uniswap_{position['kind']}")
    return protocol.removeprefix("uniswap_")


def _positions_table(result: dict[str, Any], step: Decimal | None, width: int) -> Table:
    table = _table("LP positions")
    chains = {p.get("chain") for p in result["positions"]}
    several = len(chains) > 1  # a chain column only when positions are on several chains
    names = ("position", *(("chain",) if several else ()), "kind")
    for name in (*names, "base", "quote", "value", "delta", "in range"):
        justify = "left" if name in names else "right"
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    fixed = 16 + 6 + 8 + 6 + (9 if several else 0)  # position, kind, in range, separators
    n = _number_width(width, fixed, 4)
    for p in result["positions"]:
        table.add_row(
            Text(str(p["id"])),
            *((Text(str(p.get("chain"))),) if several else ()),
            Text(_kind(p)),
            fit_base(p["amount_base"], step, n),
            fit_quote(p["amount_quote"], n),
            fit_quote(p["value_quote"], n),
            fit_base(p["delta_base"], step, n),
            "yes" if p["in_range"] else "no",
        )
    wallet = _wallet(result)
    gap = ("",) if several else ()
    if wallet is not None:  # base held outside the pools: valued at the pool price
        value = wallet * as_decimal(result["price"])
        table.add_row(
            "wallet", *gap, "base", fit_base(wallet, step, n), "-", fit_quote(value, n),
            fit_base(wallet, step, n), "-",
        )  # fmt: skip
    if wallet is not None or len(result["positions"]) > 1:
        table.add_section()
        total = fit_base(result["delta_base"], step, n)
        table.add_row("total", *gap, "", "", "", "", total, "")
    return table


def _hedge_table(result: dict[str, Any], step: Decimal | None, width: int) -> Table:
    table = _table("hedge (base)")
    for name in ("delta", "target", "hedge", "drift", "band"):
        table.add_column(name, justify="right", overflow="fold")
    n = _number_width(width, 4, len(_HEDGE_KEYS))
    table.add_row(*(fit_base(result[key], step, n) for key in _HEDGE_KEYS))
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
    80 columns wide; numbers rounded for display, never cut (module docstring)."""
    console = console or Console(width=min(SNAPSHOT_WIDTH, Console().width))
    width = console.width
    step = _step(result)
    console.print(
        Text(
            f"block {result['block']}  pool price {fmt_price(result['price'])}  "
            f"mark {fmt_price(result['mark_price'])}"
        )
    )
    console.print(_positions_table(result, step, width))
    console.print(_hedge_table(result, step, width))
    console.print(Text(_decision_line(result, step)))
    if step is not None:
        console.print(
            Text(f"base amounts rounded to the venue step {step.normalize()}; --json: exact")
        )
