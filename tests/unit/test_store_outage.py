"""The daemon's store-outage supervisor (bot.store_outage): when it retries, when it gives up."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from bot.errors import StoreError, StoreUnreachable
from bot.store_outage import SessionState, StoreRetry, supervise

pytestmark = pytest.mark.unit

FAST = StoreRetry(max_attempts=3, backoff_min_s=0.001, backoff_max_s=0.002)


class Script:
    """Sessions and probes that fail as told, counting calls."""

    def __init__(self, sessions: list[str], probes: list[bool]) -> None:
        self.sessions = sessions  # "start-fail", "start-corrupt", "run-fail" or "clean"
        self.probes = probes
        self.session_calls = 0
        self.probe_calls = 0

    async def session(self, state: SessionState) -> None:
        outcome = self.sessions[self.session_calls]
        self.session_calls += 1
        if outcome == "start-fail":
            raise StoreUnreachable("store cannot be used: connection refused")
        if outcome == "start-corrupt":
            raise StoreError("store x.sqlite is corrupt or not a hedgebot database")
        state.started = True
        if outcome == "run-fail":
            raise StoreError("store write failed: connection lost")

    async def probe(self) -> None:
        ok = self.probes[self.probe_calls]
        self.probe_calls += 1
        if not ok:
            raise StoreError("store cannot be used: connection refused")


async def test_store_not_an_outage_at_first_start_is_not_retried() -> None:
    """A store that fails before the engine ever started for a reason that will not pass by
    waiting (corrupt file, schema too new: a plain StoreError) is raised at once, no probe."""
    script = Script(["start-corrupt"], [])
    with pytest.raises(StoreError, match="corrupt"):
        await supervise(script.session, script.probe, FAST, asyncio.Event())
    assert script.probe_calls == 0


async def test_store_unreachable_at_first_start_is_waited_for() -> None:
    """A server that cannot be reached at the first start (a pod starting while the database
    is down) is an outage: probed until it answers, then the first session runs."""
    script = Script(["start-fail", "clean"], [False, True])
    with capture_logs() as logs:
        await supervise(script.session, script.probe, FAST, asyncio.Event())
    assert (script.session_calls, script.probe_calls) == (2, 2)
    unreachable = [e for e in logs if e["event"] == "daemon.store_unreachable"]
    assert [e["at"] for e in unreachable] == ["start"]
    assert [e["event"] for e in logs][-1] == "daemon.store_back"


async def test_store_unreachable_at_first_start_gives_up_after_max_attempts() -> None:
    """The start-up wait is bounded by the same --store-retries: then the last error ends it."""
    script = Script(["start-fail"], [False, False, False])
    with pytest.raises(StoreError, match="connection refused"):  # the last probe's
        await supervise(script.session, script.probe, FAST, asyncio.Event())
    assert script.probe_calls == 3


class Watch:
    """An OutageWatch recording what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def begin(self, error: StoreError, max_attempts: int) -> None:
        self.calls.append(("begin", max_attempts))

    def probe_failed(self, attempt: int, error: StoreError) -> None:
        self.calls.append(("probe_failed", attempt))

    async def end(self) -> None:
        self.calls.append(("end", None))


async def test_the_watch_is_told_of_each_outage_its_probes_and_its_end() -> None:
    """begin at each outage, each failed probe, end before the next session (also when the
    daemon gives up), so /healthz answers exactly while no session runs."""
    watch = Watch()
    script = Script(["start-fail", "run-fail", "clean"], [False, True, True])
    await supervise(script.session, script.probe, FAST, asyncio.Event(), watch)
    assert watch.calls == [
        ("begin", 3),
        ("probe_failed", 1),
        ("end", None),
        ("begin", 3),
        ("end", None),
    ]
    gave_up = Watch()
    script = Script(["run-fail"], [False, False, False])
    with pytest.raises(StoreError):
        await supervise(script.session, script.probe, FAST, asyncio.Event(), gave_up)
    assert gave_up.calls[0] == ("begin", 3)
    assert gave_up.calls[-1] == ("end", None)


async def test_outage_mid_run_waits_for_the_store_then_starts_a_new_session() -> None:
    """Running session fails, two probes fail, the third passes: a new session runs to a clean
    stop; the log says unreachable, each failed probe, and back."""
    script = Script(["run-fail", "clean"], [False, False, True])
    with capture_logs() as logs:
        await supervise(script.session, script.probe, FAST, asyncio.Event())
    assert (script.session_calls, script.probe_calls) == (2, 3)
    names = [e["event"] for e in logs]
    assert names == [
        "daemon.store_unreachable",
        "daemon.store_probe_failed",
        "daemon.store_probe_failed",
        "daemon.store_back",
    ]


async def test_a_restarted_session_failing_at_start_is_retried() -> None:
    """After the first start, a session whose start-up (reconciliation) hits the store again
    is one more outage, not a start-up error."""
    script = Script(["run-fail", "start-fail", "clean"], [True, True])
    await supervise(script.session, script.probe, FAST, asyncio.Event())
    assert script.session_calls == 3


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    """Three failed probes in one outage: the last StoreError ends the daemon."""
    script = Script(["run-fail"], [False, False, False])
    with capture_logs() as logs, pytest.raises(StoreError, match="connection refused"):
        await supervise(script.session, script.probe, FAST, asyncio.Event())
    assert script.probe_calls == 3
    assert logs[-1]["event"] == "daemon.store_gave_up"


async def test_zero_attempts_exits_at_the_first_store_error() -> None:
    """``max_attempts=0``: the old behaviour, the first StoreError ends the daemon."""
    script = Script(["run-fail"], [])
    with pytest.raises(StoreError, match="connection lost"):
        await supervise(script.session, script.probe, StoreRetry(max_attempts=0), asyncio.Event())
    assert script.probe_calls == 0


async def test_stop_during_an_outage_returns_without_probing() -> None:
    """SIGTERM while waiting for the store: return (exit 0), no further probe or session."""
    script = Script(["run-fail"], [])
    stop = asyncio.Event()
    stop.set()
    await supervise(script.session, script.probe, StoreRetry(backoff_min_s=5), stop)
    assert (script.session_calls, script.probe_calls) == (1, 0)


def test_bad_retry_settings_are_refused() -> None:
    """Negative attempts or an inverted backoff range raise ValueError naming the field."""
    with pytest.raises(ValueError, match="max_attempts"):
        StoreRetry(max_attempts=-1)
    with pytest.raises(ValueError, match="backoff_min_s"):
        StoreRetry(backoff_min_s=2, backoff_max_s=1)
