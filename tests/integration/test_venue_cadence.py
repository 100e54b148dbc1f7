"""The lean venue cadence (issue 16 item 2) on the real stack: a real anvil pool, the real ccxt
``binanceusdm`` client over HTTP against the Binance emulator, every request the client sends
counted by endpoint (``RestCalls``).

A quiet tick reads the mark and the position only; the book and a fresh balance come before an
order is sized; a kept balance is never used past its age or mark move; funding history is
read once a funding time has passed; fills after an own order and after a foreign position
change.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from cadence_support import CadenceRig, cadence_rig
from emulator_support import raw_ccxt_client
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from bot.killswitch import FileKillSwitch
from bot.sim.anvil import Anvil
from bot.telemetry.bridge import TelemetryBridge
from bot.telemetry.metrics import Metrics, count_venue_calls

pytestmark = pytest.mark.integration

QUIET = ["premiumIndex", "positionRisk"]  # the mark (funding-rate endpoint) and the position


async def opened(rig: CadenceRig) -> None:
    """The opening hedge, then the tick after it (which reads fills once more)."""
    first = await rig.tick()
    assert "order" in first
    assert rig.orders() == 1
    assert "userTrades" in await rig.tick(await rig.quiet_block(2))


async def test_a_quiet_tick_reads_the_mark_and_the_position_only(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Opened and settled, every quiet tick within the balance age and the fills interval
    sends exactly two requests; no order, book, balance, fills or funding read."""
    async with cadence_rig(anvil_node, tmp_path) as rig:
        await opened(rig)
        quiet = [await rig.tick(await rig.quiet_block(3)) for _ in range(5)]
        orders = rig.orders()
    assert quiet == [QUIET] * 5
    assert all(len(calls) <= 2 for calls in quiet)
    assert orders == 1


