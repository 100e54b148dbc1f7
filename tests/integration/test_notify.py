"""Alerts to people through the real apprise ``json://`` plugin to a local aiohttp receiver:
every alert kind once, severity filter and rate limit pinned, a hanging receiver never stops
the engine's ticks, and no URL secret in any log line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web

from bot.app import build_bot
from bot.chain.rpc import connect, rpc_request
from bot.clock import ManualClock
from bot.domain import ChainNotice
from bot.events import Alert
from bot.killswitch import FileKillSwitch
from bot.sim.anvil import Anvil
from bot.sim.localnet import local_settings, start_world
from bot.telemetry.bridge import TelemetryBridge
from bot.telemetry.messages import EventMessage
from bot.telemetry.notify import Notifier, build_notifier
from bot.telemetry.notify_settings import AlertsSettings, ResolvedTarget

pytestmark = pytest.mark.integration

SECRET = "tok-3f9a1c77e2"  # stands for a webhook token in the URL path

# every kind the engine raises, as it raises it (bot/engine.py, bot/tick_messages.py)
ENGINE_ALERTS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "alert",
        {"alert": "risk.margin_warn", "message": "margin 61%"},
        "risk.margin_warn",
        "warning",
    ),
    ("alert", {"alert": "risk.cleared", "rule": "margin_warn"}, "risk.margin_warn.cleared", "info"),
    (
        "alert",
        {"alert": "risk.margin_critical", "message": "m"},
        "risk.margin_critical",
        "critical",
    ),
    (
        "alert",
        {"alert": "risk.cleared", "rule": "margin_critical"},
        "risk.margin_critical.cleared",
        "info",
    ),
    ("alert", {"alert": "risk.stale_block", "message": "old"}, "risk.stale_block", "warning"),
    ("alert", {"alert": "risk.cleared", "rule": "stale_block"}, "risk.stale_block.cleared", "info"),
    (
        "alert",
        {"alert": "risk.kill_switch_flatten", "message": "k"},
        "risk.kill_switch_flatten",
        "critical",
    ),
    ("range.exited", {"position": "lp-v3", "block": 9}, "range.exited", "warning"),
    ("range.entered", {"position": "lp-v3", "block": 12}, "range.entered", "info"),
    (
        "alert",
        {"alert": "order.rejected", "client_order_id": "hb-1", "error": "margin"},
        "order.rejected",
        "warning",
    ),
    (
        "alert",
        {"alert": "order.outcome_unknown", "client_order_id": "hb-2"},
        "order.outcome_unknown",
        "critical",
    ),
    (
        "alert",
        {"alert": "position.unreadable", "error": "revert"},
        "position.unreadable",
        "critical",
    ),
    ("alert", {"alert": "position.readable", "cause": "revert"}, "position.readable", "info"),
    ("alert", {"alert": "position.duplicate", "detail": "a = b"}, "position.duplicate", "warning"),
]


@dataclass
class Receiver:
    """A webhook that records what apprise posts; paths starting /hang never answer."""

    port: int = 0
    got: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hanging: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = json.loads(await request.read())
        if name == "hang":
            self.hanging += 1
            self.arrived.set()
            await self.release.wait()
        self.got.setdefault(name, []).append(body)
        self.arrived.set()
        return web.json_response({})

    def url(self, name: str) -> str:
        return f"json://127.0.0.1:{self.port}/{name}/{SECRET}"

    def titles(self, name: str) -> list[str]:
        return [b["title"] for b in self.got.get(name, [])]

    async def wait_hanging(self, count: int) -> None:
        async with asyncio.timeout(30):
            while self.hanging < count:
                self.arrived.clear()
                await self.arrived.wait()

    async def wait_for(self, name: str, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.got.get(name, [])) < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/{name}/{tail:.*}", recv.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recv.port = runner.addresses[0][1]
    try:
        yield recv
    finally:
        recv.release.set()
        await runner.cleanup()


def notifier(clock: ManualClock, targets: list[ResolvedTarget], **settings: Any) -> Notifier:
    config = AlertsSettings(**{"send_timeout_s": 2.0, **settings})
    return Notifier(targets, config, bot_id="nt", clock=clock)


async def tick_through_a_freeze(
    stack: AsyncExitStack,
    settings: Any,
    rpc_url: str,
    clock: ManualClock,
    n: Notifier,
    ticks: int,
    freeze_at: int,
    clear_at: int,
) -> Any:
    """A bot whose telemetry feeds ``n`` ticks ``ticks`` new blocks, one a minute; the kill
    switch is frozen before tick ``freeze_at`` and cleared before tick ``clear_at``."""
    await n.start()
    bot = await build_bot(settings, clock=clock, telemetry=TelemetryBridge(clock=clock, notifier=n))
    stack.push_async_callback(bot.close)
    await bot.engine.start()
    switch = FileKillSwitch(bot.engine.guard.kill_switch.path, clock)
    w3 = connect(rpc_url)
    stack.push_async_callback(w3.provider.disconnect)
    for i in range(ticks):
        if i == freeze_at:
            switch.engage("freeze", "test", "cli")
        if i == clear_at:
            switch.clear()
        await rpc_request(w3, "evm_mine")
        clock.advance(60)
        await bot.engine.tick(int(await rpc_request(w3, "eth_blockNumber"), 16))
    return bot


async def test_each_alert_kind_once_with_its_severity_and_filter(receiver: Receiver) -> None:
    """Every engine alert reaches the info URL once, with its kind and severity in the title;
    the critical-only URL gets only the critical ones; the stop sends daemon.stopped."""
    clock = ManualClock()
    n = notifier(
        clock,
        [
            ResolvedTarget(receiver.url("all"), "info"),
            ResolvedTarget(receiver.url("crit"), "critical"),
        ],
    )
    bridge = TelemetryBridge(clock=clock, notifier=n)
    await n.start()
    with structlog.testing.capture_logs() as logs:
        for event_type, data, _, _ in ENGINE_ALERTS:
            bridge.deliver_event(EventMessage(type=event_type, ts=clock.now(), data=data))
            clock.advance(1)
        hold = EventMessage(type="decision", ts=clock.now(), data={"action": "hold"})
        bridge.deliver_event(hold)  # not for people
        await receiver.wait_for("all", len(ENGINE_ALERTS))
        await n.stop()
    expected = [f"hedgebot nt: {kind} ({sev})" for _, _, kind, sev in ENGINE_ALERTS]
    # each exactly once (two sends in flight per URL: arrival order may differ)
    stopped = "hedgebot nt: daemon.stopped (warning)"
    assert sorted(receiver.titles("all")) == sorted([*expected, stopped])
    critical = [t for t in expected if t.endswith("(critical)")]
    assert sorted(receiver.titles("crit")) == sorted(critical)
    assert (
        [b["type"] for b in receiver.got["crit"]] == ["failure"] * len(critical) == ["failure"] * 4
    )
    (first,) = [b for b in receiver.got["all"] if "risk.margin_warn (" in b["title"]]
    assert first["message"] == "message: margin 61%"
    assert first["type"] == "warning"
    crit_stats = n.stats()[f"1:json://127.0.0.1:{receiver.port}/…"]
    assert (crit_stats.sent, crit_stats.filtered) == (4, len(ENGINE_ALERTS) - 4 + 1)
    assert SECRET not in repr(logs)


async def test_rate_limit_per_kind_counts_what_it_held_back(receiver: Receiver) -> None:
    """Within rate_limit_s a kind goes out once (other kinds are not held); its clear goes out
    at once and says how many trips were held back before it."""
    clock = ManualClock()
    n = notifier(  # one send at a time: arrival order is submission order
        clock, [ResolvedTarget(receiver.url("rl"), "info")], rate_limit_s=300, max_in_flight=1
    )
    await n.start()
    trip = {"alert": "risk.stale_block", "message": "old"}
    for _ in range(3):
        n.submit("alert", trip)
        clock.advance(10)
    n.submit("alert", {"alert": "risk.cleared", "rule": "stale_block"})
    await receiver.wait_for("rl", 2)
    clock.advance(300)
    n.submit("alert", trip)
    await receiver.wait_for("rl", 3)
    await n.stop()
    titles = receiver.titles("rl")
    assert titles[:3] == [
        "hedgebot nt: risk.stale_block (warning)",
        "hedgebot nt: risk.stale_block.cleared (info)",
        "hedgebot nt: risk.stale_block (warning)",
    ]
    # the clear ends the trips held back: counted in it, never sent after it
    assert receiver.got["rl"][1]["message"].endswith(
        "(2 more risk.stale_block before this held back by the rate limit)"
    )
    assert "held back" not in receiver.got["rl"][2]["message"]


async def test_rate_limit_is_per_chain_venue_and_position(receiver: Receiver) -> None:
    """Alerts as the engine raises them (``Alert`` events through the bridge, a chain read's
    notice naming its chain in ``entries``): chain B going unreadable 30 s after chain A is
    sent, so is the other venue's and the other position's; chain A again within
    rate_limit_s is held and counted in chain A's next one only."""
    clock = ManualClock()
    n = notifier(  # one send at a time: arrival order is submission order
        clock, [ResolvedTarget(receiver.url("mc"), "info")], rate_limit_s=300, max_in_flight=1
    )
    bridge = TelemetryBridge(clock=clock, notifier=n)
    await n.start()

    def chain_down(name: str) -> Alert:
        notice = ChainNotice("chain.unreadable", f"chain {name}: timeout", (name,))
        return Alert.of(notice.alert, block=7, entries=notice.entries, detail=notice.detail)

    raised = [
        chain_down("a"),
        chain_down("b"),
        chain_down("a"),  # held: chain a, 300 s not passed
        Alert.of("venue.authentication_refused", venue="bybit", error="key"),
        Alert.of("venue.authentication_refused", venue="okx", error="key"),
        Alert.of("position.duplicate", entries=("lp-1", "lp-2"), detail="lp-1 = lp-2"),
        Alert.of("position.duplicate", entries=("lp-3", "lp-4"), detail="lp-3 = lp-4"),
    ]
    for alert in raised:
        bridge.publish_event(alert)
        clock.advance(30)
    await receiver.wait_for("mc", 6)
    clock.advance(300)
    bridge.publish_event(chain_down("a"))
    bridge.publish_event(chain_down("b"))
    await receiver.wait_for("mc", 8)
    await n.stop()
    got = receiver.got["mc"]
    down = "hedgebot nt: chain.unreadable (critical)"
    refused = "hedgebot nt: venue.authentication_refused (critical)"
    duplicate = "hedgebot nt: position.duplicate (warning)"
    assert [b["title"] for b in got[:8]] == [
        down,
        down,
        refused,
        refused,
        duplicate,
        duplicate,
        down,
        down,
    ]
    about = ("detail", "venue")
    assert [
        next(line for line in b["message"].split("\n") if line.startswith(about)) for b in got[:8]
    ] == [
        "detail: chain a: timeout",
        "detail: chain b: timeout",
        "venue: bybit",
        "venue: okx",
        "detail: lp-1 = lp-2",
        "detail: lp-3 = lp-4",
        "detail: chain a: timeout",
        "detail: chain b: timeout",
    ]
    assert got[6]["message"].endswith("(1 more of this kind held back by the rate limit)")
    assert "held back" not in got[7]["message"]
    assert n.stats()["*"].suppressed == 0  # the held-back one was counted in chain a's next


