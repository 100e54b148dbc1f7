"""`hedgebot backtest --prices FILE.csv` refuses what it cannot read as written, in one line
naming the file and line (and column), exit 2 — found by a tester: float() took full-width
digits, underscores and padded cells, a 4th column was ignored, backwards timestamps named no
line, 1e300 prices ended in a traceback or Infinity, and a huge file was loaded whole first."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.sim import pricepaths
from bot.sim.pricepaths import load_csv

pytestmark = pytest.mark.unit


def _run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    csv = tmp_path / "p.csv"
    csv.write_text(text, encoding="utf-8")
    assert main(["backtest", "--prices", str(csv), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    return csv, lines[0]


@pytest.mark.parametrize(
    ("cell", "column", "name"),
    [
        ("２００２", 2, "price"),
        ("2_002", 2, "price"),
        (" 2002", 2, "price"),
        ("2002 ", 2, "price"),
        ("0.000_1", 3, "funding_rate"),
        ("１", 1, "timestamp"),
        ("1_0", 1, "timestamp"),
        (" 10", 1, "timestamp"),
    ],
)
def test_only_ascii_decimal_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str, column: int, name: str
) -> None:
    """Full-width digits, underscores and surrounding spaces are not numbers here."""
    cells = ["2", "2001", "0.0001"]
    cells[column - 1] = cell
    csv, line = _run(tmp_path, "1,2000,0.0001\n" + ",".join(cells) + "\n", capsys)
    assert line.startswith(f"backtest: {csv}:2: column {column} ({name}): not ")
    assert repr(cell) in line


def test_a_fourth_column_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An extra column is refused naming file and line, not silently ignored."""
    csv, line = _run(tmp_path, "1,2000,0\n2,2001,0,7\n", capsys)
    assert line == (f"backtest: {csv}:2: expected timestamp,price[,funding_rate], got 4 columns")


@pytest.mark.parametrize("second", ["1", "0.5"])
def test_repeated_or_backwards_timestamps_name_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second: str
) -> None:
    """A duplicate or earlier timestamp names file, line and the line it does not follow."""
    csv, line = _run(tmp_path, f"timestamp,price\n1,2000\n{second},2001\n", capsys)
    assert line == (
        f"backtest: {csv}:3: column 1 (timestamp): timestamps must be strictly increasing "
        f"({second!r} is not after line 2)"
    )


@pytest.mark.parametrize("price", ["1e300", "1e308", "1.5e12", "1e-13"])
def test_prices_outside_the_sane_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], price: str
) -> None:
    """Huge (or vanishing) finite prices are refused by file, line and column, before any
    arithmetic can overflow."""
    csv, line = _run(tmp_path, f"1,2000\n2,{price}\n", capsys)
    assert line == (
        f"backtest: {csv}:2: column 2 (price): must be within [1e-12, 1e+12], got {price!r}"
    )
    assert "Infinity" not in line


def test_prices_at_the_range_edges_are_accepted(tmp_path: Path) -> None:
    """The documented range is inclusive."""
    csv = tmp_path / "p.csv"
    csv.write_text("1,1e-12\n2,1e12\n3,2000\n")
    assert load_csv(csv).prices.tolist() == [1e-12, 1e12, 2000.0]


def test_funding_rate_and_timestamp_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A funding rate beyond ±1 per interval and a timestamp past year 9999 are refused too."""
    csv, line = _run(tmp_path, "1,2000,0\n2,2001,1e300\n", capsys)
    assert (
        line == f"backtest: {csv}:2: column 3 (funding_rate): must be within [-1, 1] per "
        "interval, got '1e300'"
    )
    csv, line = _run(tmp_path, "1,2000\n1e20,2001\n", capsys)
    assert line.startswith(f"backtest: {csv}:2: column 1 (timestamp): must be > 0 and before")


def test_more_rows_than_max_steps_refused_while_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row MAX_STEPS + 2 is refused as it is read (the rest of the file is never parsed)."""
    monkeypatch.setattr(pricepaths, "MAX_STEPS", 5)
    rows = [f"{i + 1},{2000 + i}" for i in range(7)] + ["8,not a number"]
    csv, line = _run(tmp_path, "\n".join(rows) + "\n", capsys)
    assert line == (f"backtest: {csv}:7: more than 6 rows: a backtest simulates at most 5 steps")


def test_good_file_still_loads(tmp_path: Path) -> None:
    """Header, comments, ms timestamps, signed exponents and ISO times keep working."""
    csv = tmp_path / "p.csv"
    csv.write_text(
        "timestamp,price,funding_rate\n# a comment\n1700000000000,2000,+1e-4\n"
        "1700000060000,2000.5,-.5E-4\n"
    )
    path = load_csv(csv)
    assert path.times_s.tolist() == [1_700_000_000.0, 1_700_000_060.0]
    assert path.funding_rates is not None
    assert path.funding_rates.tolist() == [1e-4, -0.5e-4]
    iso = tmp_path / "iso.csv"
    iso.write_text("2024-01-01T00:00:00Z,100\n2024-01-01T00:01:00Z,101\n")
    assert load_csv(iso).times_s[1] - load_csv(iso).times_s[0] == 60
