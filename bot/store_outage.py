"""The daemon across a store outage: never trade without a record, resume when it is back.

A ``StoreError`` ends the engine's session at once (the tick that could not write its record
places no further order; ``bot.engine.tick``). :func:`supervise` then keeps the process up
with no engine and so no orders, probes the store with exponential backoff (open it, check a
write would succeed, close it) and, once it answers, starts a new session: the engine's own
start-up reconciliation (the order ledger's ``settle_pending``, position re-adoption) runs
before its first tick trades. Each probe that fails is an attempt; past ``max_attempts`` in
one outage the last ``StoreError`` ends the daemon as before (exit 1).

A store that fails before the first session ever started is waited for the same way when its
server cannot be reached (``StoreUnreachable``: a pod starting while the database is down
waits instead of crash-looping); any other start-up failure (a corrupt or read-only SQLite
file, a schema newer than this hedgebot) is not transient and ends the daemon at once.

An ``OutageWatch`` (``bot.telemetry.outage_health``) is told when an outage starts, of each
failed probe and when it is over, so ``/healthz`` and ``/readyz`` keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from bot.errors import StoreError, StoreUnreachable
from bot.safety import describe_exc

log = structlog.get_logger("hedgebot.app")


@dataclass(frozen=True, slots=True)
class StoreRetry:
    """How the daemon waits out a store outage: ``max_attempts`` failed probes in one outage
    (0: stop at the first ``StoreError``), the first wait ``backoff_min_s`` seconds, doubling
    up to ``backoff_max_s`` (each wait jittered by 0.8-1.0)."""

    max_attempts: int = 20
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {self.max_attempts}")
        if not 0 < self.backoff_min_s <= self.backoff_max_s:
            raise ValueError("need 0 < backoff_min_s <= backoff_max_s")


@dataclass
class SessionState:
    """What a session reports to its supervisor: ``started`` once the engine's start-up
    (reconciliation included) succeeded."""

    started: bool = False


Session = Callable[[SessionState], Awaitable[None]]
Probe = Callable[[], Awaitable[None]]


class OutageWatch(Protocol):
    """Told what the supervisor does while no session runs (``/healthz`` during an outage)."""

    async def begin(self, error: StoreError, max_attempts: int) -> None:
        """An outage started (``error`` ended the session or its start); probing follows."""
        ...

    def probe_failed(self, attempt: int, error: StoreError) -> None:
        """Probe number ``attempt`` (from 1) of this outage failed with ``error``."""
        ...

    async def end(self) -> None:
        """The outage is over (store back, stop asked, or given up): before the next session."""
        ...


def _retried(exc: StoreError, ever_started: bool, retry: StoreRetry) -> bool:
    """Whether ``exc`` is an outage to wait out: after a first start any ``StoreError``;
    before it only a server that cannot be reached (``StoreUnreachable``)."""
    if retry.max_attempts == 0:
        return False
    return ever_started or isinstance(exc, StoreUnreachable)


async def supervise(
    session: Session,
    probe: Probe,
    retry: StoreRetry,
    stop: asyncio.Event,
    watch: OutageWatch | None = None,
) -> None:
    """Run ``session`` until it returns (a clean stop); after a ``StoreError`` in a session
    that had started, or a ``StoreUnreachable`` before any had, wait for ``probe`` to pass
    and run a new one (``watch`` told of the outage meanwhile).

    Raises the ``StoreError`` of a first start that is not an outage (not
    ``StoreUnreachable``), or the last probe's once ``retry.max_attempts`` probes of one
    outage failed. Returns when ``stop`` is set while waiting (SIGINT/SIGTERM during an
    outage: nothing to flush, exit 0).
    """
    ever_started = False
    while True:
        state = SessionState()
        try:
            await session(state)
            return
        except StoreError as exc:
            ever_started = ever_started or state.started
            if not _retried(exc, ever_started, retry):
                raise
            log.error(
                "daemon.store_unreachable",
                error=describe_exc(exc),
                at="run" if ever_started else "start",
                trading="stopped: no orders until the store is back and reconciled",
                max_attempts=retry.max_attempts,
            )
            if watch is not None:
                await watch.begin(exc, retry.max_attempts)
        try:
            back = await _wait_for_store(probe, retry, stop, watch)
        finally:
            if watch is not None:
                await watch.end()
        if not back:
            return
        log.warning("daemon.store_back", action="restarting the engine (reconcile, then trade)")


async def _wait_for_store(
    probe: Probe, retry: StoreRetry, stop: asyncio.Event, watch: OutageWatch | None
) -> bool:
    """Probe until the store answers (True) or ``stop`` is set (False); ``StoreError`` when
    ``retry.max_attempts`` probes failed."""
    backoff_s = retry.backoff_min_s
    for attempt in range(1, retry.max_attempts + 1):
        delay_s = backoff_s * random.uniform(0.8, 1.0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await stop.wait()
        if stop.is_set():
            log.info("daemon.stopped_during_store_outage")
            return False
        try:
            await probe()
        except StoreError as exc:
            if attempt == retry.max_attempts:
                log.error("daemon.store_gave_up", attempts=attempt, error=describe_exc(exc))
                raise
            if watch is not None:
                watch.probe_failed(attempt, exc)
            log.warning(
                "daemon.store_probe_failed",
                attempt=attempt,
                max_attempts=retry.max_attempts,
                error=describe_exc(exc),
            )
        else:
            return True
        backoff_s = min(backoff_s * 2, retry.backoff_max_s)
    return True  # max_attempts == 0 never reaches here (supervise raises first)
