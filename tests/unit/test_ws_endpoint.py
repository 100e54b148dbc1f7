"""An endpoint's standing: the penalty schedule, strikes, and the confirmed-hash window."""

from __future__ import annotations

import pytest

from bot.chain.heads import BlockInfo
from bot.chain.ws_endpoint import ConfirmedHashes, WsEndpoint, penalty_s

pytestmark = pytest.mark.unit


def block(number: int, fill: str = "ab") -> BlockInfo:
    return BlockInfo(number=number, timestamp=1_700_000_000, hash="0x" + fill * 32)


def test_the_penalty_doubles_per_strike_up_to_the_cap() -> None:
    """0.5 s, 1 s, 2 s, ... capped at 30 s, and no overflow for an endless run of strikes."""
    assert [penalty_s(n, 0.5, 30.0) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert penalty_s(10**6, 0.5, 30.0) == 30.0


def test_refused_heads_are_ignored_for_the_penalty_and_only_a_newer_block_ends_the_strikes() -> (
    None
):
    """After a refusal heads are dropped unread until the penalty ends; an accepted head of an
    old number keeps the strikes, one newer than any before clears them."""
    endpoint = WsEndpoint(url="ws://x", label="ws://x", index=0)
    endpoint.accept(10)
    endpoint.refuse(ValueError("bad"), now=100.0, min_s=0.5, max_s=30.0)
    endpoint.refuse(ValueError("bad"), now=101.0, min_s=0.5, max_s=30.0)
    assert endpoint.ignored_until == 102.0  # the 2nd strike: 1 s
    assert endpoint.penalised(101.5)
    assert endpoint.ignored == 1
    assert not endpoint.penalised(102.0)
    endpoint.accept(10)  # a known old block: the connection is healthy, the strikes stay
    assert (endpoint.accepted, endpoint.strikes) == (2, 2)
    endpoint.accept(11)
    assert endpoint.strikes == 0
    assert endpoint.rejected == 2


def test_confirmed_hashes_keep_the_newest_window_and_match_number_and_hash() -> None:
    """A head matches only with the hash confirmed for its number; old numbers fall out."""
    hashes = ConfirmedHashes(keep=3)
    for number in range(1, 6):
        hashes.add(block(number))
    assert hashes.matches(block(5))
    assert hashes.matches(block(3))
    assert not hashes.matches(block(5, fill="cd"))
    assert not hashes.matches(block(2))  # outside the window
    hashes.add(block(5, fill="cd"))  # a reorg: the later hash wins
    assert hashes.matches(block(5, fill="cd"))
    assert not hashes.matches(block(5))
