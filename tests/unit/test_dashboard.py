"""The dashboards' pure parts: feed fan-out bounds, command gate (token, Host, Origin, CSRF),
bind refusal, flatten confirmation, command hub through the validator, history helpers."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from bot.errors import ConfigError
from bot.telemetry.dashboard.bot_page import flatten_confirmed
from bot.telemetry.dashboard.command_hub import MAX_PENDING_ACKS, CommandHub
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.fleet import EXPIRE_S, MAX_BOTS, STATELESS_EXPIRE_S, FleetBoard
from bot.telemetry.dashboard.history import event_log, thin, window_start
from bot.telemetry.dashboard.security import (
    CommandGate,
    check_bind,
    is_loopback,
    served_names,
    token_from_env,
)
from bot.telemetry.messages import EventMessage, StateMessage

pytestmark = pytest.mark.unit

TOKEN = "t" * 24


def _state(block: int, bot_id: str = "b1") -> StateMessage:
    zero = Decimal(0)
    return StateMessage(
        bot_id=bot_id,
        block=block,
        timestamp=block,
        price=Decimal(2000),
        delta_base=Decimal(block),
        target_base=-Decimal(block),
        hedge_base=zero,
        drift_base=zero,
        band_base=Decimal(1),
    )


def _event(n: int) -> EventMessage:
    return EventMessage(type="alert", ts=float(n), data={"alert": f"a{n}"})


def test_slow_page_keeps_only_the_newest_items_and_counts_the_rest() -> None:
    """A page that reads nothing holds at most its queue size; the oldest are dropped."""
    feed = DashboardFeed(subscriber_queue=3)
    with feed.subscribe() as page:
        for n in range(10):
            feed.publish_event(_event(n))
        assert len(page.items) == 3
        assert page.dropped == 7
        assert [json.loads(i.data)["data"]["alert"] for i in page.items] == ["a7", "a8", "a9"]


def test_each_page_has_its_own_queue_and_a_new_page_gets_the_latest_state() -> None:
    """Fan-out: a slow page does not take items from a fast one; connecting shows the state."""
    feed = DashboardFeed(subscriber_queue=2)
    feed.publish_state(_state(1))
    feed.publish_state(_state(2))
    with feed.subscribe() as slow, feed.subscribe() as fast:
        assert json.loads(slow.items[0].data)["block"] == 2
        fast.items.clear()
        feed.publish_state(_state(3))
        assert [json.loads(i.data)["block"] for i in fast.items] == [3]
        assert [json.loads(i.data)["block"] for i in slow.items] == [2, 3]
    assert feed.subscribers == 0


async def test_next_waits_for_an_item() -> None:
    """``next`` returns what is published after the page started waiting."""
    feed = DashboardFeed()
    with feed.subscribe() as page:
        waiting = asyncio.ensure_future(page.next())
        await asyncio.sleep(0)
        feed.publish_event(_event(1))
        item = await asyncio.wait_for(waiting, 1)
    assert item.kind == "event"
    assert item.sse().startswith(b"event: event\ndata: {")


def test_pages_beyond_the_limit_are_refused_and_recent_events_are_bounded() -> None:
    """A process serves at most ``max_subscribers`` pages and keeps ``recent_events``."""
    feed = DashboardFeed(max_subscribers=1, recent_events=5)
    for n in range(8):
        feed.publish_event(_event(n))
    assert len(feed.recent_events) == 5
    with feed.subscribe(), pytest.raises(OverflowError), feed.subscribe():
        pass


def _headers(**extra: str) -> dict[str, str]:
    gate_headers = {
        "Host": "127.0.0.1:9108",
        "Origin": "http://127.0.0.1:9108",
        "Content-Type": "application/json",
        "X-CSRF-Token": "csrf-1",
        "Authorization": f"Bearer {TOKEN}",
    }
    gate_headers.update(extra)
    return gate_headers


GATE = CommandGate(token=TOKEN, port=9108, csrf_token="csrf-1")


def test_a_same_origin_request_with_token_and_csrf_passes() -> None:
    """The page's own request is allowed."""
    assert GATE.refusal(_headers()) is None
    assert GATE.refusal(_headers(Host="localhost:9108", Origin="http://localhost:9108")) is None


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"Authorization": ""}, 401, "operator token required"),
        ({"Authorization": "Bearer wrong-token-wrong-token"}, 401, "wrong operator token"),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "operator token required"),
        ({"Origin": "http://evil.example"}, 403, "cross-site"),
        ({"Origin": ""}, 403, "cross-site"),
        ({"Host": "evil.example:9108", "Origin": "http://evil.example:9108"}, 403, "Host"),
        ({"Host": "127.0.0.1:9999", "Origin": "http://127.0.0.1:9999"}, 403, "Host"),
        ({"Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site"),
        ({"Content-Type": "text/plain"}, 415, "JSON"),
        ({"X-CSRF-Token": ""}, 403, "CSRF"),
        ({"X-CSRF-Token": "csrf-2"}, 403, "CSRF"),
    ],
)
def test_requests_missing_a_check_are_refused(
    change: dict[str, str], status: int, words: str
) -> None:
    """Each missing or wrong element of a command request is refused, naming it."""
    refused = GATE.refusal(_headers(**change))
    assert refused is not None
    assert refused.status == status
    assert words in refused.reason


