"""A NATS server with its MQTT listener, for the clustered-broker tests and benchmark.

NATS serves MQTT 3.1.1 only when JetStream is on and the server has a ``server_name``
(retained messages, sessions and QoS 1 live in JetStream streams). We start one on loopback
ports of our own with its JetStream store in a temporary directory, like
``bot.sim.mosquitto.start_broker`` does for Mosquitto. ``scripts/ensure-nats.sh`` installs the
Debian ``nats-server`` package where it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

from bot.sim.mosquitto import Broker, free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def nats_available() -> bool:
    """Whether the ``nats-server`` binary is installed."""
    return Path(NATS_SERVER).exists()


def start_nats(mqtt_port: int | None = None) -> Broker:
    """Start a private ``nats-server`` on 127.0.0.1 with JetStream and an MQTT listener.

    Returns a ``Broker`` whose ``host``/``port`` are the MQTT listener's (a free port unless
    given) and whose ``workdir`` holds the config, the JetStream store and the server log.
    Stop it with ``stop_nats``. Raises ``RuntimeError`` when the binary is missing or the
    server does not listen within 10 s (the log's tail is in the message).
    """
    if not nats_available():
        raise RuntimeError("nats-server is not installed (scripts/ensure-nats.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="hedgebot-nats-"))
    broker = Broker("127.0.0.1", mqtt_port or free_port(), workdir=workdir)
    config = workdir / "nats.conf"
    config.write_text(
        textwrap.dedent(
            f"""\
            server_name: hedgebot-test-{broker.port}
            listen: 127.0.0.1:{free_port()}
            jetstream {{
              store_dir: "{workdir / "jetstream"}"
            }}
            mqtt {{
              listen: 127.0.0.1:{broker.port}
            }}
            """
        )
    )
    broker.config = config
    try:
        restart_nats(broker)
    except RuntimeError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return broker


def restart_nats(broker: Broker) -> None:
    """(Re)start the process of a server from ``start_nats`` on the same ports and JetStream
    store (retained messages survive a restart). Raises ``RuntimeError`` with the log's tail
    when it does not listen within 10 s."""
    if broker.workdir is None or broker.config is None:
        raise RuntimeError("not a server from start_nats (no work dir or config)")
    log_file = broker.workdir / "nats.log"
    with log_file.open("ab") as log:
        broker.process = subprocess.Popen(  # noqa: S603 - fixed binary, our own config
            [NATS_SERVER, "-c", str(broker.config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        broker.wait_listening(timeout_s=10.0)
    except RuntimeError as exc:
        broker.stop()
        tail = log_file.read_text(errors="replace")[-600:]
        raise RuntimeError(f"nats-server did not start: {exc}; log: {tail}") from exc


def stop_nats(broker: Broker) -> None:
    """Stop a server from ``start_nats`` and remove its directory (store and log)."""
    broker.stop()
    if broker.workdir is not None:
        shutil.rmtree(broker.workdir, ignore_errors=True)
