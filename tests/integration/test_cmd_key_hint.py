"""``hedgebot cmd`` with another key than the bot's says so (issue 12 review 2 item 7): it
printed "ignored an ack with no valid signature" and then a bare timeout. Real broker, the
bot's real MQTT telemetry."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator

import pytest
from mqtt_support import TEST_OPERATOR_KEY, clear_retained
from mqtt_support import mqtt_broker as mqtt_broker  # a session fixture
from rich.console import Console

from bot.sim.mosquitto import Broker
from bot.telemetry.auth import OperatorKey
from bot.telemetry.commands import CommandValidator
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry
from bot.telemetry.operator_cmd import send_command

pytestmark = pytest.mark.integration

WRONG_KEY = OperatorKey("not-the-bots-key-0123456789abcdef0123")
HINT = (
    "hint: an ack answered this very command but not signed with your key: "
    "HEDGEBOT_OPERATOR_KEY probably differs from the key bot1 was started with"
)


@pytest.fixture
async def prefix(mqtt_broker: Broker) -> AsyncIterator[str]:
    """A topic prefix of this test only."""
    unique = f"hedgebot-keyhint/{uuid.uuid4().hex[:10]}"
    yield unique
    await clear_retained(mqtt_broker, unique)


async def _send(broker: Broker, prefix: str, key: OperatorKey) -> tuple[int, str]:
    console = Console(file=io.StringIO(), record=True, width=200)
    code = await send_command(
        broker.url, prefix, "bot1", "pause", {}, timeout_s=2, operator_key=key, console=console
    )
    return code, console.export_text()


async def test_cmd_with_another_key_than_the_bots_hints_at_the_key(
    mqtt_broker: Broker, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bot answers our exact message "bad signature", signed with its own key: exit 2 (no
    valid ack), and stderr says the operator key probably differs from the bot's."""
    settings = MqttSettings(url=mqtt_broker.url, topic_prefix=prefix + "/{bot_id}", timeout_s=3)
    validator = CommandValidator(operator_key=TEST_OPERATOR_KEY)
    async with MqttTelemetry(settings, "bot1", validator=validator) as telemetry:
        assert await telemetry.wait_connected(10)
        code, out = await _send(mqtt_broker, prefix, WRONG_KEY)
    err = capsys.readouterr().err
    assert code == 2
    assert "timeout: no ack from bot1" in out
    assert "ignored an ack with no valid signature" in err
    assert HINT in " ".join(err.split())


async def test_cmd_with_no_bot_listening_gives_no_key_hint(
    mqtt_broker: Broker, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No answer at all is a plain timeout: nothing suggests the key is wrong."""
    code, out = await _send(mqtt_broker, prefix, WRONG_KEY)
    err = capsys.readouterr().err
    assert code == 2
    assert "timeout: no ack from bot1" in out
    assert "hint:" not in err