def test_without_a_token_every_command_is_refused() -> None:
    """No HEDGEBOT_DASHBOARD_TOKEN: the page reads, but commands are disabled."""
    gate = CommandGate(token=None, port=9108, csrf_token="csrf-1")
    refused = gate.refusal(_headers())
    assert refused is not None
    assert refused.status == 403
    assert "HEDGEBOT_DASHBOARD_TOKEN" in refused.reason


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_binds_need_no_token(host: str) -> None:
    """Reading on loopback needs no login."""
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "dashboard.example"])
def test_a_non_loopback_bind_without_a_token_refuses_to_start(host: str) -> None:
    """A bind beyond loopback without a token is a ConfigError naming the variable."""
    with pytest.raises(ConfigError, match="HEDGEBOT_DASHBOARD_TOKEN"):
        check_bind(host, None)
    check_bind(host, TOKEN)


def test_a_short_token_is_refused_and_an_empty_one_is_none() -> None:
    """A guessable token is a ConfigError; unset or empty means commands are disabled."""
    with pytest.raises(ConfigError, match="at least 16"):
        token_from_env({"HEDGEBOT_DASHBOARD_TOKEN": "short"})
    assert token_from_env({"HEDGEBOT_DASHBOARD_TOKEN": ""}) is None
    assert token_from_env({"HEDGEBOT_DASHBOARD_TOKEN": TOKEN}) == TOKEN


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("b1", True),
        ("FLATTEN", True),
        ("flatten", False),
        ("", False),
        (None, False),
        ("b1 ", False),
    ],
)
def test_flatten_needs_the_bot_id_or_the_word_typed_exactly(typed: object, ok: bool) -> None:
    """The typed confirmation is exact."""
    assert flatten_confirmed(typed, "b1") is ok


async def test_page_commands_go_through_the_validator_and_get_the_engines_ack() -> None:
    """A valid command is queued for the engine and answered with its ack; a bad one is
    rejected by the validator naming the field, and never queued."""
    hub = CommandHub("b1")
    waiting = asyncio.ensure_future(hub.submit("set_hedge_ratio", {"value": "0.8"}, wait_s=5))
    command = await asyncio.wait_for(hub.commands.get(), 1)
    assert command.command == "set_hedge_ratio"
    await hub.ack(command.id, True)
    ack = await waiting
    assert (ack.status, ack.command) == ("applied", "set_hedge_ratio")
    assert hub.validator.is_applied(command.id)
    bad = await hub.submit("set_hedge_ratio", {"value": "5"}, wait_s=0.1)
    assert bad.status == "rejected"
    assert "value" in (bad.reason or "")
    assert hub.commands.empty()


async def test_acks_of_other_commands_go_to_the_mqtt_channel() -> None:
    """The hub shares the MQTT queue and passes the acks of MQTT commands back to it."""

    class Upstream:
        def __init__(self) -> None:
            self.commands: asyncio.Queue = asyncio.Queue()  # type: ignore[type-arg]
            self.acks: list[tuple[str, bool]] = []

        async def ack(self, command_id: str, ok: bool, reason: str | None = None) -> None:
            self.acks.append((command_id, ok))

    upstream = Upstream()
    hub = CommandHub("b1")
    hub.attach(upstream)
    assert hub.commands is upstream.commands
    await hub.ack("mqtt-1", False, "no")
    assert upstream.acks == [("mqtt-1", False)]


