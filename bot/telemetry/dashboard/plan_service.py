"""The hedge planner behind ``/api/plan``: one run at a time, its answer cached, its CPU work
in its own daemon thread, with a deadline.

A page may ask for a plan as often as it likes (many tabs, a script, a flood): concurrent
requests share the one run in flight, an answer (or a failure) is reused for ``ttl_s``
(``error_ttl_s``), the run is abandoned after ``deadline_s`` and the CPU part
(:class:`DaemonThreadSlots`) never uses the event loop's default executor (which aiohttp
needs for DNS) and never holds up interpreter exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog

from bot.errors import HedgebotError

__all__ = ["DaemonThreadSlots", "PlanService", "PlannerUnavailable"]

_log = structlog.get_logger("hedgebot.telemetry.dashboard")

T = TypeVar("T")
PLAN_TTL_S = 30.0
PLAN_ERROR_TTL_S = 5.0
PLAN_DEADLINE_S = 60.0


class PlannerUnavailable(HedgebotError):
    """The planner gave no answer within its deadline, or its thread is still busy."""


class DaemonThreadSlots:
    """Runs blocking functions in daemon threads, at most ``size`` at once.

    A slot is freed when its thread ends, not when its caller stops waiting: a function that
    hangs past ``timeout_s`` keeps its slot (so abandoned threads cannot pile up) and never
    blocks interpreter exit (daemon thread, no executor to join).
    """

    def __init__(self, size: int = 1, name: str = "hedgebot-worker") -> None:
        self._free = threading.BoundedSemaphore(size)
        self._name = name

    async def run(self, fn: Callable[[], T], *, timeout_s: float) -> T:
        """``fn()`` in a daemon thread. Raises ``PlannerUnavailable`` when every slot is held
        by a thread still running, ``TimeoutError`` after ``timeout_s``, else what ``fn``
        raises."""
        if not self._free.acquire(blocking=False):
            raise PlannerUnavailable("the planner's thread is still busy with an earlier run")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()

        def settle(outcome: T | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(outcome)  # type: ignore[arg-type]

        def work() -> None:
            outcome: T | None = None
            error: BaseException | None = None
            try:
                outcome = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting caller
                error = exc
            finally:
                self._free.release()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, outcome, error)

        threading.Thread(target=work, name=self._name, daemon=True).start()
        async with asyncio.timeout(timeout_s):
            return await asyncio.shield(done)


class PlanService:
    """Single-flight, cached access to ``compute`` (one plan as a JSON-ready dict).

    ``get()`` returns the cached plan when it is younger than ``ttl_s``; otherwise it joins
    the run in flight or starts one. Raises ``HedgebotError`` (a failed run, reused for
    ``error_ttl_s``) and ``PlannerUnavailable`` (no answer within ``deadline_s``).
    """

    def __init__(
        self,
        compute: Callable[[], Awaitable[dict[str, Any]]],
        *,
        ttl_s: float = PLAN_TTL_S,
        error_ttl_s: float = PLAN_ERROR_TTL_S,
        deadline_s: float = PLAN_DEADLINE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._ttl_s = ttl_s
        self._error_ttl_s = error_ttl_s
        self._deadline_s = deadline_s
        self._clock = clock
        self._answer: tuple[float, dict[str, Any] | HedgebotError] | None = None
        self._in_flight: asyncio.Task[dict[str, Any]] | None = None
        self.runs = 0  # how many times ``compute`` was started

    async def get(self) -> dict[str, Any]:
        """The plan (shared, cached); see the class docstring for errors."""
        cached = self._fresh()
        if isinstance(cached, HedgebotError):
            raise cached
        if cached is not None:
            return cached
        if self._in_flight is None:
            self._in_flight = asyncio.create_task(self._run(), name="hedgebot-plan")
            self._in_flight.add_done_callback(self._settled)
        return await asyncio.shield(self._in_flight)

    def _fresh(self) -> dict[str, Any] | HedgebotError | None:
        if self._answer is None:
            return None
        at, answer = self._answer
        ttl = self._error_ttl_s if isinstance(answer, HedgebotError) else self._ttl_s
        return answer if self._clock() - at < ttl else None

    async def _run(self) -> dict[str, Any]:
        self.runs += 1
        started = self._clock()
        try:
            async with asyncio.timeout(self._deadline_s):
                plan = await self._compute()
        except TimeoutError:
            error = PlannerUnavailable(f"no plan within {self._deadline_s:g} s")
            self._answer = (self._clock(), error)
            raise error from None
        except HedgebotError as exc:
            self._answer = (self._clock(), exc)
            raise
        self._answer = (self._clock(), plan)
        _log.info("plan.computed", elapsed_s=round(self._clock() - started, 3))
        return plan

    def _settled(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._in_flight = None
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have gone

    async def close(self) -> None:
        """Cancel the run in flight (at shutdown); its thread, if any, is a daemon."""
        task = self._in_flight
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
