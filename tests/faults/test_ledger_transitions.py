"""Property test of the ledger's transition table: the real ``OrderLedger`` and SQLite store
against the real simulated venue (paper adapter), with a ``PerpExchange`` wrapper that
answers with scripted faults. Any sequence of venue answers leaves every intent in exactly
one terminal or pending state, the store agreeing with the ledger, and never two orders
(nor a second send reaching the venue) for one intent.

Besides the venue's true state, a look-up may answer any status a real venue can report for
an order it has (accepted then rejected or expired, open again, unknown, ...), and an answer
no venue should give (the order of another client id): the latter raises
``IllegalVenueAnswer`` with the intent left pending in the ledger and the store."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot import errors
from bot.clock import ManualClock
from bot.domain import (
    AccountBalance,
    Fill,
    FundingPayment,
    MarketQuote,
    MarketRules,
    Order,
    OrderIntent,
    OrderStatus,
    PerpPosition,
    Side,
)
from bot.exchange.intent_tracker import IllegalVenueAnswer
from bot.exchange.ledger import LedgerSettings, NotPlaced, OrderLedger, Placed, Rejected, Unknown
from bot.exchange.paper import PaperExchange
from bot.exchange.venue import SimVenue, VenueParams
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.faults

SubmitAnswer = Literal[
    "accepted", "partial", "expired", "resting", "rejected", "rate_limited",
    "timeout_after_send", "timeout_before_send", "duplicate_client_id",
]  # fmt: skip
LookupFault = Literal["truth", "not_found", "unavailable", "rate_limited", "other_client_id"]
# an OrderStatus: the venue reports the order it has in that status (not found if it has none)
LookupAnswer = LookupFault | OrderStatus
SUBMIT_ANSWERS: tuple[SubmitAnswer, ...] = SubmitAnswer.__args__  # type: ignore[attr-defined]
LOOKUP_ANSWERS: tuple[LookupAnswer, ...] = (*LookupFault.__args__, *OrderStatus)  # type: ignore[attr-defined]
STORED_TERMINAL = {"filled", "partially_filled", "canceled", "expired", "rejected"}
STORED_PENDING = {"new", "unknown", "open"}


@dataclass
class FaultyVenue:
    """``PerpExchange`` over a real paper venue; submits and look-ups take the next scripted
    answer (the truth once the script runs out). Counts the submits that reached the venue."""

    paper: PaperExchange
    submits: list[SubmitAnswer] = field(default_factory=list)
    lookups: list[LookupAnswer] = field(default_factory=list)
    sent: Counter[str] = field(default_factory=Counter)
    answered: dict[str, Order] = field(default_factory=dict)  # look-ups not the venue's truth
    illegal: set[str] = field(default_factory=set)  # intents answered with another's order

    def _to_venue(self, intent: OrderIntent, **kwargs: object) -> Order:
        self.sent[intent.client_order_id] += 1
        return self.paper.venue.submit(intent, **kwargs)  # type: ignore[arg-type]

    async def submit(self, intent: OrderIntent) -> Order:
        answer = self.submits.pop(0) if self.submits else "accepted"
        cid = intent.client_order_id
        away = replace(intent, limit_price=Decimal(9000 if intent.side is Side.SELL else 1000))
        match answer:
            case "accepted":
                return self._to_venue(intent)
            case "partial":
                return self._to_venue(intent, fill_fraction=Decimal("0.5"))
            case "expired":  # an IOC limit that does not cross
                return self._to_venue(away)
            case "resting":  # a limit that rests (GTC)
                return self._to_venue(away, time_in_force="GTC")
            case "rejected":
                raise errors.InvalidOrder("scripted refusal")
            case "rate_limited":
                raise errors.RateLimited("scripted 429", retry_after_s=0.0)
            case "timeout_after_send":
                self._to_venue(intent)
                raise errors.OrderOutcomeUnknown("scripted lost response", cid)
            case "timeout_before_send":
                raise errors.OrderOutcomeUnknown("scripted timeout, nothing sent", cid)
            case "duplicate_client_id":  # a first copy landed; the venue refuses the second
                self._to_venue(intent)
                raise errors.OrderOutcomeUnknown("duplicate client order id", cid)

    async def fetch_order(self, client_order_id: str) -> Order | None:
        answer = self.lookups.pop(0) if self.lookups else "truth"
        self.answered.pop(client_order_id, None)
        if isinstance(answer, OrderStatus):  # a status a real venue may report for its order
            true = await self.paper.fetch_order(client_order_id)
            if true is None:
                return None
            self.answered[client_order_id] = replace(true, status=answer)
            return self.answered[client_order_id]
        match answer:
            case "truth":
                return await self.paper.fetch_order(client_order_id)
            case "other_client_id":  # what no venue should answer
                true = await self.paper.fetch_order(client_order_id)
                if true is None:
                    return None
                self.illegal.add(client_order_id)
                return replace(true, client_order_id="someone-else")
            case "not_found":
                return None
            case "unavailable":
                raise errors.ExchangeUnavailable("scripted outage")
            case "rate_limited":
                raise errors.RateLimited("scripted 429", retry_after_s=0.0)

    async def start(self) -> None:
        await self.paper.start()

    async def close(self) -> None:
        await self.paper.close()

    async def market_rules(self) -> MarketRules:
        return await self.paper.market_rules()

    async def quote(self) -> MarketQuote:
        return await self.paper.quote()

    async def position(self) -> PerpPosition:
        return await self.paper.position()

    async def balance(self) -> AccountBalance:
        return await self.paper.balance()

    async def open_orders(self) -> list[Order]:
        return await self.paper.open_orders()

    async def cancel(self, client_order_id: str) -> None:
        await self.paper.cancel(client_order_id)

    async def fills(self, since_ms: int) -> list[Fill]:
        return await self.paper.fills(since_ms)

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        return await self.paper.funding_payments(since_ms)


@dataclass(frozen=True)
class Place:
    """Place one intent; the venue answers ``submit`` then the look-ups in ``lookups``."""

    side: Side
    submit: SubmitAnswer
    lookups: tuple[LookupAnswer, ...]


@dataclass(frozen=True)
class Settle:
    """Settle pending intents with these look-up answers."""

    lookups: tuple[LookupAnswer, ...]


@dataclass(frozen=True)
class VenueCancelsResting:
    """The venue (or an operator) cancels every resting order."""


Step = Place | Settle | VenueCancelsResting

lookups = st.lists(st.sampled_from(LOOKUP_ANSWERS), max_size=6).map(tuple)
steps = st.lists(
    st.one_of(
        st.builds(
            Place, st.sampled_from([Side.SELL, Side.BUY]), st.sampled_from(SUBMIT_ANSWERS), lookups
        ),
        st.builds(Settle, lookups),
        st.just(VenueCancelsResting()),
    ),
    min_size=1,
    max_size=8,
)


async def no_sleep(_: float) -> None:
    """The ledger's back-off, without waiting."""


