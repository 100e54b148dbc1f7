"""The daemon's claim on its bot: OS locks held for the process's life, and the broker asked
whether the bot id runs elsewhere (issue 12 item 2: two daemons on one config both traded)."""

from __future__ import annotations

import os

from bot.clock import WallClock
from bot.config import Settings
from bot.instance_lock import InstanceLock, InstanceLocked, bot_lock_path, lock_path_for
from bot.telemetry.auth import operator_key_from_env
from bot.telemetry.settings import MqttSettings


def acquire_instance_locks(
    settings: Settings, config_path: str | None = None
) -> list[InstanceLock]:
    """Lock the store, the paper venue's state and the bot id (in this host's lock directory,
    ``bot.instance_lock``) for this process's life.

    Raises ``InstanceLocked`` naming the holder (pid, host, start time, config) when another
    daemon runs this bot; the kernel releases the locks when the process ends, even on a crash.
    """
    guarded = [(lock_path_for(settings.store.path), f"store {settings.store.path}")]
    if settings.exchange.kind == "paper":
        state = settings.exchange.paper.state_path
        guarded.append((lock_path_for(state), f"paper venue state {state}"))
    locks: list[InstanceLock] = []
    try:
        for path, what in guarded:
            locks.append(InstanceLock.acquire(path, settings.bot_id, what, config_path))
        bot_lock = bot_lock_path(settings.bot_id, os.environ)
        what = f"bot id {settings.bot_id!r}"
        locks.append(InstanceLock.acquire(bot_lock, settings.bot_id, what, config_path))
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    return locks


async def refuse_if_running_elsewhere(settings: Settings, mqtt_settings: MqttSettings) -> None:
    """Raise ``InstanceLocked`` when the broker shows this bot id online with a state younger
    than two heartbeats, signed with ``HEDGEBOT_OPERATOR_KEY`` (``bot.telemetry.peers``); a
    stale, unsigned or badly signed one (anyone on the broker can retain those), or any one
    when no operator key is set, is a warning and the start goes on.

    Raises ``ConfigError`` for an operator key that is set but unusable (too short, a
    placeholder)."""
    from bot.telemetry.peers import find_live_instance

    live = await find_live_instance(
        mqtt_settings,
        settings.bot_id,
        max_age_s=2 * settings.chain.heartbeat_s,
        clock=WallClock(),
        operator_key=operator_key_from_env(os.environ),
    )
    if live is not None:
        raise InstanceLocked(
            f"{live}. Stop that instance first (two daemons on one bot would both trade)"
        )