async def test_a_hanging_receiver_never_stops_the_ticks(
    anvil_node: Anvil, tmp_path: Path, receiver: Receiver
) -> None:
    """A real engine on anvil + paper venue ticks 24 blocks while one webhook never answers:
    every tick completes; the healthy webhook gets the kill switch trip and its clear once
    each; the hanging one holds only its in-flight sends and its queue drops the oldest."""
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(start_world(anvil_node.rpc_url, seed=3))
        clock = ManualClock(float(world.start_timestamp))
        settings = local_settings(world, tmp_path, bot_id="nt")
        alerts = AlertsSettings(
            targets=[{"url_env": "OK_URL", "min_severity": "info"}, {"url_env": "HANG_URL"}],
            queue_size=2,
            max_in_flight=1,
            send_timeout_s=0.5,
        )
        # apprise's read timeout of 600 s: a tick that waited for this hook would never end
        # before the test's own timeout, so 24 completed ticks mean none waited for it
        hang_url = receiver.url("hang") + "?rto=600"
        env = {"OK_URL": receiver.url("ok"), "HANG_URL": hang_url}
        n = build_notifier(alerts, env, bot_id="nt", clock=clock)
        assert n is not None
        bot = await tick_through_a_freeze(stack, settings, world.rpc_url, clock, n, 24, 4, 14)
        assert bot.engine.stats.ticks == 24  # every tick ran while the hook hung
        await receiver.wait_for("ok", 2)
        await receiver.wait_hanging(1)
        assert receiver.hanging == 1  # max_in_flight: one thread, held until it ends
        assert "hang" not in receiver.got
        titles = receiver.titles("ok")
        assert titles.count("hedgebot nt: risk.kill_switch_freeze (critical)") == 1
        assert titles.count("hedgebot nt: risk.kill_switch_freeze.cleared (info)") == 1
        await n.stop(drain_timeout_s=0.5)
        assert bot.engine.stats.ticks == 24


