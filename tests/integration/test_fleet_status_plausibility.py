"""``hedgebot fleet status`` with a broker: a retained state's implausible values and an
unknown status are unknown (null, ``?``), never the peer's numbers (issue 18 review 2 item 9)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiomqtt
import pytest

from bot.cli import main
from bot.sim.mosquitto import Broker

pytestmark = pytest.mark.integration


async def _retain(broker: Broker, topic: str, payload: bytes) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.publish(topic, payload, qos=1, retain=True)


def _state(bot_id: str, **overrides: Any) -> bytes:
    state: dict[str, Any] = {
        "bot_id": bot_id,
        "block": 140,
        "timestamp": 1_700_000_000,
        "price": "2000",
        "delta_base": "2.5",
        "target_base": "-2.5",
        "hedge_base": "-2.4",
        "drift_base": "0.1",
        "band_base": "0.05",
        "pnl": {"net": "-12.345"},
        "published_at": time.time() - 3,
    }
    state.update(overrides)
    return json.dumps(state).encode()


def test_implausible_live_values_are_unknown(mqtt_broker: Broker, capsys: Any) -> None:
    """hedge 1e400, a negative band and net PnL -1e30 are null in --json (``?`` in the
    table) while the plausible values are kept; a status of ``\\xff`` bytes is unknown."""
    prefix = f"fleet-plaus/{uuid.uuid4().hex[:8]}"
    topics = {
        f"{prefix}/odd/state": _state(
            "odd", hedge_base="1e400", band_base="-1", pnl={"net": "-1e30"}
        ),
        f"{prefix}/odd/status": b"\xff" * 50,
    }

    async def seed(clear: bool) -> None:
        for topic, payload in topics.items():
            await _retain(mqtt_broker, topic, b"" if clear else payload)

    asyncio.run(seed(clear=False))
    try:
        args = ["fleet", "status", "--mqtt-url", mqtt_broker.url, "--prefix", prefix]
        assert main([*args, "--json"]) == 0
        (odd,) = json.loads(capsys.readouterr().out)["bots"]
        assert main(args) == 0
        table = capsys.readouterr().out
    finally:
        asyncio.run(seed(clear=True))
    assert (odd["hedge_base"], odd["band_base"], odd["net_pnl_quote"]) == (None, None, None)
    assert (odd["delta_base"], odd["drift_base"], odd["block"]) == ("2.5", "0.1", 140)
    assert odd["online"] is None
    row = next(line for line in table.splitlines() if line.startswith("odd"))
    assert "?" in row
    assert "E+" not in table
