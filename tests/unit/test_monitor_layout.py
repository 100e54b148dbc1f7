"""The monitor in a narrow terminal and with clocks that disagree (issue 17): fewer columns
below 80, every number fitted (never cut), and a state stamped ahead of this host says so."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from bot.display import fmt_span
from bot.telemetry.monitor import MonitorView

pytestmark = pytest.mark.unit

PREFIX = "hedgebot"
NOW = 1_800_000_000.0
BOT_ID = "local-3f9a1c"  # what localnet names a bot
LONG_ID = "local-3f9a1c-eth1"[:16]  # the longest id shown whole


def _state(**overrides: object) -> bytes:
    state: dict[str, object] = {
        "bot_id": "b",
        "block": 12_345_678,
        "timestamp": int(NOW),
        "price": "2000",
        "delta_base": "120000000075.038024498546075665",
        "target_base": "-120000000075.038",
        "hedge_base": "-75.038",
        "drift_base": "-123456789085.5",
        "band_base": "0.75",
        "margin_ratio": "0.0249",
        "pnl": {"net": "-108.51"},
        "published_at": NOW - 4,
    }
    state.update(overrides)
    return json.dumps(state).encode()


def _frame(view: MonitorView, width: int) -> list[str]:
    console = Console(file=io.StringIO(), record=True, width=width)
    console.print(view.render(NOW, width))
    return console.export_text().splitlines()


def _view(bot_id: str = BOT_ID, **overrides: object) -> MonitorView:
    view = MonitorView(prefix=PREFIX)
    view.apply(f"{PREFIX}/{bot_id}/status", b"online", NOW)
    view.apply(f"{PREFIX}/{bot_id}/state", _state(bot_id=bot_id, **overrides), NOW)
    return view


def _cells(lines: list[str], bot_id: str) -> dict[str, str]:
    """The bot's row by column name (``2.49 %`` is one cell)."""
    header = next(line for line in lines if line.startswith("bot "))
    names = header.replace("net pnl", "net_pnl").split()
    row = next(line for line in lines if line.startswith(bot_id + " "))
    tokens = row.replace(" %", "%").split()
    assert len(tokens) == len(names), (names, tokens)
    return dict(zip(names, tokens, strict=True))


def _fits(lines: list[str], width: int) -> None:
    assert max(len(line) for line in lines) <= width
    assert not any("…" in line for line in lines)


def test_80_columns_full_layout_fits_huge_numbers_whole() -> None:
    """At 80 columns: block and time shown, 1.2e11 base as ``120.00B`` (a suffix, not a cut
    digit), the hedge to 4 decimals, every line within 80 columns."""
    lines = _frame(_view(), 80)
    assert _cells(lines, BOT_ID) == {
        "bot": BOT_ID,
        "status": "online",
        "block": "12345678",
        "time": "08:00",
        "age": "4s",
        "delta": "120.00B",
        "hedge": "-75.0380",
        "drift": "-123.46B",
        "margin": "2.49%",
        "net_pnl": "-108.51",
    }
    _fits(lines, 80)


def test_a_long_id_at_80_columns_drops_block_and_time_not_digits() -> None:
    """A 16-character id leaves too little for 10 columns: block and time go, the numbers
    keep their digits."""
    lines = _frame(_view(LONG_ID), 80)
    cells = _cells(lines, LONG_ID)
    assert "block" not in cells
    assert (cells["hedge"], cells["net_pnl"]) == ("-75.0380", "-108.51")
    _fits(lines, 80)


@pytest.mark.parametrize(
    ("width", "columns"),
    [
        (72, ["bot", "status", "age", "delta", "hedge", "drift", "margin", "net_pnl"]),
        (60, ["bot", "status", "age", "hedge", "drift", "margin"]),
        (46, ["bot", "status", "age", "hedge", "drift", "margin"]),
    ],
)
def test_below_80_columns_fewer_columns_and_no_number_cut(width: int, columns: list[str]) -> None:
    """Below 80 columns block and time are left out (then delta and net PnL); the numbers
    keep their value (fewer decimals or a suffix) and no line passes the width."""
    lines = _frame(_view(), width)
    cells = _cells(lines, BOT_ID)
    assert list(cells) == columns
    assert cells["age"] == "4s"
    assert cells["hedge"] in ("-75.0380", "-75.038")
    assert cells["drift"] in ("-123.46B", "-123.5B")
    assert cells["margin"] == "2.49%"
    _fits(lines, width)


def test_a_state_stamped_ahead_of_this_host_shows_the_skew() -> None:
    """``published_at`` 90 s ahead of this host's clock: ``90s ahead``, never ``0s``."""
    lines = _frame(_view(published_at=NOW + 90), 80)
    row = next(line for line in lines if line.startswith(BOT_ID))
    assert "90s ahead" in row
    assert " 0s " not in row
    _fits(lines, 80)


def test_a_bad_payload_is_a_note_below_the_table() -> None:
    """A bot without a valid state: dashes in its row, the problem on its own line."""
    view = _view()
    view.apply(f"{PREFIX}/other/state", b'{"bot_id": "other"}', NOW)
    lines = _frame(view, 80)
    assert set(_cells(lines, "other").values()) == {"other", "?", "-"}
    assert any(line.startswith("other: bad state payload:") for line in lines)
    assert _cells(lines, BOT_ID)["hedge"] == "-75.0380"


def test_span_units_and_skew() -> None:
    """Seconds, minutes, hours, days in whole units; a negative span is ``ahead``."""
    assert [fmt_span(s) for s in (4, 119, 120, 7200, 172_800)] == [
        "4s",
        "119s",
        "2m",
        "2h00m",
        "2d00h",
    ]
    assert fmt_span(-7300) == "2h01m ahead"
