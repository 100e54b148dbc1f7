"""One tick's typed state for the ``state`` message's unit tests: a bot holding a 1 ETH short
at 2000 with the mark at 2001, the decision "hold", around the chain snapshot a test gives."""

from __future__ import annotations

from decimal import Decimal

from bot.core.gate import MarginView
from bot.domain import ChainSnapshot, Decision, MarketQuote, PerpPosition
from bot.events import TickState

D = Decimal
SYMBOL = "ETH/USDT:USDT"


def held_tick_state(snapshot: ChainSnapshot) -> TickState:
    """The tick of bot ``b1`` at ``snapshot``'s block: hedge held, position -1 at 2000."""
    decision = Decision("hold", "within band", D(1), D(-1), D(-1), D(0), D("0.05"), notes=())
    return TickState(
        bot_id="b1",
        block=snapshot.block_number,
        snapshot=snapshot,
        quote=MarketQuote(SYMBOL, D(2001), D(2001), D("0.0001"), 0, 0),
        position=PerpPosition(SYMBOL, D(-1), D(2000), D(2001), D(0), D(100), None, 3),
        decision=decision,
        pnl={},
        margin=MarginView(None, None, None),
        paused=False,
        flattening=False,
    )
