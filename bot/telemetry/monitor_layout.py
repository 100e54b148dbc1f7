"""The monitor's bots table laid out for the terminal's width (``hedgebot monitor``). Pure.

A row is a dict of cells by column name: text cells are rich ``Text`` (peer strings, never
markup), number cells the Decimals of the state message. :func:`layout` picks the widest
set of columns whose text leaves every number column ``_NUMBER_MIN`` characters (all ten
from 80 columns on, then without block and time, then also without delta and net PnL) and
how wide each number column is; every number is then fitted to its column with
:func:`bot.display.fit_number` (fewer decimals, then k/M/B/T), never cut and never in
exponent form. A peer's number from 1e18 on is shown only as its bound (``>999,999T``),
with no arithmetic on it (it could overflow the decimal context).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from bot.display import fit_number, fmt_compact

__all__ = ["BOT_COLUMNS", "MONITOR_WIDTH", "Cells", "layout"]

MONITOR_WIDTH = 80  # the full layout; narrower terminals get fewer columns
_ARITHMETIC_EXPONENT = 18  # from 1e18 on a peer's number is only bounded, never computed on

Cells = dict[str, Text | Decimal | None]
"""One bot's row: text cells as ``Text``, number cells as Decimals (None: not published)."""

BOT_COLUMNS = (
    "bot",
    "status",
    "block",
    "time",
    "age",
    "delta",
    "hedge",
    "drift",
    "margin",
    "net pnl",
)
_NARROW_COLUMNS = ("bot", "status", "age", "delta", "hedge", "drift", "margin", "net pnl")
_NARROWEST_COLUMNS = ("bot", "status", "age", "hedge", "drift", "margin")
_NUMBER_COLUMNS = ("delta", "hedge", "drift", "margin", "net pnl")
_PLACES = {"delta": 4, "hedge": 4, "drift": 4, "net pnl": 2}  # margin: a percentage
_NUMBER_MIN = 7  # "-75.038", "-120.0B": the narrowest number cell
_NUMBER_MAX = 9  # "-75.0380", "-123.46B": wider numbers keep fewer decimals or a suffix


def layout(rows: list[Cells], width: int) -> tuple[tuple[str, ...], _NumberFit]:
    """The widest layout whose text cells leave every number column ``_NUMBER_MIN``
    characters: all columns from 80 columns on, then without block and time, then also
    without delta and net PnL; the narrowest one whatever is left (a cell then folds,
    never cut)."""
    tiers: tuple[tuple[str, ...], ...] = (_NARROW_COLUMNS, _NARROWEST_COLUMNS)
    if width >= MONITOR_WIDTH:
        tiers = (BOT_COLUMNS, *tiers)
    for columns in tiers:
        fit = _NumberFit.of(rows, columns, width)
        if fit is not None:
            return columns, fit
    numbers = [name for name in _NARROWEST_COLUMNS if name in _NUMBER_COLUMNS]
    return _NARROWEST_COLUMNS, _NumberFit(dict.fromkeys(numbers, _NUMBER_MIN))


@dataclass(frozen=True)
class _NumberFit:
    """How wide each number column may be: its widest cell at full precision (at most
    ``_NUMBER_MAX``), the widest columns narrowed one character at a time until the row
    fits what the text cells leave of the width (at least ``_NUMBER_MIN`` each)."""

    widths: dict[str, int]

    @classmethod
    def of(cls, rows: list[Cells], columns: tuple[str, ...], width: int) -> _NumberFit | None:
        """The widths for ``columns`` within ``width``; None when they cannot fit."""
        left = width - (len(columns) - 1)  # one space between columns
        widths: dict[str, int] = {}
        for name in columns:
            cells = [row.get(name) for row in rows]
            if name not in _NUMBER_COLUMNS:
                left -= max([len(name), *(len(c) for c in cells if isinstance(c, Text))])
                continue
            shown = [_cell(name, c, 64) for c in cells if not isinstance(c, Text)]
            natural = min(_NUMBER_MAX, max((len(text) for text in shown), default=0))
            widths[name] = max(len(name), _NUMBER_MIN, natural)
        while sum(widths.values()) > left:
            widest = max(widths, key=widths.__getitem__)
            if widths[widest] <= _NUMBER_MIN:
                return None
            widths[widest] -= 1
        return cls(widths)

    def row(self, cells: Cells, columns: tuple[str, ...]) -> list[Text]:
        """The row's cells in ``columns`` order, each number fitted to its column."""
        out = []
        for name in columns:
            cell = cells.get(name)
            out.append(
                cell if isinstance(cell, Text) else Text(_cell(name, cell, self.widths[name]))
            )
        return out


def _cell(name: str, value: Decimal | None, width: int) -> str:
    """A number column's text in ``width`` characters (``-`` for a value not published)."""
    if name == "margin":
        return _margin(value, width)
    return _num(value, _PLACES.get(name, 4), width)


def _margin(ratio: Decimal | None, width: int) -> str:
    """The margin ratio as ``status`` shows it, a percentage (``2.49 %``), its digits fitted
    to ``width``; a hostile ratio only as its bound (``>999,999T %``), no arithmetic on it."""
    if ratio is None or not ratio.is_finite():
        return _num(ratio, 2, width)
    if ratio.adjusted() >= _ARITHMETIC_EXPONENT:
        return f"{fmt_compact(ratio)} %"
    return f"{fit_number(ratio * 100, 2, max(1, width - 2))} %"


def _num(value: Decimal | None, places: int, width: int) -> str:
    """``value`` to ``places`` decimals in ``width`` characters: fewer decimals, then
    k/M/B/T; a hostile value bounded (``>999,999T``); never an exponent, never cut."""
    if value is None:
        return "-"
    if not value.is_finite():
        return str(value)
    return fit_number(value, places, width)
