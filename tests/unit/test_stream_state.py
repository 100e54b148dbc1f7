"""The streaming mode's caches (``bot.exchange.ccxt.stream_state``) and its config fields: when
a streamed mark or a kept position may be used as current, and when REST must be read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from bot.config import ExchangeConfig
from bot.domain import PerpPosition
from bot.errors import VenueDataError
from bot.exchange.ccxt.stream_state import StreamState
from bot.exchange.stream_settings import StreamSettings

FRAME = {
    "p": "2000.5",
    "i": "2000.1",
    "r": "0.0001",
    "T": 1_700_003_600_000,
    "E": 1_700_000_000_000,
}
SHORT = PerpPosition(
    symbol="ETH/USDT:USDT",
    size_base=Decimal("-2"),
    entry_price=Decimal(1990),
    mark_price=Decimal(1995),
    unrealized_pnl=Decimal(-10),
    margin=Decimal(1326),
    liquidation_price=Decimal(2600),
    leverage=3,
)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def opened(reconcile_reads: int = 20) -> tuple[StreamState, Clock]:
    clock = Clock()
    state = StreamState(max_age_s=3.0, reconcile_reads=reconcile_reads, monotonic=clock)
    state.market_socket(True)
    state.account_socket(True)
    state.saw_mark(FRAME)
    return state, clock


def test_a_streamed_mark_is_a_funding_structure_while_fresh_and_its_socket_open() -> None:
    """The frame's mark/index/rate/next funding in ccxt's names; unknown past max_age_s or
    once the market socket closed."""
    state, clock = opened()
    assert state.mark() == {
        "markPrice": "2000.5",
        "indexPrice": "2000.1",
        "fundingRate": "0.0001",
        "fundingTimestamp": 1_700_003_600_000,
        "timestamp": 1_700_000_000_000,
    }
    clock.t += 3.5
    assert state.mark() is None
    state.saw_mark(FRAME)
    state.market_socket(False)
    assert state.mark() is None


def test_the_position_is_the_rest_read_at_the_streamed_mark() -> None:
    """Seeded by a REST read with nothing in between: kept, valued at the streamed mark."""
    state, _ = opened()
    assert state.position() is None  # nothing read yet
    token = state.rest_read()
    state.seed(token, SHORT)
    kept = state.position()
    assert kept is not None
    assert kept.size_base == Decimal(-2)
    assert kept.mark_price == Decimal("2000.5")
    assert kept.unrealized_pnl == (Decimal("2000.5") - 1990) * -2
    assert kept.liquidation_price == SHORT.liquidation_price


def test_a_change_heard_during_a_rest_read_keeps_nothing() -> None:
    """An account update while the REST read is in flight: its answer is not kept."""
    state, _ = opened()
    token = state.rest_read()
    state.account_changed()
    state.seed(token, SHORT)
    assert state.position() is None
    assert not state.has_position


def test_an_account_update_or_a_closed_socket_drops_the_position() -> None:
    """Any account update, and the user-data socket closing, make the next read a REST read;
    a REST read while the socket is closed is never kept."""
    state, _ = opened()
    state.seed(state.rest_read(), SHORT)
    state.account_changed()
    assert state.position() is None
    state.seed(state.rest_read(), SHORT)
    state.account_socket(False)
    assert state.position() is None
    assert state.rest_read() is None
    state.seed(state.rest_read(), SHORT)
    assert not state.has_position


def test_one_read_in_reconcile_reads_goes_to_rest() -> None:
    """reconcile_reads=3: reads 1 and 2 from memory, read 3 is None (REST), then again."""
    state, _ = opened(reconcile_reads=3)
    state.seed(state.rest_read(), SHORT)
    answers = [state.position() is not None for _ in range(6)]
    assert answers == [True, True, False, True, True, False]


def test_a_stale_mark_makes_the_position_a_rest_read_too() -> None:
    """The kept position is valued at the streamed mark: no current mark, no kept position."""
    state, clock = opened()
    state.seed(state.rest_read(), SHORT)
    clock.t += 10
    assert state.position() is None


def test_a_streamed_mark_that_is_not_a_number_is_venue_data_error() -> None:
    """A frame whose mark is garbage fails the read loudly, never a zero mark."""
    state, _ = opened()
    state.seed(state.rest_read(), SHORT)
    state.saw_mark({**FRAME, "p": "abc"})
    with pytest.raises(VenueDataError):
        state.position()


def _exchange(**fields: object) -> ExchangeConfig:
    return ExchangeConfig.model_validate({"kind": "ccxt", "exchange_id": "binanceusdm", **fields})


def test_streaming_config_is_off_by_default_and_bounded() -> None:
    """Off: no settings. On: the fields become StreamSettings. Out of bounds, on a venue
    whose streams are not wired, or a non-ws URL: a validation error naming the field."""
    assert _exchange().stream_settings() is None
    on = _exchange(streaming=True, stream_url="ws://127.0.0.1:1/ws", stream_max_age_s=5)
    assert on.stream_settings() == StreamSettings(ws_url="ws://127.0.0.1:1/ws", max_age_s=5.0)
    with pytest.raises(ValidationError, match="stream_max_age_s"):
        _exchange(streaming=True, stream_max_age_s=0)
    with pytest.raises(ValidationError, match="only for kind ccxt"):
        _exchange(streaming=True, exchange_id="hyperliquid")
    with pytest.raises(ValidationError, match="stream_url"):
        _exchange(streaming=True, stream_url="http://127.0.0.1/ws")