def test_history_helpers_window_thin_and_filter() -> None:
    """Ranges end at the last point; thinning keeps the last row; filters select kinds."""
    assert window_start(10_000.0, "1h") == 6_400.0
    assert window_start(10_000.0, "all") is None
    rows = list(range(10_001))
    kept = thin(rows, 100)
    assert len(kept) <= 101
    assert kept[-1] == 10_000
    recorded = [{"ts": 1.0, "type": "alert", "alert": "margin.warn"}]
    live = [{"ts": 2.0, "type": "order", "data": {"status": "filled"}}]
    live += [{"ts": 3.0, "type": "range.exited", "data": {}}]
    log = event_log(recorded, live)
    assert [row["type"] for row in log] == ["range.exited", "order", "alert"]
    assert log[2]["data"] == {"alert": "margin.warn"}
    assert [r["type"] for r in event_log(recorded, live, frozenset({"range"}))] == ["range.exited"]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fleet_spam_ids_never_lock_out_a_real_bot() -> None:
    """3000 ids with a non-retained ``online`` and nothing else, then a real bot (retained
    status and state): the real bot is on the board, spam was evicted (counted), the board
    stays at its capacity and a bot with state outlives the spam."""
    clock = _Clock()
    board = FleetBoard("hb", DashboardFeed(), clock=clock)
    board.apply("hb/early/status", b"online", retained=True)
    board.apply("hb/early/state", _state(5, "early").model_dump_json().encode(), retained=True)
    for i in range(3000):
        clock.now += 0.01
        board.apply(f"hb/spam{i}/status", b"online")
    board.apply("hb/real/status", b"online", retained=True)
    board.apply("hb/real/state", _state(7, "real").model_dump_json().encode(), retained=True)
    ids = {row["bot_id"] for row in board.rows()}
    assert {"real", "early"} <= ids
    assert len(ids) == MAX_BOTS
    assert board.counts() == {"capacity": MAX_BOTS, "evicted": 3000 + 2 - MAX_BOTS, "expired": 0}
    assert board.row("real")["block"] == 7


def test_fleet_ids_unheard_for_a_while_expire_and_the_page_is_told() -> None:
    """An id without state expires after STATELESS_EXPIRE_S unheard, a bot with state only
    after EXPIRE_S; each removal is pushed to the pages with the counts."""
    clock = _Clock()
    feed = DashboardFeed()
    board = FleetBoard("hb", feed, clock=clock)
    board.apply("hb/noise/status", b"online")
    board.apply("hb/real/state", _state(3, "real").model_dump_json().encode(), retained=True)
    with feed.subscribe() as page:
        clock.now += STATELESS_EXPIRE_S + 1
        board.apply("hb/other/status", b"online")
        assert {r["bot_id"] for r in board.rows()} == {"real", "other"}
        clock.now += EXPIRE_S
        board.apply("hb/new/status", b"online")
        assert {r["bot_id"] for r in board.rows()} == {"new"}
        removed = [
            json.loads(i.data) for i in page.items if json.loads(i.data)["kind"] == "removed"
        ]
    assert [r["bot_id"] for r in removed] == ["noise", "real", "other"]
    assert board.counts()["expired"] == 3


