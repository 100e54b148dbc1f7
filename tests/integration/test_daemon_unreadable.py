"""`hedgebot run` with an existing but empty V2 pair in its config keeps running.

Before the fix the daemon exited with ``ValueError`` on its first tick, on every restart.
Uses the `hedgebot localnet` and daemon helpers of ``test_daemon``.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_daemon import (  # noqa: F401 - fixtures (broker, daemons, localnet, prefix) by name
    Daemon,
    Localnet,
    broker,
    daemons,
    eventually,
    localnet,
    make_daemon,
    prefix,
)
from unreadable_support import deploy_empty_v2_pair

from bot.sim.mosquitto import Broker

pytestmark = pytest.mark.integration


async def test_daemon_with_an_empty_pair_keeps_ticking_and_alerts(
    localnet: Localnet,  # noqa: F811
    broker: Broker,  # noqa: F811
    prefix: str,  # noqa: F811
    tmp_path: Path,
    daemons: list[Daemon],  # noqa: F811
) -> None:
    """Every tick fails (tick.failed) naming the empty pair, position.unreadable is alerted
    once for that cause, nothing is traded, the process stays up tick after tick, and SIGTERM
    still stops it cleanly (exit 0)."""
    world: dict[str, Any] = json.loads((localnet.out / "localnet.json").read_text())["contracts"]
    empty = await deploy_empty_v2_pair(
        world["rpc_url"], world["base_token"], world["quote_token"], world["deployer_account"]
    )
    daemon = make_daemon(localnet, tmp_path / "bot", prefix)
    config: dict[str, Any] = yaml.safe_load(daemon.config.read_text())
    config["positions"].append(
        {"id": "empty", "kind": "v2", "pool": empty, "owner": world["lp_account"]}
    )
    daemon.config.write_text(yaml.safe_dump(config, sort_keys=False))
    daemons.append(daemon)
    await daemon.start(broker.url)

    def failed_ticks() -> int:
        return sum(
            1
            for e in daemon.log_events()
            if e["event"] == "tick.failed" and "position empty" in e.get("error", "")
        )

    await eventually(lambda: failed_ticks() >= 4, timeout_s=40)
    assert daemon.proc is not None
    assert daemon.proc.returncode is None  # still running after several failed ticks
    unreadable = [e for e in daemon.log_events() if e["event"] == "position.unreadable"]
    empty_alerts = [e for e in daemon.log_events() if e["event"] == "position.empty"]
    assert await daemon.stop(signal.SIGTERM) == 0
    assert len(unreadable) == 2  # the start-up check, then once for the ticks' cause
    assert any(empty in str(e.get("error", "")) for e in unreadable)
    assert "empty reserve" in str(unreadable[-1]["error"])
    assert [e["field"] for e in empty_alerts] == ["positions.1.owner"]
    assert daemon.logged("tick.completed") == 0
    assert not (daemon.workdir / "venue.json").exists() or daemon.venue_orders() == 0
    alerts = daemon.count("SELECT COUNT(*) FROM events WHERE type = 'alert'")
    recorded_unreadable = daemon.count(
        "SELECT COUNT(*) FROM events WHERE type = 'alert' "
        "AND json_extract(body, '$.alert') = 'position.unreadable'"
    )
    assert alerts >= 3  # recorded for operators: unreadable and empty at start, the ticks' cause
    assert recorded_unreadable == 2  # once per cause, not once per failed tick