async def stored_statuses(store: SqliteStore) -> dict[str, str]:
    rows = await store._db.execute_fetchall("SELECT client_order_id, status FROM intents")
    return {str(cid): str(status) for cid, status in rows}


async def assert_one_state_each(
    ledger: OrderLedger, store: SqliteStore, venue: FaultyVenue, placed: Iterable[str]
) -> None:
    """Every intent is pending in the ledger exactly when the store has it unresolved; the
    rest are terminal in the store; no intent reached the venue twice or has two orders."""
    statuses = await stored_statuses(store)
    pending = {i.client_order_id for i in ledger.pending_intents()}
    for cid in placed:
        status = statuses[cid]
        assert (status in STORED_PENDING) != (status in STORED_TERMINAL)
        assert (cid in pending) == (status in STORED_PENDING), (cid, status, pending)
    assert all(count <= 1 for count in venue.sent.values()), venue.sent
    log = Counter(o.client_order_id for o in venue.paper.venue.order_log())
    assert all(count == 1 for count in log.values())


def assert_left_pending(
    exc: IllegalVenueAnswer, ledger: OrderLedger, venue: FaultyVenue, cid: str | None = None
) -> None:
    """An illegal answer names an intent the venue answered illegally (never one a real
    venue's answer) and leaves it pending: looked up again, never re-sent."""
    assert cid is None or exc.client_order_id == cid
    assert exc.client_order_id in venue.illegal
    assert exc.client_order_id in {i.client_order_id for i in ledger.pending_intents()}


