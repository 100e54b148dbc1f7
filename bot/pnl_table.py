"""The PnL attribution as a table for people: one renderer for ``report`` and ``backtest``.

Every part is a row under its ``bot.display.PNL_LABELS`` label, shown as its signed
contribution to net PnL (costs negative, ``bot.display.COSTS_NOTE``), to cents; then the
net. The JSON outputs keep the attribution's own signs (costs positive, docs/mqtt.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from rich.table import Table

from bot.display import fmt_quote, pnl_contributions

__all__ = ["add_pnl_rows", "pnl_table"]


def add_pnl_rows(table: Table, parts: Mapping[str, Decimal], net: Decimal) -> None:
    """Append one row per part in ``parts`` (by ``bot.core.pnl.PARTS`` name, as attributed:
    costs positive) as its signed contribution, a section, and ``net PnL``; two columns."""
    for _, label, contribution in pnl_contributions(parts):
        table.add_row(label, fmt_quote(contribution))
    table.add_section()
    table.add_row("net PnL", fmt_quote(net))


def pnl_table(title: str, parts: Mapping[str, Decimal], net: Decimal) -> Table:
    """A two-column table (``part``, ``quote``) of :func:`add_pnl_rows`."""
    table = Table(title=title)
    table.add_column("part")
    table.add_column("quote", justify="right")
    add_pnl_rows(table, parts, net)
    return table
