"""Alerts to people through apprise, never in the way of a tick.

``Notifier.submit`` is synchronous and never waits: it classifies the event, applies the rate
limit per kind and subject (the chain, venue or position it is about:
``alert_rules.subject_of``; a trip after its clear or a clear after its trip is never held)
and appends the notice to each URL's bounded queue (oldest dropped and counted when full).
What the rate limit held back goes out when its window ends (checked on each event, each
state and by a timer), saying how many were held. One worker task per URL sends in daemon
threads (apprise's ``notify`` blocks), at most ``max_in_flight`` at a time per URL and each
awaited for ``send_timeout_s``; a thread that hangs keeps its slot until it ends, so a
hanging receiver only fills its own queue. URLs are secrets: logs show them masked
(:func:`mask_notify_url`), and apprise's own logger is muted.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from bot.ports import Clock
from bot.telemetry.alert_rules import DailySummary, Notice, RateLimiter, notice_for
from bot.telemetry.messages import EventMessage, StateMessage
from bot.telemetry.notify_settings import SEVERITY_RANK, AlertsSettings, ResolvedTarget
from bot.telemetry.notify_urls import (
    alert_url_problems,
    check_alerts,
    mask_notify_url,
    mute_apprise,
)

__all__ = [
    "Notifier",
    "NotifierStats",
    "alert_url_problems",
    "apprise_send",
    "build_notifier",
    "check_alerts",
    "mask_notify_url",
]

log = structlog.get_logger("hedgebot.telemetry.notify")

Sender = Callable[[str, Notice], bool]
STOP_DRAIN_S = 2.0  # at most this long at shutdown for the queues to empty
FLUSH_EVERY_S = 1.0  # how often (event-loop time) held-back notices are checked for their end


def _load_plugins() -> None:
    """apprise loads its plugins on first use; threads racing that first load fail to parse
    their URLs, so it is done once, before any send."""
    import apprise

    apprise.Apprise().add("json://127.0.0.1")


def apprise_send(url: str, notice: Notice) -> bool:
    """Send one notice to one apprise URL (blocking); False when apprise refuses or fails."""
    import apprise

    kinds = {"info": apprise.NotifyType.INFO, "warning": apprise.NotifyType.WARNING}
    client = apprise.Apprise()
    if not client.add(url):
        return False
    notify_type = kinds.get(notice.severity, apprise.NotifyType.FAILURE)
    return bool(client.notify(title=notice.title, body=notice.body, notify_type=notify_type))


@dataclass
class NotifierStats:
    """Counters per URL (masked) and overall."""

    sent: int = 0
    failed: int = 0
    timed_out: int = 0
    dropped: int = 0
    suppressed: int = 0
    filtered: int = 0


class _Target:
    """One URL: its queue, its in-flight slots and its counters."""

    def __init__(self, target: ResolvedTarget, queue_size: int, max_in_flight: int) -> None:
        self.url = target.url
        self.shown = mask_notify_url(target.url)
        self.min_rank = SEVERITY_RANK[target.min_severity]
        self.queue: deque[Notice] = deque(maxlen=queue_size)
        self.wake = asyncio.Event()
        self.slots = asyncio.Semaphore(max_in_flight)
        self.max_in_flight = max_in_flight
        self.hung = 0  # sends past their timeout whose thread still holds a slot
        self.stats = NotifierStats()

    def can_progress(self) -> bool:
        """Whether queued notices can still be sent: not every slot is held by a hung send."""
        return bool(self.queue) and self.hung < self.max_in_flight

    def offer(self, notice: Notice) -> None:
        if SEVERITY_RANK[notice.severity] < self.min_rank:
            self.stats.filtered += 1
            return
        if len(self.queue) == self.queue.maxlen:
            self.stats.dropped += 1  # deque drops the oldest
            log.warning("alert.dropped", target=self.shown, kind=self.queue[0].kind)
        self.queue.append(notice)
        self.wake.set()


class Notifier:
    """The alert sink of ``TelemetryBridge``: ``submit`` events, ``observe_state`` states."""

    def __init__(
        self,
        targets: list[ResolvedTarget],
        settings: AlertsSettings,
        *,
        bot_id: str,
        clock: Clock,
        sender: Sender = apprise_send,
        flush_every_s: float = FLUSH_EVERY_S,
    ) -> None:
        mute_apprise()
        self._targets = [_Target(t, settings.queue_size, settings.max_in_flight) for t in targets]
        self._settings = settings
        self._bot_id = bot_id
        self._clock = clock
        self._sender = sender
        self._limiter = RateLimiter(settings.rate_limit_s)
        at = settings.summary_time()
        self._summary = None if at is None else DailySummary(at, clock.now())
        self._workers: list[asyncio.Task[None]] = []
        self._sends: set[asyncio.Task[None]] = set()
        self._progress = asyncio.Event()  # a send started or ended, a thread finished
        self._flush_every_s = flush_every_s

    @property
    def targets(self) -> list[str]:
        """The URLs, masked."""
        return [t.shown for t in self._targets]

    def stats(self) -> dict[str, NotifierStats]:
        """Counters per URL (``<index>:<masked URL>``; the rate limiter's held-back count
        under ``*``)."""
        held = NotifierStats(suppressed=sum(self._limiter.suppressed.values()))
        return {"*": held, **{f"{i}:{t.shown}": t.stats for i, t in enumerate(self._targets)}}

    async def start(self) -> None:
        """Load apprise's plugins (in a thread, once), then start one worker per URL."""
        await asyncio.to_thread(_load_plugins)
        for target in self._targets:
            self._workers.append(asyncio.create_task(self._work(target)))
        self._workers.append(asyncio.create_task(self._flush_loop()))
        log.info("alerts.started", targets=self.targets)

    def publish_event(self, event: EventMessage) -> None:
        """The bridge's ``events`` message: queued for people when it is one for them."""
        self.submit(event.type, event.data)

    def publish_state(self, state: StateMessage) -> None:
        """The bridge's ``state`` message, folded into the daily summary (wire values)."""
        self.flush_held()
        if self._summary is not None:
            self.observe_state(state.model_dump(mode="json"))

    def submit(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Queue the notice for ``event_type`` (if it is one for people); never blocks."""
        body = dict(data)
        if self._summary is not None:
            self._summary.observe_event(event_type, body)
        notice = notice_for(self._bot_id, event_type, body, self._clock.now())
        if notice is not None:
            self._dispatch(notice)  # a held one of its key it replaces is counted in it
        self.flush_held()

    def observe_state(self, state: Mapping[str, Any]) -> None:
        """Fold a state into the daily summary; queue the summary when it is due."""
        if self._summary is None:
            return
        self._summary.observe_state(dict(state))
        summary = self._summary.take_if_due(self._bot_id, self._clock.now())
        if summary is not None:
            for target in self._targets:
                target.offer(summary)

    def flush_held(self) -> None:
        """Queue the held-back notices whose rate-limit window has ended (clock time), each
        saying how many were held; called by every submit and state and by a timer every
        ``flush_every_s``, so the last of a burst goes out without a later alert of its
        kind. Never blocks."""
        for notice in self._limiter.due(self._clock.now()):
            log.info("alert.released", kind=notice.kind, subject=notice.subject)
            for target in self._targets:
                target.offer(notice)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_every_s)
            self.flush_held()

    def _dispatch(self, notice: Notice) -> None:
        admitted = self._limiter.admit(notice)
        if admitted is None:
            log.info("alert.rate_limited", kind=notice.kind, subject=notice.subject)
            return
        for target in self._targets:
            target.offer(admitted)

    async def stop(self, drain_timeout_s: float = STOP_DRAIN_S) -> None:
        """Queue ``daemon.stopped``, give the queues at most ``drain_timeout_s`` to empty (not
        waiting for a URL whose every slot is held by a hung send), then drop what is still
        queued (counted and logged as ``alerts.dropped_at_stop``) and stop the workers; threads
        still hanging are abandoned (daemon threads). Held-back notices go out first."""
        for held in self._limiter.due(self._clock.now(), everything=True):
            for target in self._targets:
                target.offer(held)
        self._dispatch(
            Notice(
                "daemon.stopped",
                "warning",
                f"hedgebot {self._bot_id}: daemon.stopped (warning)",
                "the daemon stopped",
                self._clock.now(),
            )
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_timeout_s):
                while self._sends or any(t.can_progress() for t in self._targets):
                    self._progress.clear()
                    await self._progress.wait()
        self._drop_queued()
        for task in [*self._workers, *self._sends]:
            task.cancel()
        await asyncio.gather(*self._workers, *self._sends, return_exceptions=True)
        log.info("alerts.stopped", stats={k: vars(v) for k, v in self.stats().items()})

    def _drop_queued(self) -> None:
        dropped = {t.shown: len(t.queue) for t in self._targets if t.queue}
        for target in self._targets:
            target.stats.dropped += len(target.queue)
            target.queue.clear()
        if dropped or self._sends:
            log.warning(
                "alerts.dropped_at_stop",
                count=sum(dropped.values()),
                targets=dropped,
                abandoned_sends=len(self._sends),
            )

    async def _work(self, target: _Target) -> None:
        while True:
            while not target.queue:
                target.wake.clear()
                await target.wake.wait()
            await target.slots.acquire()
            if not target.queue:  # emptied while waiting for a slot
                target.slots.release()
                continue
            notice = target.queue.popleft()
            task = asyncio.create_task(self._send(target, notice))
            self._sends.add(task)
            task.add_done_callback(self._send_done)

    def _send_done(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        self._progress.set()

    async def _send(self, target: _Target, notice: Notice) -> None:
        """Send in a daemon thread; the slot is freed when the thread ends, not at timeout."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()

        late = False  # the caller stopped waiting: the thread ends after its timeout

        def finish(ok: bool | BaseException) -> None:
            target.slots.release()
            if late:
                target.hung -= 1
            self._progress.set()
            if done.done():
                return
            if isinstance(ok, BaseException):
                done.set_exception(ok)
            else:
                done.set_result(ok)

        def run() -> None:
            try:
                outcome: bool | BaseException = self._sender(target.url, notice)
            except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, not raised
                outcome = exc
            with contextlib.suppress(RuntimeError):  # the loop closed while we hung
                loop.call_soon_threadsafe(finish, outcome)

        threading.Thread(target=run, name="hedgebot-alert", daemon=True).start()
        try:
            async with asyncio.timeout(self._settings.send_timeout_s):
                ok = await asyncio.shield(done)
        except TimeoutError:
            late = True
            target.hung += 1
            target.stats.timed_out += 1
            log.warning("alert.send_timeout", target=target.shown, kind=notice.kind)
            return
        except Exception as exc:  # noqa: BLE001 - from the sender thread
            ok = False
            # the text of a plugin's exception may carry the URL: only its type is shown
            log.warning("alert.send_error", target=target.shown, error=type(exc).__name__)
        if ok:
            target.stats.sent += 1
            log.info("alert.sent", target=target.shown, kind=notice.kind)
        else:
            target.stats.failed += 1
            log.warning("alert.send_failed", target=target.shown, kind=notice.kind)


def build_notifier(
    settings: AlertsSettings, environ: Mapping[str, str], *, bot_id: str, clock: Clock
) -> Notifier | None:
    """The notifier for the configured URLs, or None when none is configured; raises
    ``ConfigError`` for a ``url_env`` that is not set or a URL apprise cannot send to."""
    targets = check_alerts(settings, environ)
    if not targets:
        return None
    return Notifier(targets, settings, bot_id=bot_id, clock=clock)
