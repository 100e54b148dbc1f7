"""The live feed behind the dashboards' server-sent events: one more sink of what the engine
publishes (``TelemetryBridge``), fanned out to each connected page.

Every subscriber has its own bounded queue; a slow page loses its oldest messages (counted in
``dropped``), never slows the tick or the other pages. The latest state and a bounded tail of
events are kept so a page that connects gets the current picture at once.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.telemetry.messages import EventMessage, StateMessage

__all__ = ["DashboardFeed", "FeedItem", "Subscription"]

FeedKind = Literal["state", "event", "status"]
DEFAULT_SUBSCRIBER_QUEUE = 64
DEFAULT_RECENT_EVENTS = 200
DEFAULT_MAX_SUBSCRIBERS = 64


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One message for the pages: ``kind`` names the SSE event, ``data`` is its JSON text."""

    kind: FeedKind
    data: str

    def sse(self) -> bytes:
        """The server-sent-events frame (``event:`` + one ``data:`` line; JSON has no newline)."""
        return f"event: {self.kind}\ndata: {self.data}\n\n".encode()


@dataclass
class Subscription:
    """One page's queue: at most ``maxlen`` items, the oldest dropped first."""

    maxlen: int
    items: deque[FeedItem] = field(init=False)
    dropped: int = 0
    _ready: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.items = deque(maxlen=self.maxlen)

    def push(self, item: FeedItem) -> None:
        """Queue ``item``; when full the oldest item goes (and ``dropped`` counts it)."""
        if len(self.items) == self.maxlen:
            self.dropped += 1
        self.items.append(item)
        self._ready.set()

    async def next(self) -> FeedItem:
        """The oldest queued item, waiting for one when none is queued."""
        while not self.items:
            self._ready.clear()
            await self._ready.wait()
        return self.items.popleft()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


class DashboardFeed:
    """Fan-out of state and events to the pages; never blocks, never raises into the tick.

    ``subscriber_queue``: items kept per page; ``recent_events``: events replayed to a page
    that connects; ``max_subscribers``: pages served at once (``subscribe`` raises
    ``OverflowError`` past it, so a page cannot exhaust the process).
    """

    def __init__(
        self,
        *,
        subscriber_queue: int = DEFAULT_SUBSCRIBER_QUEUE,
        recent_events: int = DEFAULT_RECENT_EVENTS,
        max_subscribers: int = DEFAULT_MAX_SUBSCRIBERS,
    ) -> None:
        if subscriber_queue < 1 or recent_events < 1 or max_subscribers < 1:
            raise ValueError("feed bounds must be >= 1")
        self.subscriber_queue = subscriber_queue
        self.max_subscribers = max_subscribers
        self.latest_state: dict[str, Any] | None = None
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=recent_events)
        self._subscribers: list[Subscription] = []

    @property
    def subscribers(self) -> int:
        """Pages connected now."""
        return len(self._subscribers)

    def publish_state(self, state: StateMessage) -> None:
        """The engine's validated state of a tick: kept as the latest and sent to every page."""
        body = state.model_dump(mode="json")
        self.latest_state = body
        self._fan_out(FeedItem("state", _json(body)))

    def publish_event(self, event: EventMessage) -> None:
        """One event: kept in the recent tail and sent to every page."""
        body = event.model_dump(mode="json")
        self.recent_events.append(body)
        self._fan_out(FeedItem("event", _json(body)))

    def publish_status(self, status: dict[str, Any]) -> None:
        """Guards, kill switch, command acks: anything else a page shows live."""
        self._fan_out(FeedItem("status", _json(status)))

    def _fan_out(self, item: FeedItem) -> None:
        for subscription in self._subscribers:
            subscription.push(item)

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A page's subscription, primed with the latest state; removed on exit.

        Raises ``OverflowError`` when ``max_subscribers`` pages are connected already.
        """
        if len(self._subscribers) >= self.max_subscribers:
            raise OverflowError(
                f"too many live pages are open (limit {self.max_subscribers}): close other "
                "tabs of this dashboard; this page retries in 15 s"
            )
        subscription = Subscription(self.subscriber_queue)
        if self.latest_state is not None:
            subscription.push(FeedItem("state", _json(self.latest_state)))
        self._subscribers.append(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.remove(subscription)
