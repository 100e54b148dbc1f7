"""Implausible peer values on the fleet page and the monitor (issue 18 review 2 item 9): a
value beyond 1e18, a negative price/band/margin ratio, a state under another bot's topic, an
unknown status are shown as ``?`` and named (field and reason) in the problem column."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from rich.console import Console

from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.fleet import FleetBoard
from bot.telemetry.monitor import MonitorView

pytestmark = pytest.mark.unit

PREFIX = "hb"


def _state(bot_id: str, **overrides: Any) -> bytes:
    state: dict[str, Any] = {
        "bot_id": bot_id,
        "block": 7,
        "timestamp": 1_700_000_000,
        "price": "2000",
        "delta_base": "1.25",
        "target_base": "-1.25",
        "hedge_base": "-1.2",
        "drift_base": "0.05",
        "band_base": "0.1",
        "margin_ratio": "0.5",
        "pnl": {"net": "12.5"},
    }
    state.update(overrides)
    return json.dumps(state).encode()


def _board(bot_id: str, *payloads: tuple[str, bytes]) -> FleetBoard:
    board = FleetBoard(PREFIX, DashboardFeed())
    for kind, payload in payloads:
        board.apply(f"{PREFIX}/{bot_id}/{kind}", payload, retained=True)
    return board


@pytest.mark.parametrize(
    ("overrides", "column", "problem"),
    [
        ({"hedge_base": "1e400"}, "hedge", "implausible state: hedge_base: beyond ±1e18"),
        ({"hedge_base": "-1e18"}, "hedge", "implausible state: hedge_base: beyond ±1e18"),
        ({"margin_ratio": "-5"}, "margin", "implausible state: margin_ratio: negative"),
        ({"margin_ratio": "1e999999"}, "margin", "implausible state: margin_ratio: beyond ±1e18"),
        ({"band_base": "-0.1"}, "band", "implausible state: band_base: negative"),
        ({"delta_base": "123456789012345678901"}, "delta", "implausible state: delta_base: beyond"),
        ({"pnl": {"net": "-1e30"}}, "net_pnl", "implausible state: pnl.net: beyond ±1e18"),
        ({"block": 10**40}, "block", "implausible state: block: beyond ±1e18"),
    ],
)
def test_an_implausible_value_is_a_question_mark_and_a_named_problem(
    overrides: dict[str, Any], column: str, problem: str
) -> None:
    """The row shows ``?`` for the value, never the peer's digits; the problem column names
    the field and why; the other numbers are still shown."""
    board = _board("b", ("status", b"online"), ("state", _state("b", **overrides)))
    row = board.row("b")
    assert row[column] == "?"
    assert row["problem"] is not None
    assert row["problem"].startswith(problem)
    assert row["drift"] == "0.05"
    assert row["status"] == "online"
    detail = board.detail("b")
    assert detail is not None
    shown = json.dumps(detail, allow_nan=False)  # the page's JSON: no Infinity, no 1E+400
    assert "E+" not in shown
    assert "e+" not in shown


def test_implausible_prices_and_range_edges_are_named() -> None:
    """A negative price, mark price and range edge: each named, each ``?`` in the detail."""
    position = {
        "id": "p",
        "kind": "v3",
        "amount_base": "1",
        "amount_quote": "2000",
        "value_quote": "4000",
        "delta_base": "1",
        "in_range": True,
        "price_lower": "-1500",
        "price_upper": "2500",
    }
    payload = _state("b", price="-2000", mark_price="-1", positions=[position])
    board = _board("b", ("state", payload))
    problem = board.row("b")["problem"]
    assert problem == (
        "implausible state: price: negative; mark_price: negative; "
        "positions[0].price_lower: negative"
    )
    detail = board.detail("b")
    assert detail is not None
    state = detail["state"]
    assert (state["price"], state["mark_price"]) == ("?", "?")
    assert state["positions"][0]["price_lower"] == "?"
    assert state["positions"][0]["price_upper"] == "2500"
    assert detail["history"][-1]["price"] is None  # a gap in the chart, not -2000


def test_history_keeps_no_implausible_point() -> None:
    """The bot's chart history gets a gap (None) for a value not believed, never inf."""
    board = _board("b", ("state", _state("b", hedge_base="1e400")))
    detail = board.detail("b")
    assert detail is not None
    point = detail["history"][-1]
    assert (point["hedge"], point["delta"]) == (None, 1.25)


def test_a_state_under_another_bots_topic_is_not_that_bots_row() -> None:
    """A state naming bot ``evil`` on bot ``a``'s topic is not shown as ``a``: its values
    are not taken (a row keeps what it had) and the problem names the bot_id."""
    board = _board("a", ("status", b"online"), ("state", _state("evil", hedge_base="-99")))
    row = board.row("a")
    assert "hedge" not in row  # no state believed: nothing shown as a's numbers
    assert row["problem"] == "bad state payload: bot_id: 'evil' is not the topic's bot id"
    board.apply(f"{PREFIX}/a/state", _state("a"), retained=True)
    assert (board.row("a")["hedge"], board.row("a")["problem"]) == ("-1.2", None)
    board.apply(f"{PREFIX}/a/state", _state("evil", hedge_base="-99"), retained=True)
    row = board.row("a")
    assert row["hedge"] == "-1.2"  # a's own last state, not the other bot's
    assert "bot_id: 'evil'" in str(row["problem"])


def test_an_unknown_status_is_a_question_mark_and_a_named_problem() -> None:
    """A status of 50 bytes ``\\xff`` shows ``?`` and the problem shows the bytes escaped
    and bounded; a known status clears it."""
    board = _board("b", ("status", b"\xff" * 50))
    row = board.row("b")
    assert row["status"] == "?"
    problem = str(row["problem"])
    assert problem.startswith("bad status payload: status: '\\\\xff\\\\xff")
    assert problem.endswith("…' is not online or offline")
    assert "\ufffd" not in problem
    assert len(problem) <= 160
    board.apply(f"{PREFIX}/b/status", b"offline")
    assert (board.row("b")["status"], board.row("b")["problem"]) == ("offline", None)


def test_a_plausible_state_clears_the_problem_and_problems_of_kinds_add_up() -> None:
    """A bad status and an implausible state are both named; a good state clears its own."""
    board = _board("b", ("status", b"maybe"), ("state", _state("b", margin_ratio="-5")))
    problem = str(board.row("b")["problem"])
    assert "status: 'maybe' is not online or offline" in problem
    assert "margin_ratio: negative" in problem
    board.apply(f"{PREFIX}/b/state", _state("b"), retained=True)
    problem = str(board.row("b")["problem"])
    assert "margin_ratio" not in problem
    assert board.row("b")["margin"] == "0.5"


def test_the_monitor_shows_a_question_mark_and_the_problem_below_the_table() -> None:
    """``hedgebot monitor``: the implausible cell is ``?`` and the problem has its own line,
    even though the bot has a state."""
    view = MonitorView(prefix=PREFIX)
    view.apply(f"{PREFIX}/b/status", b"online", time.time())
    view.apply(f"{PREFIX}/b/state", _state("b", margin_ratio="-5"), time.time())
    console = Console(file=io.StringIO(), record=True, width=120)
    console.print(view.render(time.time()))
    lines = console.export_text().splitlines()
    row = next(line for line in lines if line.startswith("b "))
    assert row.split()[-2:] == ["?", "12.50"]
    assert "b: implausible state: margin_ratio: negative" in lines
    assert "-500" not in row
