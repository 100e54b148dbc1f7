"""The running safety net behind the start-up signer check: an order the venue answered as
filled, of which no fill ever reaches the bot's account, is a position mismatch.

An agent (API wallet) key approved for another master trades that master's account whatever
wallet the client reads: the bot's own account stays flat and shows no fill, and without the
net the bot would sell again every tick. The real ccxt hyperliquid client against the
emulator serving two masters (the agent's orders trade OTHER_MASTER's simulated account),
the real SQLite store; the start-up ``check_signer`` (which refuses such a key) is bypassed
so the running net is what is proven."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import HL_AGENT, HL_MASTER, HL_SYMBOL, MARK, hyperliquid_settings
from eth_account import Account
from eth_account.signers.local import LocalAccount
from structlog.testing import capture_logs

from bot.clock import ManualClock
from bot.domain import OrderIntent, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.ccxt import adapter as ccxt_adapter
from bot.exchange.client_ids import client_order_id
from bot.exchange.emulators.hyperliquid import HyperliquidHandle, start_hyperliquid_emulator
from bot.exchange.ledger import OrderLedger, Placed
from bot.exchange.ledger_checks import BASELINE_SEQ
from bot.exchange.position_check import OnMismatch
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

OTHER_MASTER: LocalAccount = Account.from_key("0x" + "c1" * 32)
OTHER_AGENT: LocalAccount = Account.from_key("0x" + "c2" * 32)
BOT = "unfilled-test"


@pytest.fixture
async def venue(clock: ManualClock) -> AsyncIterator[HyperliquidHandle]:
    """HL_MASTER's account (HL_AGENT approved) and OTHER_MASTER with OTHER_AGENT."""
    handle = await start_hyperliquid_emulator(
        "127.0.0.1",
        0,
        HL_MASTER.address,
        clock,
        agents=[HL_AGENT.address],
        other_masters={OTHER_MASTER.address: [OTHER_AGENT.address]},
    )
    handle.set_mark(MARK)
    try:
        yield handle
    finally:
        await handle.close()


@pytest.fixture
async def exchange(
    venue: HyperliquidHandle, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CcxtPerpExchange]:
    """HL_MASTER's wallet signed by OTHER_AGENT's key, the start's signer check bypassed."""

    async def no_signer_check(_calls: object) -> None:
        return None

    monkeypatch.setattr(ccxt_adapter, "check_signer", no_signer_check)
    started = CcxtPerpExchange(hyperliquid_settings(venue, agent=OTHER_AGENT), clock)
    await started.start()
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "store.sqlite")
    yield opened
    await opened.close()


def sell(seq: int, amount: str) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id(BOT, 100, seq),
        symbol=HL_SYMBOL,
        side=Side.SELL,
        amount_base=Decimal(amount),
        reduce_only=False,
        limit_price=Decimal(1900),
    )


async def opened(
    exchange: CcxtPerpExchange, store: SqliteStore, clock: ManualClock, rule: OnMismatch
) -> OrderLedger:
    ledger = OrderLedger(exchange, store, BOT, clock, on_mismatch=rule)
    await ledger.open()
    return ledger


async def test_a_filled_order_whose_fill_never_reaches_the_account_is_a_mismatch(
    venue: HyperliquidHandle, exchange: CcxtPerpExchange, store: SqliteStore, clock: ManualClock
) -> None:
    """The venue answers the bot's 0.5 sell as filled; it traded OTHER_MASTER's account.
    The bot's account is flat with no fill: the running check expects -0.5 from the
    ledger's record, alerts position.mismatch naming the order and pauses; a restart
    pauses on it too."""
    ledger = await opened(exchange, store, clock, "pause")
    result = await ledger.place(sell(1, "0.5"))
    assert isinstance(result, Placed), result
    assert result.order.filled_base == Decimal("0.5")
    other = venue.emulator.actions.other_books[OTHER_MASTER.address.lower()]
    assert other.venue.position().size_base == Decimal("-0.5")  # where the order went
    assert venue.emulator.venue.order_log() == []  # the wallet's account saw nothing
    venue_position = (await exchange.position()).size_base
    assert venue_position == 0
    assert await exchange.fills(0) == []

    with capture_logs() as logs:
        check = await ledger.check_position(venue_position)
    assert not check.ok
    assert check.action == "paused"
    assert check.expected_position_base == Decimal("-0.5")
    assert [o.client_order_id for o in check.unfilled_orders] == [sell(1, "0.5").client_order_id]
    [alert] = [e for e in logs if e["event"] == "position.mismatch"]
    assert alert["unfilled_orders"] == [sell(1, "0.5").client_order_id]
    assert alert["venue_position_base"] == "0"

    reconciled = await (await opened(exchange, store, clock, "pause")).reconcile_at_start()
    assert reconciled.action == "paused"
    assert "no fill of it reached this account" in " ".join(reconciled.findings.mismatches)


async def test_adopting_takes_the_unfilled_order_into_the_baseline_once(
    venue: HyperliquidHandle, exchange: CcxtPerpExchange, store: SqliteStore, clock: ManualClock
) -> None:
    """With ``adopt`` the flat account becomes the baseline with the order in it (its
    sequence kept): the next check is clean, and the next such order is a mismatch again."""
    ledger = await opened(exchange, store, clock, "adopt")
    assert isinstance(await ledger.place(sell(1, "0.5")), Placed)
    adopted = await ledger.check_position(Decimal(0))
    assert adopted.action == "adopted"
    assert await store.get(BASELINE_SEQ) == 1
    assert (await ledger.check_position(Decimal(0))).ok

    assert isinstance(await ledger.place(sell(2, "0.2")), Placed)
    again = await ledger.check_position((await exchange.position()).size_base)
    assert again.action == "adopted"
    assert again.expected_position_base == Decimal("-0.2")
    assert [o.client_order_id for o in again.unfilled_orders] == [sell(2, "0.2").client_order_id]
