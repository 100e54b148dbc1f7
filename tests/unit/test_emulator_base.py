"""The shared emulator base: the movable offset clock and the typed admin table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.clock import ManualClock, WallClock
from bot.exchange.emulators.admin import AdminAction, AdminTable, admin_int, admin_number
from bot.exchange.emulators.clock import OffsetClock, advance_clock

pytestmark = pytest.mark.unit


def test_offset_clock_runs_on_the_wall_clock_and_advance_moves_it() -> None:
    """now() is the wall clock plus every advance; negative advances are refused."""
    wall = [1_000.0]
    clock = OffsetClock(lambda: wall[0])
    assert clock.now() == 1_000.0
    clock.advance(28_800)
    assert clock.now() == 29_800.0
    wall[0] = 1_005.0
    assert clock.now() == 29_805.0
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        clock.advance(-1)
    assert clock.now() == 29_805.0


def test_advance_clock_moves_movable_clocks_and_names_a_fixed_one() -> None:
    """ManualClock and OffsetClock move; the wall clock is refused by name."""
    manual = ManualClock(100.0)
    advance_clock(manual, 5)
    assert manual.now() == 105.0
    with pytest.raises(TypeError, match="WallClock"):
        advance_clock(WallClock(), 5)


def test_admin_table_runs_actions_by_name_and_refuses_unknown_ones() -> None:
    """An action's handler gets the body; the result callable is merged into the answer."""
    seen: list[Any] = []
    table = AdminTable(
        [AdminAction("mark", lambda body: seen.append(admin_number(body, "price", low=0)))],
        result=lambda: {"now_ms": 7},
    )
    assert table.run("mark", {"price": "2500.5"}) == {"now_ms": 7}
    assert seen == [Decimal("2500.5")]
    assert table.names == ("mark",)
    with pytest.raises(KeyError, match="unknown action 'nope'"):
        table.run("nope", {})


@pytest.mark.parametrize("raw", ["nan", "1e400", True, "abc", [1], -1])
def test_admin_numbers_refuse_anything_but_finite_numbers_in_range(raw: object) -> None:
    """nan, inf, booleans, text, lists and out-of-range values are ValueErrors naming the field."""
    with pytest.raises(ValueError, match="count"):
        admin_int({"count": raw}, "count", low=0)
