"""At start, ask the broker whether another instance of this bot id is running elsewhere.

The host's file lock (``bot.instance_lock``) cannot see another machine. The broker can: a
running instance keeps a retained ``online`` on ``status`` and a retained ``state`` stamped
with its wall clock, host and pid after every tick. ``online`` with a state younger than
``max_age_s`` is a live instance; the start is refused naming it. ``online`` with an older (or
no) state, or one published by a process of this host that is gone, is a stale leftover of a
crash (the Last Will comes only after 1.5 keepalives) and is ignored with a warning.

Anyone who can publish on the broker can retain ``online`` and a fresh state, so neither is
evidence by itself: only a state signed with the operator key (its ``sig``, the HMAC scheme
of commands and acks, ``bot.telemetry.auth``) over this bot's ``state`` topic and naming this
bot id refuses a start. An unsigned or badly signed fresh state is a ``mqtt.forged_instance``
warning; without an operator key to check it, a ``mqtt.unverified_instance`` warning; the
start goes on either way (the host's file locks still hold on this machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import aiomqtt
import structlog

from bot.ports import Clock
from bot.safety import PayloadRejected, loads_bounded
from bot.telemetry.auth import OperatorKey
from bot.telemetry.command_text import echo
from bot.telemetry.mqtt import tls_context
from bot.telemetry.settings import MqttSettings, Topics

__all__ = ["LiveInstance", "find_live_instance"]

_log = structlog.get_logger("hedgebot.telemetry.peers")


@dataclass(frozen=True, slots=True)
class LiveInstance:
    """Another instance of the bot id, seen alive on the broker."""

    bot_id: str
    broker: str
    age_s: float
    host: str
    pid: int | None
    block: int | None

    def __str__(self) -> str:
        pid = f" pid {self.pid}" if self.pid is not None else ""
        block = f", block {self.block}" if self.block is not None else ""
        return (
            f"bot {self.bot_id} is running on host {self.host}{pid}: online on broker "
            f"{self.broker}, its state published {self.age_s:.0f} s ago{block}"
        )


async def find_live_instance(
    settings: MqttSettings,
    bot_id: str,
    *,
    max_age_s: float,
    clock: Clock,
    operator_key: OperatorKey | None,
    wait_s: float = 1.5,
) -> LiveInstance | None:
    """The live instance of ``bot_id`` the broker shows, or None (none, stale, not signed by
    ``operator_key``, or the broker unreachable: then the start goes on with a warning, and
    the ticks' MQTT task retries).

    ``max_age_s``: a state older than this (wall clock, s) is stale. ``operator_key``: the key
    a genuine instance signs its state with; None: nothing can be verified, so nothing refuses
    (a warning). Never raises for what the broker or a peer sends.
    """
    topics = Topics.for_bot(settings.topic_prefix, bot_id)
    where = f"{settings.host}:{settings.port}"
    try:
        retained = await _read_retained(settings, (topics.status, topics.state), wait_s)
    except (aiomqtt.MqttError, OSError) as exc:
        _log.warning("instance.broker_check_skipped", broker=where, reason=echo(str(exc), 200))
        return None
    if retained.get(topics.status) != b"online":
        return None
    state = _state_fields(retained.get(topics.state))
    published_at = state.get("published_at")
    age_s = clock.now() - published_at if isinstance(published_at, int | float) else None
    host, pid = state.get("host"), state.get("pid")
    if age_s is None or not abs(age_s) <= max_age_s or _gone_from_this_host(host, pid):
        _log.warning(
            "instance.stale_online_ignored",
            bot_id=bot_id,
            broker=where,
            state_age_s=None if age_s is None else round(age_s, 1),
            host=echo(str(host), 64),
            reason=f"retained online without a state younger than {max_age_s:g} s from a "
            "running process: a leftover of a stopped instance",
        )
        return None
    if not _genuine(state, topics.state, bot_id, operator_key, where, age_s):
        return None
    block = state.get("block")
    return LiveInstance(
        bot_id=bot_id,
        broker=where,
        age_s=max(age_s, 0.0),
        host=echo(str(host), 64),
        pid=pid if isinstance(pid, int) else None,
        block=block if isinstance(block, int) else None,
    )


def _genuine(
    state: dict[str, Any],
    topic: str,
    bot_id: str,
    key: OperatorKey | None,
    where: str,
    age_s: float,
) -> bool:
    """Whether a fresh retained state is evidence of a running instance: signed by ``key`` on
    ``topic`` and naming ``bot_id``. Otherwise one warning naming the risk."""
    seen = {
        "bot_id": bot_id,
        "broker": where,
        "state_age_s": round(age_s, 1),
        "host": echo(str(state.get("host")), 64),
    }
    if key is None:
        _log.warning(
            "mqtt.unverified_instance",
            **seen,
            reason="the broker shows this bot id online with a fresh state, but without "
            "HEDGEBOT_OPERATOR_KEY its signature cannot be checked: starting anyway",
            risk="if another instance really runs elsewhere, both trade one account; set the "
            "operator key so a genuine instance can be told from a forged state",
        )
        return False
    if key.verify(topic, state) and state.get("bot_id") == bot_id:
        return True
    problem = "unsigned" if state.get("sig") is None else "not signed with the operator key"
    _log.warning(
        "mqtt.forged_instance",
        **seen,
        reason=f"the retained state is {problem} (or names another bot): not evidence of a "
        "running instance, starting anyway",
        risk="someone who can publish on this broker tried to keep the bot from starting; "
        "set a broker password and ACL (mqtt.username)",
    )
    return False


def _gone_from_this_host(host: object, pid: object) -> bool:
    """Whether the state was published by a process of this host that no longer runs."""
    if host != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it runs, as another user
        return False
    return False


def _state_fields(payload: bytes | None) -> dict[str, Any]:
    """The retained state's JSON object, or {} when it is missing or not one (over 1 MiB,
    nested deeper than ``MAX_JSON_DEPTH``, not JSON: ``bot.safety.loads_bounded``)."""
    if not payload:
        return {}
    with contextlib.suppress(PayloadRejected):
        value = loads_bounded(payload, max_bytes=1 << 20)
        if isinstance(value, dict):
            return value
    return {}


async def _read_retained(
    settings: MqttSettings, topics: tuple[str, ...], wait_s: float
) -> dict[str, bytes]:
    """The retained payload of each of ``topics`` (absent: none), read with a client id of its
    own so the running instance is not disconnected."""
    found: dict[str, bytes] = {}
    client = aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        identifier=f"hedgebot-probe-{uuid.uuid4().hex[:12]}",
        timeout=min(settings.timeout_s, 5.0),
        tls_context=tls_context(settings),
    )
    async with client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                async for message in client.messages:
                    if message.retain and isinstance(message.payload, bytes | bytearray):
                        found[str(message.topic)] = bytes(message.payload)
                    if len(found) == len(topics):
                        break
    return found
