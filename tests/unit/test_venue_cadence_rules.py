"""The lean venue cadence's pure rules (bot/engine/cadence.py): when the balance is kept,
when fills and funding history are due. Times are unix seconds, marks quote per base."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from bot.config import ExchangeConfig
from bot.domain import AccountBalance
from bot.engine.cadence import CadenceSettings, VenueCadence

BALANCE = AccountBalance("USDT", Decimal(100_000), Decimal(90_000))
MARK = Decimal(2000)
T0 = 1_700_000_000.0


def read_at(cadence: VenueCadence, now: float, mark: Decimal = MARK) -> None:
    cadence.new_tick()
    cadence.saw_balance(BALANCE, now, mark)


def test_no_balance_yet_is_read() -> None:
    assert VenueCadence().kept_balance(T0, MARK) is None


def test_a_balance_is_kept_below_its_age_and_read_at_it() -> None:
    cadence = VenueCadence()
    read_at(cadence, T0)
    assert cadence.kept_balance(T0 + 29.9, MARK) is BALANCE
    assert cadence.kept_balance(T0 + 30, MARK) is None
    assert cadence.kept_balance(T0 + 3600, MARK) is None


def test_a_mark_move_past_the_fraction_reads_the_balance_either_way() -> None:
    cadence = VenueCadence()
    read_at(cadence, T0)
    assert cadence.kept_balance(T0 + 1, Decimal(2010)) is BALANCE  # exactly 0.5 %: kept
    assert cadence.kept_balance(T0 + 1, Decimal("2010.01")) is None
    assert cadence.kept_balance(T0 + 1, Decimal("1989.99")) is None


def test_a_clock_gone_back_makes_the_age_unknown() -> None:
    cadence = VenueCadence()
    read_at(cadence, T0)
    assert cadence.kept_balance(T0 - 1, MARK) is None


def test_configured_age_and_move() -> None:
    cadence = VenueCadence(
        CadenceSettings(balance_interval_s=5.0, balance_refresh_move=Decimal("0.1"))
    )
    read_at(cadence, T0)
    assert cadence.kept_balance(T0 + 4, Decimal(2150)) is BALANCE
    assert cadence.kept_balance(T0 + 5, MARK) is None
    assert cadence.kept_balance(T0 + 1, Decimal(2201)) is None


def test_balance_read_this_tick_lasts_until_the_next_tick() -> None:
    cadence = VenueCadence()
    cadence.new_tick()
    assert not cadence.balance_read_this_tick
    cadence.saw_balance(BALANCE, T0, MARK)
    assert cadence.balance_read_this_tick
    cadence.new_tick()
    assert not cadence.balance_read_this_tick


def test_fills_on_the_first_tick_then_every_interval() -> None:
    cadence = VenueCadence()
    position = Decimal(-5)
    assert cadence.fills_due(T0, position)
    cadence.saw_fills(T0, position, read=True)
    assert not cadence.fills_due(T0 + 59, position)
    cadence.saw_fills(T0 + 59, position, read=False)
    assert cadence.fills_due(T0 + 60, position)
    assert cadence.fills_due(T0 - 1, position)  # clock gone back: read


def test_fills_on_an_own_order_tick_and_the_next_only() -> None:
    cadence = VenueCadence()
    position = Decimal(-5)
    cadence.saw_fills(T0, position, read=True)
    cadence.own_order()
    assert cadence.fills_due(T0 + 1, position)
    cadence.saw_fills(T0 + 1, position, read=True)
    assert cadence.fills_due(T0 + 2, position)
    cadence.saw_fills(T0 + 2, position, read=True)
    assert not cadence.fills_due(T0 + 3, position)


def test_an_order_placed_this_tick_has_its_fills_read_on_the_next_two_ticks() -> None:
    """The tick that places an order books its position from the order's answer and reads no
    fills, even though its position changed (unless the fills interval passed: when every
    tick trades, fills lag at most that); the next two ticks read them; then not."""
    cadence = VenueCadence()
    cadence.new_tick()
    cadence.saw_fills(T0, Decimal(-5), read=True)
    cadence.new_tick()
    cadence.own_order(placed=True)
    assert not cadence.fills_due(T0 + 1, Decimal(-7))  # moved by its own order: not now
    assert not cadence.fills_due(T0 + 59, Decimal(-7))
    assert cadence.fills_due(T0 + 60, Decimal(-7))  # past the interval: they lag no more
    cadence.saw_fills(T0 + 1, Decimal(-7), read=False)
    cadence.new_tick()
    assert cadence.fills_due(T0 + 2, Decimal(-7))
    cadence.saw_fills(T0 + 2, Decimal(-7), read=True)
    cadence.new_tick()
    assert cadence.fills_due(T0 + 3, Decimal(-7))
    cadence.saw_fills(T0 + 3, Decimal(-7), read=True)
    cadence.new_tick()
    assert not cadence.fills_due(T0 + 4, Decimal(-7))


def test_the_first_tick_reads_fills_even_when_it_places_an_order() -> None:
    cadence = VenueCadence()
    cadence.new_tick()
    cadence.own_order(placed=True)
    assert cadence.fills_due(T0, Decimal(-5))


def test_fills_when_the_position_changed_since_the_last_tick() -> None:
    cadence = VenueCadence()
    cadence.saw_fills(T0, Decimal(-5), read=True)
    assert not cadence.fills_due(T0 + 1, Decimal(-5))
    cadence.saw_fills(T0 + 1, Decimal(-5), read=False)
    assert cadence.fills_due(T0 + 2, Decimal(-4))
    cadence.saw_fills(T0 + 2, Decimal(-4), read=True)
    assert not cadence.fills_due(T0 + 3, Decimal(-4))


def test_funding_history_first_then_only_past_the_funding_time() -> None:
    cadence = VenueCadence()
    funding_at = int(T0) + 3600
    assert cadence.funding_due(T0)
    cadence.saw_funding(T0, funding_at)
    assert not cadence.funding_due(T0 + 10)
    assert not cadence.funding_due(funding_at - 1)
    assert cadence.funding_due(funding_at)
    cadence.saw_funding(funding_at, funding_at + 28_800)  # within grace: still waiting
    assert not cadence.funding_due(funding_at + 9)
    assert cadence.funding_due(funding_at + 10)  # retried: a venue posts payments late
    cadence.saw_funding(funding_at + 120, funding_at + 28_800)  # grace over: the next one
    assert not cadence.funding_due(funding_at + 200)
    assert not cadence.funding_due(funding_at + 28_799)
    assert cadence.funding_due(funding_at + 28_800)


def test_exchange_config_fields_default_and_reach_the_cadence() -> None:
    assert ExchangeConfig().cadence_settings() == CadenceSettings()
    config = ExchangeConfig(balance_interval_s=10, balance_refresh_move="0.01")
    assert config.cadence_settings().balance_interval_s == 10
    assert config.cadence_settings().balance_refresh_move == Decimal("0.01")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("balance_interval_s", 0),
        ("balance_interval_s", -1),
        ("balance_interval_s", 3601),
        ("balance_interval_s", float("nan")),
        ("balance_refresh_move", 0),
        ("balance_refresh_move", "-0.01"),
        ("balance_refresh_move", "0.51"),
        ("balance_refresh_move", "NaN"),
    ],
)
def test_exchange_config_fields_out_of_bounds_are_refused_by_name(
    field: str, value: object
) -> None:
    with pytest.raises(ValidationError, match=field):
        ExchangeConfig(**{field: value})
