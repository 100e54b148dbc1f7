"""The planner behind /api/plan: one run shared by concurrent requests, its answer (or its
failure) cached, a deadline, and its CPU work in a bounded daemon thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from bot.errors import ChainError
from bot.telemetry.dashboard.plan_service import DaemonThreadSlots, PlannerUnavailable, PlanService

pytestmark = pytest.mark.unit


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_requests_share_one_run_and_the_answer_is_cached() -> None:
    """50 concurrent get() start compute once; within ttl_s no new run, after it one more."""
    gate = asyncio.Event()
    calls: list[int] = []

    async def compute() -> dict[str, Any]:
        calls.append(1)
        await gate.wait()
        return {"block": len(calls)}

    clock = Clock()
    service = PlanService(compute, ttl_s=30, clock=clock)
    waiters = [asyncio.create_task(service.get()) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == [{"block": 1}] * 50
    clock.now += 29
    assert await service.get() == {"block": 1}
    clock.now += 2
    assert await service.get() == {"block": 2}
    assert service.runs == 2


async def test_a_failure_is_reused_briefly_then_retried() -> None:
    """A failed run is the answer for error_ttl_s (no hammering a dead chain), then retried."""
    outcomes: list[Exception | dict[str, Any]] = [ChainError("eth_call: revert"), {"ok": 1}]

    async def compute() -> dict[str, Any]:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    clock = Clock()
    service = PlanService(compute, error_ttl_s=5, clock=clock)
    for _ in range(3):
        with pytest.raises(ChainError, match="revert"):
            await service.get()
    clock.now += 6
    assert await service.get() == {"ok": 1}
    assert service.runs == 2


async def test_a_run_past_its_deadline_is_abandoned_with_a_clear_error() -> None:
    """compute that never ends: PlannerUnavailable after deadline_s, naming it."""

    async def compute() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    service = PlanService(compute, deadline_s=0.05)
    with pytest.raises(PlannerUnavailable, match=r"no plan within 0\.05 s"):
        await service.get()


async def test_close_cancels_the_run_in_flight() -> None:
    """At shutdown the run in flight is cancelled; waiters see the cancellation."""
    started = asyncio.Event()

    async def compute() -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        return {}

    service = PlanService(compute)
    waiter = asyncio.create_task(service.get())
    await started.wait()
    await service.close()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_thread_slots_run_in_daemon_threads_and_stay_bounded() -> None:
    """The work runs in a daemon thread (never blocks exit), not the loop's executor; a hung
    run keeps its slot after its deadline, so a second run is refused, not piled up."""
    release = threading.Event()
    seen: list[tuple[str, bool]] = []

    def hang() -> int:
        seen.append((threading.current_thread().name, threading.current_thread().daemon))
        release.wait(10)
        return 1

    slots = DaemonThreadSlots(1, "hedgebot-plan")
    with pytest.raises(TimeoutError):
        await slots.run(hang, timeout_s=0.05)
    assert seen == [("hedgebot-plan", True)]
    with pytest.raises(PlannerUnavailable, match="still busy"):
        await slots.run(lambda: 2, timeout_s=1)
    release.set()
    async with asyncio.timeout(5):
        while True:  # the hung thread ends and frees its slot
            try:
                assert await slots.run(lambda: 3, timeout_s=1) == 3
                break
            except PlannerUnavailable:
                await asyncio.sleep(0.01)


async def test_thread_slots_hand_back_the_functions_error() -> None:
    """An exception in the thread reaches the awaiting caller."""

    def boom() -> int:
        raise ValueError("bad grid")

    with pytest.raises(ValueError, match="bad grid"):
        await DaemonThreadSlots(1).run(boom, timeout_s=5)
