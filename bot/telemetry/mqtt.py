"""MQTT telemetry over aiomqtt: retained status and state, events, commands in, acks out.

Runs as one background task that owns the connection. Nothing the broker does (down,
restarting, refusing our credentials) raises into the engine: publishing never blocks, the
task reconnects with exponential backoff, and the counters/``last_error`` say what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections import deque
from types import TracebackType
from typing import Literal, Protocol

import aiomqtt
import structlog
from paho.mqtt.subscribeoptions import SubscribeOptions

from bot.clock import WallClock
from bot.errors import ConfigError
from bot.ports import Clock
from bot.safety import mask_url
from bot.telemetry.auth import OPERATOR_KEY_ENV
from bot.telemetry.command_text import echo
from bot.telemetry.commands import Command, CommandValidator
from bot.telemetry.inbox import CommandInbox, CommandLedger
from bot.telemetry.messages import EventMessage, StateMessage
from bot.telemetry.settings import MqttSettings, Topics, broker_url_problem

__all__ = ["ConnectionStatus", "ErrorCounter", "MqttSettings", "MqttTelemetry", "Topics"]

_log = structlog.get_logger("hedgebot.telemetry.mqtt")

# CONNACK refusals that mean "fix the credentials", as MQTT 3.1.1 codes and MQTT 5 reason codes
_AUTH_CODES = frozenset({4, 5, 134, 135})
# CONNACK refusals of the protocol version (3.1.1: 1 unacceptable version; 5: 132 unsupported)
_VERSION_CODES = frozenset({1, 132})

ConnectionStatus = Literal[
    "idle", "connecting", "connected", "disconnected", "auth_failed", "stopped"
]


def tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
    """The TLS context ``settings`` ask for (CA, client certificate), or None for plain TCP."""
    if not settings.tls:
        return None
    context = ssl.create_default_context(cafile=str(settings.tls_ca) if settings.tls_ca else None)
    if settings.tls_cert is not None and settings.tls_key is not None:
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


class ErrorCounter(Protocol):
    """Where broker errors are counted (``Metrics.observe_error`` fits)."""

    def observe_error(self, source: Literal["chain", "exchange", "broker"]) -> None:
        """Count one error from ``source``."""
        ...


class _CleanStop(Exception):
    """Raised inside a connection's task group to end it after a clean stop."""


