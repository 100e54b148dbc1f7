"""The pure half of the kill/clear story: a flatten seen halts the operator, a freeze does
nothing (``bot.core.operator.after_kill_switch``)."""

from __future__ import annotations

import pytest

from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, TradingState, after_kill_switch

pytestmark = pytest.mark.unit

OFF = KillSwitchState()
FREEZE = KillSwitchState("freeze", "drill", 1.0, "cli")
FLATTEN = KillSwitchState("flatten", "drill", 1.0, "file")


@pytest.mark.parametrize(
    ("before", "kill", "seen", "after"),
    [
        (TradingState.ACTIVE, FLATTEN, False, TradingState.HALTED),
        (TradingState.ACTIVE, OFF, True, TradingState.HALTED),  # cleared before the loop looked
        (TradingState.ACTIVE, FREEZE, True, TradingState.HALTED),  # flatten changed to freeze
        (TradingState.ACTIVE, FREEZE, False, TradingState.ACTIVE),
        (TradingState.ACTIVE, OFF, False, TradingState.ACTIVE),
        (TradingState.REDUCING, FLATTEN, False, TradingState.REDUCING),
        (TradingState.HALTED, FLATTEN, False, TradingState.HALTED),
        (TradingState.HALTED, FREEZE, False, TradingState.HALTED),
    ],
)
def test_after_kill_switch(
    before: TradingState, kill: KillSwitchState, seen: bool, after: TradingState
) -> None:
    """Only an active operator that has seen a flatten changes, to halted; overrides stay."""
    state = OperatorState(trading_state=before, hedge_ratio=None)
    result = after_kill_switch(state, kill, flatten_seen=seen)
    assert result.trading_state is after
    assert (result is state) is (after is before)
