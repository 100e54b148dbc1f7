"""An endpoint's standing: the penalty schedule, strikes, and the confirmed-hash window."""

from __future__ import annotations

import pytest

from bot.chain.heads import BlockInfo
from bot.chain.ws_endpoint import ConfirmedHashes, PendingHeads, WsEndpoint, penalty_s

pytestmark = pytest.mark.unit


def block(number: int, fill: str = "ab") -> BlockInfo:
    return BlockInfo(number=number, timestamp=1_700_000_000, hash="0x" + fill * 32)


def test_the_penalty_doubles_per_strike_up_to_the_cap() -> None:
    """0.5 s, 1 s, 2 s, ... capped at 30 s, and no overflow for an endless run of strikes."""
    assert [penalty_s(n, 0.5, 30.0) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert penalty_s(10**6, 0.5, 30.0) == 30.0


def endpoint() -> WsEndpoint:
    pending = PendingHeads(max_numbers=8, settle_s=2.0, recheck_s=0.02, recheck_max_s=0.5)
    return WsEndpoint(url="ws://x", label="ws://x", index=0, pending=pending)


def test_refused_heads_are_ignored_for_the_penalty_and_good_heads_do_not_clear_the_strikes() -> (
    None
):
    """After a refusal heads are dropped unread until the penalty ends; accepted heads, new
    blocks included, leave the strikes standing, so a peer alternating real and bogus heads
    climbs the schedule (the old endpoint reset them on every new block: 0.5 s forever)."""
    peer = endpoint()
    penalties = []
    for second in range(5):
        peer.accept(new=True)  # a real head ...
        peer.refuse(ValueError("bad"), now=100.0 + second, min_s=0.5, max_s=30.0)  # ... a bogus
        penalties.append(peer.ignored_until - (100.0 + second))
    assert penalties == [0.5, 1, 2, 4, 8]
    assert peer.penalised(104.5)
    assert peer.ignored == 1
    assert not peer.penalised(112.0)
    assert (peer.accepted, peer.delivered, peer.rejected) == (5, 5, 5)


def test_strikes_halve_per_quiet_period_of_twice_the_longest_penalty() -> None:
    """No refusal for 2 × 30 s halves the standing strikes once, 4 × 30 s twice."""
    peer = endpoint()
    for _ in range(6):
        peer.refuse(ValueError("bad"), now=0.0, min_s=0.5, max_s=30.0)
    peer.refuse(ValueError("bad"), now=59.0, min_s=0.5, max_s=30.0)
    assert peer.strikes == 7  # not quiet long enough
    peer.refuse(ValueError("bad"), now=119.0, min_s=0.5, max_s=30.0)
    assert peer.strikes == 7 // 2 + 1
    peer.refuse(ValueError("bad"), now=119.0 + 240.0, min_s=0.5, max_s=30.0)
    assert peer.strikes == 4 // 16 + 1


def test_a_waiting_head_is_never_displaced_and_lacking_numbers_back_off() -> None:
    """Heads wait by number; a later head of the same number (or past the room) never
    replaces one kept; the node lacking a number reschedules it and the higher due ones with
    a doubling delay; past its deadline a head comes back to be refused; the node's hash
    settles a number: the match and the refuted ones."""
    pending = PendingHeads(max_numbers=2, settle_s=1.0, recheck_s=0.02, recheck_max_s=0.05)
    real, bogus, later = block(11), block(11, fill="ee"), block(11, fill="ff")
    assert pending.add(real, now=0.0)  # a new number: ask now
    assert not pending.add(bogus, now=0.001)  # kept beside it
    assert not pending.add(later, now=0.002)  # two hashes a number: dropped, not displacing
    assert pending.add(block(15, fill="cc"), now=0.003)
    assert not pending.add(block(16), now=0.004)  # no room: dropped
    assert pending.due(0.01) == [11, 15]  # lowest first
    assert pending.lacking(11, now=0.01) == []  # 15 is due too: both rescheduled
    assert pending.next_due() == pytest.approx(0.03)
    assert pending.due(0.02) == []
    assert pending.lacking(11, now=0.03) == []
    assert pending.lacking(11, now=0.07) == []
    assert pending.next_due() == pytest.approx(0.12)  # 0.02, 0.04, then capped at 0.05
    assert pending.lacking(15, now=1.0035) == [block(15, fill="cc")]  # past its deadline
    match, refuted = pending.settle(11, real.hash)
    assert (match, refuted) == (real, [bogus])
    assert len(pending) == 0
    assert pending.next_due() is None


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