async def test_no_secret_reaches_a_log_line(
    receiver: Receiver, capfd: pytest.CaptureFixture[str]
) -> None:
    """Failures (refused connection, a credentialed URL) are logged with the URL masked; apprise's
    own logger is muted."""
    clock = ManualClock()
    dead = f"json://user:{SECRET}@127.0.0.1:9/{SECRET}"
    n = notifier(clock, [ResolvedTarget(dead, "info")])
    assert SECRET not in repr(n.targets)
    await n.start()
    with structlog.testing.capture_logs() as logs:
        n.submit("alert", {"alert": "order.rejected", "error": "x"})
        await n.stop(drain_timeout_s=10)
    out, err = capfd.readouterr()
    assert any(e["event"] in ("alert.send_failed", "alert.send_timeout") for e in logs)
    assert SECRET not in repr(logs)
    assert SECRET not in out + err


async def test_a_full_queue_drops_the_oldest_and_counts_it(receiver: Receiver) -> None:
    """One send hangs (max_in_flight 1); of four more notices a queue of two keeps the newest
    two and counts two drops; submit never waits."""
    clock = ManualClock()
    n = notifier(
        clock, [ResolvedTarget(receiver.url("hang"), "info")], queue_size=2, max_in_flight=1
    )
    await n.start()
    n.submit("alert", {"alert": "risk.first"})
    await receiver.wait_hanging(1)
    for i in range(4):
        n.submit("alert", {"alert": f"risk.later_{i}"})
    stats = n.stats()[f"0:json://127.0.0.1:{receiver.port}/…"]
    assert stats.dropped == 2
    assert receiver.hanging == 1
    await n.stop(drain_timeout_s=0.2)
    assert receiver.hanging == 1  # the queued ones never got a slot


