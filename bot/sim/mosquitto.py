"""A Mosquitto broker for the local world: find a reachable one, or start our own.

Used by ``hedgebot demo`` and by the MQTT tests, so both run anywhere the ``mosquitto``
binary exists (``scripts/ensure-broker.sh`` installs it from Debian's packages).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import structlog

log = structlog.get_logger("hedgebot.mosquitto")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass
class Broker:
    """A reachable MQTT broker; ``process`` is set when we started it."""

    host: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    config: Path | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port``."""
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        """Start (or restart) our mosquitto process with its config."""
        assert self.config is not None
        self.process = subprocess.Popen(  # noqa: S603 - fixed binary, our own config
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """Stop our process (no-op for a broker we did not start)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_listening(self, timeout_s: float = 5.0) -> None:
        """Block until the port accepts connections (startup only, never on the event loop)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if reachable(self.host, self.port):
                return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}")
            time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def url_reachable(url: str) -> bool:
    """Whether the broker at ``mqtt://host:port`` accepts TCP connections."""
    parts = urlsplit(url)
    return reachable(parts.hostname or "127.0.0.1", parts.port or 1883)


def mosquitto_available() -> bool:
    """Whether the broker binary is installed."""
    return Path(MOSQUITTO).exists()


def start_broker(extra_conf: str = "", anonymous: bool = True, port: int | None = None) -> Broker:
    """Start a private mosquitto on 127.0.0.1 (a free port unless given)."""
    if not mosquitto_available():
        raise RuntimeError("mosquitto is not installed (scripts/ensure-broker.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="hedgebot-mqtt-"))
    workdir.chmod(0o755)
    broker = Broker("127.0.0.1", port or free_port(), workdir=workdir)
    config = workdir / "mosquitto.conf"
    config.write_text(
        textwrap.dedent(
            f"""\
            user {getpass.getuser()}
            listener {broker.port} 127.0.0.1
            allow_anonymous {"true" if anonymous else "false"}
            persistence false
            log_dest none
            """
        )
        + extra_conf
    )
    config.chmod(0o644)
    broker.config = config
    broker.start()
    broker.wait_listening()
    return broker


async def resolve_broker(stack: AsyncExitStack, url: str | None, quiet: bool = False) -> str | None:
    """The broker the demo publishes to: ``url``; else ``MQTT_URL`` or 127.0.0.1:1883 when
    reachable; else a mosquitto of our own (stopped with ``stack``); else None (no MQTT)."""
    if url:
        return url
    for candidate in (os.environ.get("MQTT_URL"), "mqtt://127.0.0.1:1883"):
        if candidate and url_reachable(candidate):
            return candidate
    if not mosquitto_available():
        if not quiet:
            log.warning("mqtt.off", reason="no broker reachable and mosquitto not installed")
        return None
    broker = start_broker()
    if broker.workdir is not None:  # after stop (callbacks run last-in first-out)
        stack.callback(shutil.rmtree, broker.workdir, True)
    stack.callback(broker.stop)
    return broker.url
