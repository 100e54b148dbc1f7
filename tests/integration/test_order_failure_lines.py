"""One refused order, one warning: the ccxt adapter raises the refusal without logging it
(its detail stays at debug), and the ledger's ``order.rejected`` is the failure's one line.
Real ccxt ``binanceusdm`` against the emulator, the real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import started_exchange
from structlog.testing import capture_logs
from test_order_manager import intent, opened_ledger

from bot import errors
from bot.clock import ManualClock
from bot.domain import OrderIntent, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.exchange.ledger import Rejected
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def exchange(emulator: EmulatorHandle, clock: ManualClock) -> AsyncIterator[CcxtPerpExchange]:
    """The ccxt adapter on the emulator."""
    async with started_exchange(emulator, clock) as started:
        yield started


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An empty store."""
    opened = await SqliteStore.open(tmp_path / "store.sqlite")
    yield opened
    await opened.close()


async def refused_intent(exchange: CcxtPerpExchange, refusal: str) -> OrderIntent:
    """An intent the venue refuses: reduce-only with no position, or far past the margin."""
    if refusal == "reduce_only":
        return intent(1, Side.BUY, "0.5", reduce_only=True)
    balance = await exchange.balance()
    too_big = (balance.wallet_balance * 10 / Decimal(2000)).quantize(Decimal("0.001"))
    return intent(1, Side.SELL, str(too_big))


@pytest.mark.parametrize(
    ("refusal", "error"),
    [("reduce_only", errors.ReduceOnlyRejected), ("margin", errors.InsufficientMargin)],
)
async def test_a_refused_order_is_one_warning(
    exchange: CcxtPerpExchange,
    store: SqliteStore,
    clock: ManualClock,
    refusal: str,
    error: type[errors.ExchangeError],
) -> None:
    """The venue refuses the order: the ledger's result is Rejected with the mapped error,
    and the warnings are exactly one ``order.rejected`` naming the order and the cause (no
    ``order.failed`` from the adapter as well)."""
    ledger = await opened_ledger(exchange, store, clock)
    refused = await refused_intent(exchange, refusal)
    with capture_logs() as logs:
        result = await ledger.place(refused)
    assert isinstance(result, Rejected), result
    assert isinstance(result.error, error)
    warnings = [e for e in logs if e["log_level"] in {"warning", "error", "critical"}]
    assert [e["event"] for e in warnings] == ["order.rejected"]
    assert warnings[0]["client_order_id"] == refused.client_order_id
    assert str(result.error) in str(warnings[0]["error"])