async def test_with_default_settings_a_kill_switch_trip_and_its_clear_both_arrive(
    anvil_node: Anvil, tmp_path: Path, receiver: Receiver
) -> None:
    """The documented setup (a target and an HEDGEBOT_ALERTS__URLS entry, no min_severity):
    a kill-switch freeze and its clear reach each receiver once each, two messages."""
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(start_world(anvil_node.rpc_url, seed=4))
        clock = ManualClock(float(world.start_timestamp))
        settings = local_settings(world, tmp_path, bot_id="nd")
        alerts = AlertsSettings(urls=[receiver.url("urls")], targets=[{"url_env": "PHONE_URL"}])
        n = build_notifier(alerts, {"PHONE_URL": receiver.url("phone")}, bot_id="nd", clock=clock)
        assert n is not None
        await tick_through_a_freeze(stack, settings, world.rpc_url, clock, n, 8, 2, 5)
        for name in ("phone", "urls"):
            await receiver.wait_for(name, 2)
        await asyncio.sleep(0.2)  # nothing else is on its way
        expected = [
            "hedgebot nd: risk.kill_switch_freeze (critical)",
            "hedgebot nd: risk.kill_switch_freeze.cleared (info)",
        ]
        assert sorted(receiver.titles("phone")) == expected
        assert sorted(receiver.titles("urls")) == expected
        await n.stop()


