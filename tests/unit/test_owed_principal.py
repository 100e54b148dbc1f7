"""Principal-owed fold: withdrawals add principal, collects take principal first."""

from __future__ import annotations

import pytest

from bot.core.v3_owed import OwedEvent, principal_owed

pytestmark = pytest.mark.unit


def test_withdrawals_add_and_collects_take_principal_first() -> None:
    """Two withdrawals, a part collect, out of order: principal = withdrawn - collected."""
    events = [
        OwedEvent((12, 0), "collect", 30, 5),
        OwedEvent((10, 3), "withdraw", 100, 50),
        OwedEvent((11, 1), "withdraw", 20, 0),
    ]
    assert principal_owed(events, (200, 200)) == (90, 45)


def test_a_collect_beyond_the_principal_leaves_none() -> None:
    """A collect larger than the principal took fees too: nothing is principal afterwards."""
    events = [OwedEvent((1, 0), "withdraw", 10, 10), OwedEvent((2, 0), "collect", 15, 4)]
    assert principal_owed(events, (7, 9)) == (0, 6)


def test_principal_never_exceeds_tokens_owed() -> None:
    """The split is capped by what the position is owed; no events means no principal."""
    assert principal_owed([OwedEvent((1, 0), "withdraw", 10, 10)], (4, 10)) == (4, 10)
    assert principal_owed([], (4, 10)) == (0, 0)
    assert principal_owed([], (4, 10), start=(3, 1)) == (3, 1)