_GOOD_STATE = _state(1).model_dump(mode="json")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b'{"bot_id": "bad"}', "bad state payload: block: required (+7 more)"),
        (
            json.dumps({**_GOOD_STATE, "delta_base": None}).encode(),
            "bad state payload: delta_base: must be a number",
        ),
        (b"not json", "bad state payload: not JSON (expected ident at line 1 column 2)"),
        (
            json.dumps({**_GOOD_STATE, "drift_base": "NaN"}).encode(),
            "bad state payload: drift_base: must be a finite number",
        ),
        (
            json.dumps({**_GOOD_STATE, "\x1b[31m" * 40: 1}).encode(),
            "bad state payload: \\x1b[31m",  # escaped, then cut
        ),
    ],
)
def test_a_fleet_row_with_bad_data_says_why(payload: bytes, problem: str) -> None:
    """A bot whose state does not validate keeps a row whose ``problem`` names the field and
    the reason (escaped, bounded), not only a count of errors."""
    board = FleetBoard("hb", DashboardFeed())
    board.apply("hb/bad/state", payload, retained=True)
    shown = board.row("bad")["problem"]
    assert shown is not None
    assert shown.startswith(problem)
    assert len(shown) <= 160
    assert "\x1b" not in shown


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example:9108"}, 421),
        ({"Host": "127.0.0.1:9999"}, 421),
        ({"Host": "localhost"}, 421),
        ({"Host": ""}, 421),
        ({"Host": "127.0.0.1:9108", "Origin": "http://evil.example"}, 403),
        ({"Host": "127.0.0.1:9108", "Sec-Fetch-Site": "cross-site"}, 403),
        ({"Host": "127.0.0.1:9108", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}, 403),
        ({"Host": "127.0.0.1:9108"}, None),
        ({"Host": "localhost:9108", "Sec-Fetch-Site": "same-origin"}, None),
        ({"Host": "[::1]:9108", "Sec-Fetch-Site": "none"}, None),
        ({"Host": "10.1.2.3:9108"}, None),  # a wildcard bind scraped by its address
        ({"Host": "[fd00::5]:9108"}, None),
        (
            {
                "Host": "127.0.0.1:9108",
                "Sec-Fetch-Site": "cross-site",
                "Sec-Fetch-Mode": "navigate",
            },
            None,
        ),
        ({"Host": "127.0.0.1:9108", "Origin": "http://127.0.0.1:9108"}, None),
    ],
)
def test_every_read_checks_host_and_cross_site_headers(
    headers: dict[str, str], status: int | None
) -> None:
    """Reads (GET of any route) are refused for a foreign Host (421) and another site's
    fetch (403); loopback names, IP literals on our port and top-level navigation pass."""
    refused = GATE.read_refusal(headers)
    assert (None if refused is None else refused.status) == status


def test_the_bind_host_is_a_served_name() -> None:
    """A named or addressed bind adds itself to the Host names; loopback/wildcard add none."""
    assert served_names("dash.example") == frozenset({"dash.example"})
    assert served_names("fd00::5") == frozenset({"[fd00::5]"})
    assert served_names("0.0.0.0") == served_names("127.0.0.1") == frozenset()
    gate = CommandGate(token=TOKEN, port=9200, extra_hosts=served_names("dash.example"))
    assert gate.read_refusal({"Host": "dash.example:9200"}) is None
    refused = gate.read_refusal({"Host": "dash.example.evil:9200"})
    assert refused is not None
    assert refused.status == 421


async def test_page_commands_never_acked_are_bounded_and_their_late_acks_not_sent_to_mqtt() -> None:
    """The engine takes 100 page commands and acks none: at most ``MAX_PENDING_ACKS`` wait;
    a forgotten one's late ack is dropped (not passed to the MQTT channel), a kept one's still
    marks it applied."""

    class Upstream:
        def __init__(self) -> None:
            self.commands: asyncio.Queue = asyncio.Queue()  # type: ignore[type-arg]
            self.acks: list[str] = []

        async def ack(self, command_id: str, ok: bool, reason: str | None = None) -> None:
            self.acks.append(command_id)

    upstream = Upstream()
    hub = CommandHub("b1")
    hub.attach(upstream)
    taken = []
    for _ in range(100):
        ack = await hub.submit("set_hedge_ratio", {"value": "0.8"}, wait_s=0)
        assert ack.status == "queued"
        taken.append(hub.commands.get_nowait().id)
        assert hub.pending_acks <= MAX_PENDING_ACKS
    assert hub.pending_acks == MAX_PENDING_ACKS
    await hub.ack(taken[0], True)
    await hub.ack(taken[-1], True)
    assert upstream.acks == []
    assert hub.validator.is_applied(taken[-1])
    assert hub.pending_acks == MAX_PENDING_ACKS - 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"X-CSRF-Token": "é"}, 403),
        ({"X-CSRF-Token": "\udcff\udcfe"}, 403),  # raw bytes as aiohttp decodes them
        ({"X-CSRF-Token": "\ud800"}, 403),  # a lone surrogate
        ({"X-CSRF-Token": "é" * 10_000}, 403),
        ({"Authorization": "Bearer é"}, 401),
        ({"Authorization": "Bearer " + "é" * 10_000}, 401),
        ({"Authorization": "Bearer \ud800"}, 401),
    ],
)
def test_non_ascii_or_huge_secrets_are_refused_never_raised(
    change: dict[str, str], status: int
) -> None:
    """The CSRF and operator tokens compare as bytes: any text is a refusal, not TypeError."""
    refused = GATE.refusal(_headers(**change))
    assert refused is not None
    assert refused.status == status
