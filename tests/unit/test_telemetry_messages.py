"""MQTT payloads, metrics health and the monitor view (pure parts of bot/telemetry)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError
from rich.console import Console

from bot.clock import ManualClock
from bot.core.gate import MarginView
from bot.domain import (
    ChainSnapshot,
    Decision,
    MarketQuote,
    PerpPosition,
    PositionExposure,
    Side,
)
from bot.events import Event, TickFailed, TickState
from bot.telemetry.bridge import TelemetryBridge
from bot.telemetry.messages import (
    CommandAck,
    EventMessage,
    PnlParts,
    PositionState,
    StateMessage,
)
from bot.telemetry.metrics import Metrics, assess_health
from bot.telemetry.monitor import MonitorView, parse_params
from bot.telemetry.mqtt import MqttSettings, Topics

pytestmark = pytest.mark.unit

D = Decimal


def _state(**overrides: object) -> StateMessage:
    fields: dict[str, object] = {
        "bot_id": "b1",
        "block": 100,
        "timestamp": 1_700_000_000,
        "price": Decimal("2000.123456789012345678"),
        "delta_base": Decimal("1.5"),
        "target_base": Decimal("-1.5"),
        "hedge_base": Decimal("-1.4"),
        "drift_base": Decimal("0.1"),
        "band_base": Decimal("0.075"),
        "pnl": PnlParts(lp_fees=Decimal("3.25"), net=Decimal("-1.75")),
    }
    fields.update(overrides)
    return StateMessage.model_validate(fields)


def test_decimals_serialize_as_strings_without_precision_loss() -> None:
    """Money crosses the wire as strings, exactly."""
    body = json.loads(_state().to_json())
    assert body["schema_version"] == 1
    assert body["price"] == "2000.123456789012345678"
    assert body["pnl"]["net"] == "-1.75"
    assert body["margin_ratio"] is None
    assert StateMessage.model_validate_json(_state().to_json()) == _state()


def test_state_message_is_frozen_and_strict_about_fields() -> None:
    """Payload models are immutable and refuse unknown fields."""
    state = _state()
    with pytest.raises(ValidationError):
        state.block = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        _state(surprise=1)


def test_position_state_from_exposure() -> None:
    """The published position view copies the core exposure's fields."""
    exposure = PositionExposure(
        id="lp1",
        kind="v3",
        amount_base=Decimal(2),
        amount_quote=Decimal(4000),
        value_quote=Decimal(8000),
        delta_base=Decimal(2),
        gamma=Decimal("0.001"),
        price=Decimal(2000),
        in_range=False,
    )
    position = PositionState.from_exposure(exposure)
    assert position.id == "lp1"
    assert position.in_range is False
    assert json.loads(_state(positions=(position,)).to_json())["positions"][0]["kind"] == "v3"


def test_event_from_domain_dataclass() -> None:
    """A Decision becomes event data with enum values and decimal strings."""
    decision = Decision(
        action="rebalance",
        reason="drift above band",
        delta_base=Decimal(1),
        target_base=Decimal(-1),
        hedge_base=Decimal(0),
        drift_base=Decimal(1),
        band_base=Decimal("0.1"),
        order_side=Side.SELL,
        order_amount_base=Decimal(1),
        notes=("a",),
    )
    event = EventMessage.of("decision", 1.5, decision, block=7)
    body = json.loads(event.to_json())
    assert body["type"] == "decision"
    assert body["data"]["order_side"] == "sell"
    assert body["data"]["target_base"] == "-1"
    assert body["data"]["notes"] == ["a"]
    assert body["data"]["block"] == 7


