"""200 bots on one broker (issue 19, item 3): the bot's own telemetry code, unique client ids
and topics, loopback only, bounded in time; every retained state reaches a late subscriber.
Runs on Mosquitto and on NATS server. The messages/s figure is ``make bench``'s
(benchmarks/bench_fleet_mqtt.py); nothing here is timed."""

from __future__ import annotations

import pytest
from nats_support import both_brokers

from benchmarks.bench_fleet_mqtt import fleet_bot_id, fleet_round
from bot.sim.mosquitto import Broker

pytestmark = pytest.mark.integration

mqtt_broker = both_brokers()

BOTS = 200
ROUNDS = 3


async def test_two_hundred_bots_each_retained_state_reaches_a_late_subscriber(
    mqtt_broker: Broker,
) -> None:
    """Each of 200 bots publishes 3 blocks of state and events: a live subscriber gets every
    one, and a late subscriber gets every bot's last state and its retained ``online``."""
    result = await fleet_round(mqtt_broker, bots=BOTS, rounds=ROUNDS)
    every_bot = {fleet_bot_id(i) for i in range(BOTS)}
    assert result.late_states == dict.fromkeys(every_bot, ROUNDS)
    assert result.late_online == every_bot
    assert result.delivered_live >= 2 * BOTS * ROUNDS  # a state and an event per bot a block