class MqttTelemetry:
    """Publishes the bot's status, state and events, and receives its commands.

    Use ``async with MqttTelemetry(settings, bot_id) as telemetry:`` or ``start()``/``stop()``.
    Valid commands arrive on ``commands``; the engine acknowledges each with ``ack()``. Acks
    are signed with the validator's operator key and bound to the message they answer
    (``bot.telemetry.inbox``). ``ledger`` records ids used up before the engine saw them.
    Speaks MQTT 5 (retained commands keep their flag: ``retain_as_published``) and falls back
    to 3.1.1 with a warning when the broker refuses it. Raises ``ConfigError`` for a broker URL
    that carries credentials (they belong in ``username`` and the environment).
    """

    def __init__(
        self,
        settings: MqttSettings,
        bot_id: str,
        *,
        validator: CommandValidator | None = None,
        errors: ErrorCounter | None = None,
        clock: Clock | None = None,
        ledger: CommandLedger | None = None,
    ) -> None:
        problem = broker_url_problem(settings.url)
        if problem is not None:
            raise ConfigError(f"mqtt.url {mask_url(settings.url)}: {problem}")
        self.settings = settings
        self.bot_id = bot_id
        self.topics = Topics.for_bot(settings.topic_prefix, bot_id)
        self.validator = validator if validator is not None else CommandValidator()
        self.status: ConnectionStatus = "idle"
        self.last_error: str | None = None
        self.connect_errors = 0
        self.dropped_events = 0
        self.published_events = 0
        self.mqtt5 = True  # until a broker refuses it (then MQTT 3.1.1, warned once)
        self._errors = errors
        self._clock: Clock = clock if clock is not None else WallClock()
        self._latest_state: bytes | None = None
        self._state_dirty = False
        self._events: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._inbox = CommandInbox(
            self.topics,
            self.validator,
            queue_size=settings.command_queue_size,
            clock=self._clock,
            publish_event=self.publish_event,
            wake=self._wake.set,
            ledger=ledger,
        )
        # valid, signed, fresh commands for the engine, in arrival order
        self.commands: asyncio.Queue[Command] = self._inbox.commands
        self._stop_requested = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> MqttTelemetry:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the background connection task (returns at once; see ``wait_connected``)."""
        if self._task is None:
            self._warn_about_authority()
            self._task = asyncio.create_task(self._run(), name=f"mqtt-telemetry-{self.bot_id}")

    def _warn_about_authority(self) -> None:
        if self.validator.operator_key is None:
            _log.warning(
                "command.auth_disabled",
                reason=f"{OPERATOR_KEY_ENV} is not set: every command is refused",
            )
        if self.settings.username is None:
            _log.warning(
                "mqtt.anonymous_broker",
                broker=self._where(),
                risk="any client that reaches this broker can read the bot's telemetry, "
                "publish fake state, events and acks, and flood the command topic (commands "
                "still need the operator key); set mqtt.username and a broker password/ACL",
            )

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Flush what is queued, publish retained ``offline`` and disconnect cleanly."""
        task = self._task
        if task is None:
            return
        self._stop_requested.set()
        self._wake.set()
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self.status = "stopped"

    @property
    def connected(self) -> bool:
        """Whether a broker connection is up now."""
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> bool:
        """Wait until connected; False when ``timeout_s`` passed first."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    # ---- what the engine calls -------------------------------------------------------------

    def publish_state(self, state: StateMessage) -> None:
        """Replace the retained state; only the latest is kept. Never blocks. Signed with the
        operator key when there is one (``sig``, docs/mqtt.md): only a signed, fresh state
        keeps a second instance of the bot id from starting (``bot.telemetry.peers``)."""
        key = self.validator.operator_key
        if key is not None:
            state = state.signed_by(key, self.topics.state)
        self._latest_state = state.to_json()
        self._state_dirty = True
        self._wake.set()

    def publish_event(self, event: EventMessage) -> None:
        """Queue an event; dropped (and counted) when the broker is down or the queue is full."""
        if not self.connected or len(self._events) >= self.settings.event_queue_size:
            self.dropped_events += 1
            return
        self._events.append(event.to_json())
        self._wake.set()

    @property
    def refused_commands(self) -> int:
        """Messages on ``cmd`` refused so far."""
        return self._inbox.refused_commands

    async def ack(self, command_id: str, ok: bool, reason: str | None = None) -> None:
        """Report the outcome of an applied (``ok``) or refused command on ``cmd/ack``."""
        await self._inbox.ack(command_id, ok, reason)

    # ---- connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        backoff_s = self.settings.reconnect_min_s
        while not self._stop_requested.is_set():
            self.status = "connecting"
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                backoff_s = self._on_connection_error(exc, backoff_s)
            except Exception as exc:  # noqa: BLE001 - telemetry must never take the bot down
                backoff_s = self._on_connection_error(exc, backoff_s)
            else:
                return
            finally:
                self._connected.clear()
            delay_s = backoff_s * random.uniform(0.8, 1.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay_s):
                    await self._stop_requested.wait()
            backoff_s = min(backoff_s * 2, self.settings.reconnect_max_s)

    def _on_connection_error(self, exc: Exception, backoff_s: float) -> float:
        was_connected = self._connected.is_set()
        code = getattr(getattr(exc, "rc", None), "value", getattr(exc, "rc", None))
        if not was_connected and self.mqtt5 and isinstance(code, int) and code in _VERSION_CODES:
            # a broker speaking 3.1.1 only (NATS server, older brokers): a protocol choice,
            # not an error; counted nowhere
            self.mqtt5 = False
            self.last_error = f"broker refused MQTT 5: {exc}"
            _log.warning(
                "mqtt.v5_refused",
                broker=self._where(),
                fallback="MQTT 3.1.1",
                risk="a retained command published while the bot is online arrives without "
                "its retain flag: it is handled as a live command and stays on the broker "
                "until the next subscription clears it",
            )
            return self.settings.reconnect_min_s
        self.connect_errors += 1
        if self._errors is not None:
            self._errors.observe_error("broker")
        if not was_connected and isinstance(code, int) and code in _AUTH_CODES:
            self.status = "auth_failed"
            self.last_error = f"broker refused credentials: {exc}"
            _log.error(
                "mqtt.auth_failed",
                broker=self._where(),
                username=self.settings.username,
                reason=str(exc),
                retry_in_s=round(backoff_s, 2),
            )
            return backoff_s
        self.status = "disconnected"
        self.last_error = f"{type(exc).__name__}: {exc}"
        if was_connected:
            cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
            _log.warning("mqtt.disconnected", broker=self._where(), reason=f"{exc}{cause}")
            return self.settings.reconnect_min_s
        _log.warning(
            "mqtt.connect_failed",
            broker=self._where(),
            reason=self.last_error,
            retry_in_s=round(backoff_s, 2),
        )
        return backoff_s

    def _client(self) -> aiomqtt.Client:
        settings = self.settings
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            identifier=settings.client_id or f"hedgebot-{self.bot_id}",
            will=aiomqtt.Will(self.topics.status, b"offline", qos=settings.qos, retain=True),
            keepalive=settings.keepalive_s,
            timeout=settings.timeout_s,
            tls_context=tls_context(settings),
            protocol=aiomqtt.ProtocolVersion.V5 if self.mqtt5 else aiomqtt.ProtocolVersion.V311,
        )

    async def _session(self) -> None:
        """One connection, from CONNACK to disconnect or clean stop."""
        qos = self.settings.qos
        async with self._client() as client:
            await client.publish(self.topics.status, b"online", qos=qos, retain=True)
            if self.mqtt5:  # a retained command keeps its flag even when forwarded live
                options = SubscribeOptions(qos=qos, retainAsPublished=True)
                await client.subscribe(self.topics.cmd, options=options)
            else:
                await client.subscribe(self.topics.cmd, qos=qos)
            self._connected.set()
            self.status = "connected"
            self.last_error = None
            _log.info(
                "mqtt.connected",
                broker=self._where(),
                topics=self.topics.base,
                protocol="5" if self.mqtt5 else "3.1.1",
            )
            self._state_dirty = self._latest_state is not None
            self._wake.set()
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._pump(client))
                    group.create_task(self._receive(client))
            except* _CleanStop:
                pass
            except* aiomqtt.MqttError as errors:
                raise errors.exceptions[0] from None
        self.status = "stopped"
        _log.info("mqtt.stopped", broker=self._where())

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Publish acks, events and the latest state whenever there is something new."""
        qos = self.settings.qos
        while True:
            await self._wake.wait()
            self._wake.clear()
            acks = self._inbox.acks
            while acks:
                await client.publish(self.topics.cmd_ack, acks[0], qos=qos)
                acks.popleft()
            while self._events:
                payload = self._events.popleft()
                try:
                    await client.publish(self.topics.events, payload, qos=qos)
                except aiomqtt.MqttError:
                    self.dropped_events += 1
                    raise
                self.published_events += 1
            if self._state_dirty and self._latest_state is not None:
                self._state_dirty = False
                try:
                    await client.publish(
                        self.topics.state, self._latest_state, qos=qos, retain=True
                    )
                except aiomqtt.MqttError:
                    self._state_dirty = True
                    raise
            if self._stop_requested.is_set():
                await client.publish(self.topics.status, b"offline", qos=qos, retain=True)
                raise _CleanStop

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Handle each message on ``cmd``; one bad message never ends the session."""
        async for message in client.messages:
            try:
                await self._on_command_message(client, message)
            except aiomqtt.MqttError:
                raise
            except Exception as exc:  # noqa: BLE001 - hostile input must not drop the channel
                _log.error("command.receive_failed", error=type(exc).__name__)

    async def _on_command_message(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Hand a message to the inbox; a retained one is also deleted from the broker."""
        raw = message.payload
        if not raw:  # an empty payload: a cleared retained message, not a command
            return
        payload = bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw).encode()
        if message.retain:
            await self._clear_retained(client, str(message.topic))
        await self._inbox.receive(payload, retained=message.retain)

    async def _clear_retained(self, client: aiomqtt.Client, topic: str) -> None:
        """A retained command would be replayed to every new subscriber: delete it."""
        _log.warning(
            "command.retained_cleared",
            topic=echo(topic, 200),
            reason="retained commands are refused; the broker's copy was deleted",
        )
        await client.publish(topic, b"", qos=self.settings.qos, retain=True)

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"