async def test_a_hanging_receiver_delays_the_stop_at_most_the_drain_bound(
    receiver: Receiver,
) -> None:
    """A receiver that never answers: stop() returns within its drain bound (2 s), drops what
    is still queued and says how many, while a healthy URL still gets daemon.stopped."""
    clock = ManualClock()
    n = Notifier(
        [ResolvedTarget(receiver.url("hang"), "info"), ResolvedTarget(receiver.url("ok"), "info")],
        AlertsSettings(max_in_flight=1, send_timeout_s=30),
        bot_id="nt",
        clock=clock,
    )
    await n.start()
    for i in range(3):
        n.submit("alert", {"alert": f"risk.rule_{i}"})
    await receiver.wait_hanging(1)
    with structlog.testing.capture_logs() as logs:
        started = asyncio.get_running_loop().time()
        await n.stop()
        took = asyncio.get_running_loop().time() - started
    assert took < 3.0
    (dropped,) = [e for e in logs if e["event"] == "alerts.dropped_at_stop"]
    assert dropped["count"] == 3  # risk.rule_1, risk.rule_2 and daemon.stopped, queued
    assert dropped["abandoned_sends"] == 1
    assert "hedgebot nt: daemon.stopped (warning)" in receiver.titles("ok")
    assert n.stats()[f"0:json://127.0.0.1:{receiver.port}/…"].dropped == 3


async def test_a_retrip_after_its_clear_is_sent_and_the_last_message_is_the_state(
    receiver: Receiver,
) -> None:
    """Default rate limit (300 s): trip, clear 30 s later, trip again 30 s later: all three
    reach the receiver, the last one the trip (review 2 of issue 18: the second trip was
    held for good and people's last message said "cleared")."""
    clock = ManualClock()
    n = Notifier(
        [ResolvedTarget(receiver.url("retrip"), "info")],
        AlertsSettings(max_in_flight=1),
        bot_id="nt",
        clock=clock,
    )
    await n.start()
    n.submit("alert", {"alert": "risk.margin_critical", "message": "margin critical #1"})
    clock.advance(30)
    n.submit("alert", {"alert": "risk.cleared", "rule": "margin_critical"})
    clock.advance(30)
    n.submit("alert", {"alert": "risk.margin_critical", "message": "margin critical #2"})
    await receiver.wait_for("retrip", 3)
    await n.stop()
    assert receiver.titles("retrip")[:3] == [
        "hedgebot nt: risk.margin_critical (critical)",
        "hedgebot nt: risk.margin_critical.cleared (info)",
        "hedgebot nt: risk.margin_critical (critical)",
    ]
    assert receiver.got["retrip"][2]["message"] == "message: margin critical #2"


async def test_held_back_notices_go_out_when_the_window_ends_without_a_later_alert(
    receiver: Receiver,
) -> None:
    """Three order rejections within the window: the first at once; once the window has
    ended on the clock, the newest held one goes out by the notifier's own timer, with no
    later alert of its kind, saying two were held."""
    clock = ManualClock()
    n = Notifier(
        [ResolvedTarget(receiver.url("burst"), "info")],
        AlertsSettings(max_in_flight=1, rate_limit_s=300),
        bot_id="nt",
        clock=clock,
        flush_every_s=0.02,
    )
    await n.start()
    for i in range(3):
        n.submit("alert", {"alert": "order.rejected", "error": f"margin {i}"})
        clock.advance(10)
    await receiver.wait_for("burst", 1)
    assert n.stats()["*"].suppressed == 2
    clock.advance(300)
    await receiver.wait_for("burst", 2)  # no submit: the timer sent it
    assert n.stats()["*"].suppressed == 0
    await n.stop()
    first, released = receiver.got["burst"][:2]
    assert first["message"] == "error: margin 0"
    assert released["title"] == "hedgebot nt: order.rejected (warning)"
    assert released["message"] == (
        "error: margin 2\n(2 of this kind held back by the rate limit, the newest shown)"
    )