async def apply_step(
    step: Step, ledger: OrderLedger, venue: FaultyVenue, block: int, results: dict[str, object]
) -> str | None:
    """Run one step; the client id it placed, if any."""
    if isinstance(step, VenueCancelsResting):
        for order in await venue.open_orders():
            await venue.cancel(order.client_order_id)
        return None
    venue.lookups = list(step.lookups)
    if isinstance(step, Settle):
        try:
            for result in await ledger.settle_pending():
                results[result.intent.client_order_id] = result
        except IllegalVenueAnswer as exc:
            assert_left_pending(exc, ledger, venue)
        return None
    venue.submits = [step.submit] * (3 if step.submit == "rate_limited" else 1)
    intent = ledger.next_intent(block, step.side, Decimal("0.1"), reduce_only=False,
                                limit_price=None, reason="property")  # fmt: skip
    if ledger.pending:
        with pytest.raises(errors.OrderOutcomeUnknown, match="unresolved"):
            await ledger.place(intent)
        return None
    try:
        result = await ledger.place(intent)
    except IllegalVenueAnswer as exc:
        event(f"{step.submit} -> IllegalVenueAnswer")
        assert_left_pending(exc, ledger, venue, intent.client_order_id)
        return intent.client_order_id
    assert isinstance(result, Placed | Rejected | NotPlaced | Unknown)
    results[intent.client_order_id] = result
    event(f"{step.submit} -> {type(result).__name__}")
    if isinstance(result, Placed):
        answered = venue.answered.get(intent.client_order_id)  # a status the venue reported
        truth = await venue.paper.fetch_order(intent.client_order_id)
        assert result.order == (truth if answered is None else answered)
    return intent.client_order_id


async def run(script: list[Step], workdir: Path) -> None:
    clock = ManualClock()
    paper = PaperExchange(SimVenue(VenueParams(), clock), workdir / "venue.json")
    venue = FaultyVenue(paper)
    await venue.start()
    store = await SqliteStore.open(workdir / "store.sqlite")
    fast = LedgerSettings(resolve_backoff_s=0.0)
    try:
        ledger = OrderLedger(venue, store, "prop", clock, settings=fast, sleep=no_sleep)
        await ledger.open()
        placed: list[str] = []
        results: dict[str, object] = {}
        for block, step in enumerate(script, start=1):
            cid = await apply_step(step, ledger, venue, block, results)
            placed += [cid] if cid else []
            await assert_one_state_each(ledger, store, venue, placed)
        # a restart against a truthful venue settles everything, sending nothing new
        venue.submits, venue.lookups = [], []
        restarted = OrderLedger(venue, store, "prop", clock, settings=fast, sleep=no_sleep)
        await restarted.open()
        await restarted.reconcile_at_start()
        await assert_one_state_each(restarted, store, venue, placed)
        assert restarted.pending_intents() == ()
        assert set(venue.sent) <= set(placed)
        assert await venue.open_orders() == []
    finally:
        await store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_any_venue_answers_leave_each_intent_in_one_state_and_one_order(script: list[Step]) -> None:
    """Accepted, partly filled, expired, resting, rejected, rate limited, lost responses,
    timeouts, duplicate client ids, look-ups not found / found later / failing / answering
    any venue status / answering another order: every intent ends pending or terminal
    (ledger and store agree), none is sent twice."""
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(script, Path(tmp)))


def test_stored_statuses_cover_every_order_status() -> None:
    """The pending/terminal split of the store's status column covers every OrderStatus."""
    assert {s.value for s in OrderStatus} == STORED_PENDING | STORED_TERMINAL