def test_event_type_is_a_closed_set() -> None:
    """Consumers switch on ``type``: unknown types are refused at the source."""
    with pytest.raises(ValidationError):
        EventMessage(type="whatever", ts=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        EventMessage.of("alert", 0, {"not": "a dataclass"})


def test_command_ack_wire_form() -> None:
    """Acks carry id, status and reason."""
    ack = CommandAck(id="x", status="rejected", reason="no")
    assert json.loads(ack.to_json()) == {
        "schema_version": 1,
        "id": "x",
        "status": "rejected",
        "reason": "no",
    }


def test_healthz_before_first_tick_is_unhealthy() -> None:
    """No tick yet means unknown, and unknown is not healthy."""
    health = Metrics(max_tick_age_s=60, clock=ManualClock()).health()
    assert not health.ok
    assert health.body["reason"] == "no successful tick yet"


def test_healthz_follows_the_age_of_the_last_successful_tick() -> None:
    """Healthy until the last good tick is older than max_tick_age_s, whatever failed since."""
    clock = ManualClock(1000.0)
    metrics = Metrics(max_tick_age_s=60, clock=clock)
    metrics.observe_tick(0.2)
    assert metrics.health().ok
    clock.advance(59)
    metrics.observe_tick(0.3, ok=False)
    assert metrics.health().ok
    clock.advance(2)
    health = metrics.health()
    assert not health.ok
    assert "61.0s ago (max 60s)" in health.body["reason"]
    metrics.observe_tick(0.1)
    assert metrics.health().ok


def test_assess_health_is_pure() -> None:
    """The health rule is a function of times only."""
    assert assess_health(100.0, 50.0, 60.0).ok
    assert not assess_health(100.0, 39.0, 60.0).ok


def test_metrics_exposition_uses_its_own_registry() -> None:
    """Two Metrics objects never collide, and gauges reflect the state."""
    first, second = Metrics(), Metrics()
    first.observe_state(_state())
    first.observe_order("filled")
    first.observe_error("exchange")
    first.observe_skipped_blocks(2)
    first.observe_tick(0.05)
    text = first.exposition().decode()
    assert "hedgebot_delta_base 1.5" in text
    assert 'hedgebot_pnl_quote{part="lp_fees"} 3.25' in text
    assert 'hedgebot_orders_total{outcome="filled"} 1.0' in text
    assert 'hedgebot_errors_total{source="exchange"} 1.0' in text
    assert 'hedgebot_errors_total{source="broker"} 0.0' in text
    assert "hedgebot_skipped_blocks_total 2.0" in text
    assert "hedgebot_ticks_total 1.0" in text
    assert "hedgebot_tick_latency_seconds_count 1.0" in text
    assert "hedgebot_delta_base 0.0" in second.exposition().decode()


def test_mqtt_settings_validate_url_and_prefix() -> None:
    """Broker URL and topic prefix mistakes are caught at config load."""
    settings = MqttSettings(url="mqtts://broker.example")
    assert (settings.host, settings.port, settings.tls) == ("broker.example", 8883, True)
    assert MqttSettings(url="mqtt://h:1999").port == 1999
    for bad in ("http://h:1883", "mqtt://", "mqtt://h:notaport"):
        with pytest.raises(ValidationError):
            MqttSettings(url=bad)
    with pytest.raises(ValidationError):
        MqttSettings(topic_prefix="hedgebot/#")
    with pytest.raises(ValidationError):
        MqttSettings(reconnect_min_s=5, reconnect_max_s=1)
    assert "hunter2" not in repr(MqttSettings(password="hunter2"))
    assert Topics.for_bot("hedgebot/{bot_id}", "b7").cmd_ack == "hedgebot/b7/cmd/ack"


def test_monitor_view_renders_bots_and_events() -> None:
    """One line per bot with its numbers, and the latest events first."""
    view = MonitorView(prefix="hedgebot")
    view.apply("hedgebot/b1/status", b"online", 0)
    view.apply("hedgebot/b1/state", _state().to_json(), 0)
    view.apply("hedgebot/b2/status", b"offline", 0)
    view.apply("hedgebot/b2/state", b"{broken", 0)
    for i in range(12):
        event = EventMessage(type="alert", ts=1_700_000_000 + i, data={"n": i})
        view.apply("hedgebot/b1/events", event.to_json(), 0)
    view.apply("other/b9/status", b"online", 0)
    console = Console(record=True, width=160)
    console.print(view.render(1_700_000_030))
    text = console.export_text()
    assert "b1" in text
    assert "online" in text
    assert "30s" in text
    assert "1.5000" in text
    assert "-1.75" in text
    assert "b2" in text
    assert "bad state payload" in text
    assert "b9" not in text
    assert '{"n":11}' in text
    assert '{"n":1}' not in text
    assert len(view.events) == 10


def test_parse_params_reads_json_values() -> None:
    """--param values are JSON when they parse, strings otherwise."""
    assert parse_params(["value=0.8", "confirm=true", "name=abc"]) == {
        "value": 0.8,
        "confirm": True,
        "name": "abc",
    }
    with pytest.raises(ValueError, match="key=value"):
        parse_params(["oops"])


def _engine_state(block: int = 5) -> TickState:
    """The typed state of a tick as the engine hands it over (one V2 position)."""
    lp = PositionExposure("lp", "v2", D(1), D(2000), D(4000), D(1), D(0), D(2000))
    decision = Decision(
        "hold", "within band", D(1), D(-1), D("-0.9"), D("0.1"), D("0.05"), notes=()
    )
    return TickState(
        bot_id="b1",
        block=block,
        snapshot=ChainSnapshot(block, 1_700_000_000, "0xabc", D(2000), (lp,)),
        quote=MarketQuote("ETH/USDT:USDT", D(2001), D(2001), D("0.0001"), 0, 0),
        position=PerpPosition("ETH/USDT:USDT", D("-0.9"), D(2000), D(2001), D(0), D(100), None, 3),
        decision=decision,
        pnl={},
        margin=MarginView(None, None, None),
        paused=False,
        flattening=False,
    )


@dataclass(frozen=True, slots=True)
class _Exploded(Event):
    """An event whose kind is outside the MQTT contract."""

    wire_type: ClassVar[str] = "order.exploded"

    def data(self) -> dict[str, Any]:
        return {}


def test_bridge_turns_engine_dicts_into_typed_payloads() -> None:
    """The engine's typed state becomes a StateMessage and moves the gauges."""
    metrics = Metrics()
    bridge = TelemetryBridge(metrics=metrics, clock=ManualClock())
    bridge.publish_state(_engine_state())
    assert "hedgebot_hedge_base -0.9" in metrics.exposition().decode()
    assert bridge.invalid_payloads == 0


def test_bridge_drops_invalid_payloads_without_raising() -> None:
    """A malformed state or an unknown event type is counted, never raised into the tick."""
    bridge = TelemetryBridge(metrics=Metrics())
    bridge.publish_state(_engine_state(block=-1))
    bridge.publish_event(_Exploded())
    assert bridge.invalid_payloads == 2


def test_bridge_counts_error_events_by_source() -> None:
    """Error events from the chain/exchange/broker feed errors_total."""
    metrics = Metrics()
    bridge = TelemetryBridge(metrics=metrics)
    bridge.publish_event(TickFailed("chain", "timeout"))
    assert 'hedgebot_errors_total{source="chain"} 1.0' in metrics.exposition().decode()