async def test_a_trading_tick_reads_the_book_and_the_balance_before_its_order(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The pool moves 8 %: the tick reads the mark, the position, the balance (the mark moved
    past 0.5 %), then the book alone (the mark is not read again) and places the order: five
    requests. The position after the fill is the order's answer (no re-read), and it is the
    venue's position exactly; the order's fills are read and stored by the next two ticks."""
    async with cadence_rig(anvil_node, tmp_path) as rig:
        await opened(rig)
        fills_before = await rig.bot.store.count("fills")
        block = await rig.move(rig.world.target_price * Decimal("1.08"))
        report, calls = await rig.calls_of(rig.bot.engine.tick(block))
        venue_position = await rig.exchange.position()
        fills_on_the_tick = await rig.bot.store.count("fills")
        after = await rig.tick(await rig.quiet_block(2))
        fills_after = await rig.bot.store.count("fills")
        again = await rig.tick(await rig.quiet_block(2))
        settled = await rig.tick(await rig.quiet_block(2))
        orders = rig.orders()
        venue_fills = await rig.exchange.fills(0)
    assert orders == 2
    assert calls == [
        "premiumIndex", "positionRisk", "account",  # the read step (balance: mark moved)
        "depth",  # sharpen: the book only, added to the read step's mark (order_book)
        "order",  # act: the position after it is the order's answer
    ]  # fmt: skip
    assert calls.count("premiumIndex") == 1  # the mark is read once per tick
    assert calls.index("depth") < calls.index("order")
    assert calls.index("account") < calls.index("order")
    assert report is not None
    assert report.position.size_base == venue_position.size_base
    assert report.position.entry_price == venue_position.entry_price
    assert fills_on_the_tick == fills_before  # booked by the next tick, not lost
    assert after == [*QUIET, "userTrades"]
    assert fills_after == len(venue_fills) > fills_before
    assert "userTrades" in again  # a venue may list a trade late
    assert settled == QUIET


async def test_a_kept_balance_is_read_again_past_its_age_and_its_mark_move(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Kept 20 s: not read; 31 s after its read: read again; a 0.6 % mark move (inside the
    band, no order): read again."""
    async with cadence_rig(anvil_node, tmp_path) as rig:
        await opened(rig)
        kept = await rig.tick(await rig.quiet_block(20))
        aged = await rig.tick(await rig.quiet_block(11))
        after_read = await rig.tick(await rig.quiet_block(3))
        moved = await rig.tick(await rig.move(rig.world.target_price * Decimal("1.006")))
        orders = rig.orders()
    assert "account" not in kept
    assert aged == [*QUIET, "account"]
    assert after_read == QUIET
    assert "account" in moved
    assert "order" not in moved
    assert orders == 1


async def test_the_balance_age_is_the_configured_one(anvil_node: Anvil, tmp_path: Path) -> None:
    """``exchange.balance_interval_s: 5``: a quiet tick 6 s after the read reads it again."""
    async with cadence_rig(anvil_node, tmp_path, balance_interval_s=5.0) as rig:
        await opened(rig)
        aged = await rig.tick(await rig.quiet_block(6))
    assert aged == [*QUIET, "account"]


async def test_a_failed_balance_re_read_fails_the_tick_and_places_nothing(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The kept balance is past its age and its read fails: the tick fails (unknown is not
    zero), no order; the next tick reads it and completes."""
    async with cadence_rig(anvil_node, tmp_path) as rig:
        await opened(rig)
        rig.emulator.fail_next_request("GET", "/fapi/v3/account")
        block = await rig.quiet_block(31)
        report, calls = await rig.calls_of(rig.bot.engine.tick(block))
        error = rig.bot.engine.stats.last_error
        again = await rig.tick(await rig.quiet_block(1))
        orders = rig.orders()
    assert report is None
    assert error is not None
    assert calls[-1] == "account"
    assert again == [*QUIET, "account"]
    assert orders == 1


async def test_an_order_is_never_placed_on_a_kept_balance_whose_re_read_failed(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """A mark move of 8 % kept the balance (``balance_refresh_move: 0.2``), so the order's
    own balance read is the only one; it fails: the tick fails, nothing is placed; the next
    tick reads it and places the order."""
    async with cadence_rig(anvil_node, tmp_path, balance_refresh_move=Decimal("0.2")) as rig:
        await opened(rig)
        rig.emulator.fail_next_request("GET", "/fapi/v3/account")
        block = await rig.move(rig.world.target_price * Decimal("1.08"))
        report, calls = await rig.calls_of(rig.bot.engine.tick(block))
        failed_orders = rig.orders()
        again = await rig.tick(await rig.quiet_block(1))
        orders = rig.orders()
    assert report is None
    assert calls == [*QUIET, "depth", "account"]  # the book alone: no second mark read
    assert failed_orders == 1
    assert again.index("account") < again.index("order")
    assert orders == 2


async def test_funding_history_is_read_once_a_funding_time_passed_and_not_before(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """After the first tick's read, no funding-history request until the venue's next
    funding time; the first tick past it reads it (and stores the payment), a tick 3 s later
    does not."""
    async with cadence_rig(anvil_node, tmp_path) as rig:
        await opened(rig)
        funding_at = (await rig.exchange.mark_quote()).next_funding_ts
        rig.clock.set(float(funding_at - 5))
        before = await rig.tick(await rig.quiet_block(0))
        rig.clock.set(float(funding_at + 1))
        past = await rig.tick(await rig.quiet_block(0))
        later = await rig.tick(await rig.quiet_block(3))
        funding = (await rig.bot.store.totals())["funding_quote"]
    assert "income" not in before
    assert "income" in past
    assert "income" not in later
    assert funding != 0


async def test_fills_are_read_after_an_own_order_and_after_a_foreign_position_change(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Own order: fills read on its tick and the next, then not. A manual sell on the account
    (no client id): the next tick sees the position changed and reads the fills."""
    async with cadence_rig(anvil_node, tmp_path) as rig:
        trading = await rig.tick()
        after = await rig.tick(await rig.quiet_block(2))
        quiet = await rig.tick(await rig.quiet_block(2))
        async with raw_ccxt_client(rig.emulator) as client:
            client.handle_client_order_id = lambda params, *_: params  # as the web app: none
            await client.fapiPrivatePostOrder(
                {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": "1"}
            )
        foreign = await rig.tick(await rig.quiet_block(2))
        settled = await rig.tick(await rig.quiet_block(2))
    assert "userTrades" in trading
    assert "userTrades" in after
    assert quiet == QUIET
    assert "userTrades" in foreign
    assert "userTrades" not in settled


async def test_protect_blind_sizes_its_order_with_the_book_and_a_fresh_balance(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """No block at all (``protect_blind``): the kill switch's flatten is sized on the quote
    with the book, as before the lean cadence, and the balance read in the same tick."""
    async with cadence_rig(anvil_node, tmp_path) as rig:
        await opened(rig)
        engine = rig.bot.engine
        switch = FileKillSwitch(engine.guard.kill_switch.path, rig.clock)
        switch.engage("flatten", "operator flatten", "file")
        rig.clock.advance(2)
        _, calls = await rig.calls_of(engine.protect_blind())
        position = await rig.exchange.position()
        orders = rig.emulator.venue.order_log()
    assert "depth" in calls
    assert "order" in calls
    assert calls.index("depth") < calls.index("order")
    assert calls.index("account") < calls.index("order")
    assert len(orders) == 2
    assert orders[-1].reduce_only
    assert position.size_base == 0


def venue_call_samples(metrics: Metrics) -> dict[str, float]:
    """``hedgebot_venue_rest_calls_total`` per endpoint, parsed from the exposition."""
    text = metrics.exposition().decode()
    return {
        sample.labels["endpoint"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "hedgebot_venue_rest_calls"
        for sample in family.samples
        if sample.name == "hedgebot_venue_rest_calls_total"
    }


async def test_rest_calls_are_a_prometheus_counter_and_a_figure_of_the_tick_line(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The daemon's wiring (``count_venue_calls`` on its telemetry bridge) exposes the
    client's own counts per endpoint, which grow by exactly a quiet tick's two requests; the
    ``tick.completed`` line carries ``venue_calls``, the tick's count."""
    async with cadence_rig(anvil_node, tmp_path) as rig:
        metrics = Metrics()
        count_venue_calls(TelemetryBridge(metrics=metrics), rig.exchange)
        count_venue_calls(TelemetryBridge(metrics=metrics), rig.exchange)  # once only
        await opened(rig)
        before = venue_call_samples(metrics)
        client_counts = dict(rig.rest.by_endpoint())
        with capture_logs() as logs:
            calls = await rig.tick(await rig.quiet_block(3))
        after = venue_call_samples(metrics)
    assert before == {k: float(v) for k, v in client_counts.items()}
    assert after["premiumIndex"] == before["premiumIndex"] + 1
    assert after["positionRisk"] == before["positionRisk"] + 1
    assert {k: v for k, v in after.items() if k not in ("premiumIndex", "positionRisk")} == {
        k: v for k, v in before.items() if k not in ("premiumIndex", "positionRisk")
    }
    completed = [line for line in logs if line["event"] == "tick.completed"]
    assert [line["venue_calls"] for line in completed] == [len(calls)] == [2]


def test_a_venue_that_counts_nothing_has_no_series() -> None:
    """The paper venue has no REST client: no series at all (unknown is not zero)."""
    metrics = Metrics()
    count_venue_calls(TelemetryBridge(metrics=metrics), object())
    count_venue_calls(None, object())
    assert venue_call_samples(metrics) == {}
