"""The PostgreSQL store's own cases: a fleet sharing one database, a server that goes away and
comes back (through a TCP proxy this test stops and restarts), and its configuration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from store_backends import PG_URL, pg_sql, unique_schema
from tcp_proxy import TcpProxy

from bot.config import load_config
from bot.domain import Fill, FundingPayment, OrderIntent, OrderStatus, Side
from bot.errors import ConfigError, StoreError
from bot.store import open_store
from bot.store.meta import Meta
from bot.store.postgres import PostgresStore, bot_lock_key

pytestmark = pytest.mark.integration


def intent(cid: str) -> OrderIntent:
    return OrderIntent(cid, "ETH/USDT:USDT", Side.SELL, Decimal("0.5"), False, Decimal(1990))


def fill(trade_id: str, cid: str, fee: str) -> Fill:
    return Fill(
        trade_id,
        cid,
        "1",
        "ETH/USDT:USDT",
        Side.SELL,
        Decimal(1),
        Decimal(2000),
        Decimal(fee),
        Decimal(0),
        1000,
    )


@pytest.fixture
def schema() -> Iterator[str]:
    """A PostgreSQL schema of this test's own."""
    with unique_schema() as name:
        yield name


async def open_as(bot_id: str, schema: str, tmp_path: Path, url: str = PG_URL) -> PostgresStore:
    return await PostgresStore.open(url, bot_id, path=tmp_path / "s.sqlite", schema=schema)


async def test_two_bots_in_one_database_never_see_each_others_records(
    schema: str, tmp_path: Path
) -> None:
    """Bots ``a`` and ``b`` on one URL and schema: the same client order id, trade id and
    command id in both, yet each reads back only its own intents, fills, funding, commands,
    events and meta."""
    a, b = await open_as("a", schema, tmp_path), await open_as("b", schema, tmp_path)
    try:
        for store, fee in ((a, "1.5"), (b, "2.5")):
            await store.record_intent(1.0, 10, intent("hb-1"))
            assert await store.record_fill(fill("t1", "hb-1", fee)) is True
        await a.record_intent(1.0, 11, intent("hb-a-only"))
        await b.mark_intent("hb-1", OrderStatus.FILLED)
        await a.record_funding(
            FundingPayment(
                "f1",
                "ETH/USDT:USDT",
                Decimal("0.2"),
                Decimal("0.0001"),
                Decimal(-1),
                Decimal(2000),
                2000,
            )
        )
        await a.record_command(2.0, "c1", "pause", "ok", {"by": "a"})
        await b.record_command(2.0, "c1", "resume", "rejected", {"by": "b"})
        await b.record_event(3.0, "alert", {"alert": "risk.stale"})
        await a.set(Meta.PAUSED, True)

        assert [i.client_order_id for i in await a.unresolved_intents()] == ["hb-1", "hb-a-only"]
        assert await b.unresolved_intents() == []
        assert await a.intent_count() == 2
        assert await b.intent_count() == 1
        assert [f.fee_quote for f in await a.read_fills()] == [Decimal("1.5")]
        assert [f.fee_quote for f in await b.read_fills()] == [Decimal("2.5")]
        assert (await a.totals())["funding_quote"] == Decimal("0.2")
        assert (await b.totals())["funding_quote"] == Decimal(0)
        assert await a.command_statuses() == {"c1": "ok"}
        assert await b.command_statuses() == {"c1": "rejected"}
        assert await a.read_events() == []
        assert [e["alert"] for e in await b.read_events("alert")] == ["risk.stale"]
        assert await a.get(Meta.PAUSED) is True
        assert await b.get(Meta.PAUSED) is False
        assert await a.count("intents") == 2
        assert await b.count("commands") == 1
    finally:
        await a.close()
        await b.close()


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    """A stoppable relay to the test server."""
    target = urlsplit(PG_URL)
    relay = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await relay.start()
    yield relay
    if relay._server is not None:
        await relay.stop()


def via(proxy: TcpProxy) -> str:
    parts = urlsplit(PG_URL)
    return parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()


async def test_unreachable_database_refuses_every_write_and_resumes_when_back(
    schema: str, tmp_path: Path, proxy: TcpProxy
) -> None:
    """With the server cut off, each write and read raises ``StoreError`` (nothing is
    recorded, so nothing may be traded); once it answers again the same store writes on,
    with what was written before intact and nothing of the failed writes."""
    store = await PostgresStore.open(
        via(proxy), "bot1", path=tmp_path / "s.sqlite", schema=schema, timeout_s=1.0
    )
    try:
        await store.record_intent(1.0, 10, intent("before"))
        await proxy.stop()
        with pytest.raises(StoreError, match="store write failed"):
            await store.record_intent(2.0, 11, intent("while-down"))
        with pytest.raises(StoreError, match="store write failed"):
            await store.check_writable()
        with pytest.raises(StoreError, match="store read failed"):
            await store.unresolved_intents()
        await proxy.start()
        failures = await _writes_until_accepted(store)
        assert failures <= 2  # at most a pooled connection of the old server, then a new one
        ids = [i.client_order_id for i in await store.unresolved_intents()]
        assert ids == ["before", "after"]
    finally:
        await store.close()


async def _writes_until_accepted(store: PostgresStore, attempts: int = 50) -> int:
    """Write the ``after`` intent until the store accepts it; how many attempts failed."""
    for failed in range(attempts):
        try:
            await store.record_intent(3.0, 12, intent("after"))
        except StoreError:
            await asyncio.sleep(0.2)  # the pool reconnects in the background
            continue
        return failed
    raise AssertionError(f"the store did not resume after {attempts} attempts")


async def test_a_server_that_does_not_answer_is_refused_at_open_naming_it(
    schema: str, tmp_path: Path, proxy: TcpProxy
) -> None:
    """Opening against a closed port fails within the timeout with ``StoreError`` naming the
    server and schema (no password in it: the URL carries none)."""
    url = via(proxy)
    await proxy.stop()
    with pytest.raises(
        StoreError, match=rf"127\.0\.0\.1:{proxy.port}/postgres \(schema {schema}\)"
    ):
        await PostgresStore.open(url, "bot1", path=tmp_path / "s", schema=schema, timeout_s=1.0)


ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
POOL, BASE, QUOTE = ("0x" + digit * 40 for digit in "abc")  # one address per role


def write_config(tmp_path: Path, store: dict[str, object]) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "bot_id": "fleet-1",
                "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
                "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": ADDR}],
                "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
                "store": store,
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://postgres:hunter2@127.0.0.1:5432/postgres", "must not carry a password"),
        ("postgresql://postgres@127.0.0.1/postgres?password=hunter2", "must not carry a password"),
        ("mysql://root@127.0.0.1/hedgebot", "must be postgresql://"),
    ],
)
def test_store_url_with_a_password_or_another_scheme_is_refused(
    tmp_path: Path, url: str, reason: str
) -> None:
    """A store URL carrying a password, or not PostgreSQL's, is a config error saying why
    (and the password is not echoed back)."""
    with pytest.raises(ConfigError, match=reason) as caught:
        load_config(write_config(tmp_path, {"url": url}), require_secrets=False)
    assert "hunter2" not in str(caught.value)


def test_store_password_in_the_file_is_refused(tmp_path: Path) -> None:
    """The store password is a secret: the YAML file may not hold it."""
    config = write_config(tmp_path, {"url": PG_URL, "password": "hunter2"})
    with pytest.raises(ConfigError, match=r"store\.password"):
        load_config(config, require_secrets=False)


async def test_config_selects_the_postgresql_store_with_its_password_from_env(
    schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``store.url`` opens the shared database as the config's ``bot_id``; the password
    comes from ``HEDGEBOT_STORE__PASSWORD`` (trust auth here ignores it, libpq still sends
    it); without ``url`` the SQLite file at ``store.path`` is opened."""
    monkeypatch.setenv("HEDGEBOT_STORE__PASSWORD", "from-env")
    settings = load_config(
        write_config(tmp_path, {"url": PG_URL, "pg_schema": schema, "path": str(tmp_path / "k")}),
        require_secrets=False,
    )
    assert settings.store.password is not None
    assert settings.store.password.get_secret_value() == "from-env"
    store = await open_store(settings)
    try:
        assert isinstance(store, PostgresStore)
        await store.record_command(1.0, "c1", "pause", "ok", {})
        assert store.path == tmp_path / "k"  # local files (the kill switch) go beside it
    finally:
        await store.close()
    owner = await open_as("fleet-1", schema, tmp_path)
    try:
        assert await owner.command_statuses() == {"c1": "ok"}
    finally:
        await owner.close()
    monkeypatch.delenv("HEDGEBOT_STORE__PASSWORD")
    sqlite_settings = load_config(
        write_config(tmp_path, {"path": str(tmp_path / "one.sqlite")}), require_secrets=False
    )
    sqlite_store = await open_store(sqlite_settings)
    try:
        assert not isinstance(sqlite_store, PostgresStore)
        assert (tmp_path / "one.sqlite").is_file()
    finally:
        await sqlite_store.close()


async def test_a_database_that_does_not_exist_is_named_in_the_error(
    schema: str, tmp_path: Path
) -> None:
    """The server's own reason reaches the one-line error (here: no such database)."""
    url = urlsplit(PG_URL)._replace(path="/hedgebot_no_such_db").geturl()
    with pytest.raises(StoreError, match='database "hedgebot_no_such_db" does not exist'):
        await PostgresStore.open(url, "bot1", path=tmp_path / "s", schema=schema, timeout_s=2.0)


async def test_a_second_process_of_the_same_bot_is_refused_until_the_first_closes(
    schema: str, tmp_path: Path
) -> None:
    """One bot id holds its lock in the shared database (hosts cannot see each other's lock
    files): a second open of ``bot1`` is refused naming the bot, another bot id opens, and
    once the first closes ``bot1`` opens again; a report (read-only) never needs the lock."""
    first = await open_as("bot1", schema, tmp_path)
    try:
        with pytest.raises(StoreError, match="bot bot1 is already running against"):
            await open_as("bot1", schema, tmp_path)
        other = await open_as("bot2", schema, tmp_path)
        await other.close()
        reader = await PostgresStore.open(
            PG_URL, "bot1", path=tmp_path / "s", schema=schema, read_only=True
        )
        assert await reader.intent_count() == 0
        await reader.close()
    finally:
        await first.close()
    again = await open_as("bot1", schema, tmp_path)
    await again.close()


async def test_a_write_after_the_lock_connection_dropped_retakes_the_lock_or_is_refused(
    schema: str, tmp_path: Path, proxy: TcpProxy
) -> None:
    """``bot1`` writes through a relay that is then cut (its lock connection with it); a second
    ``bot1`` opens directly and takes the lock. The first one's next write is refused with
    ``StoreError`` naming the new holder, and nothing of it is stored; once the second
    closes, the first takes its lock again and writes on."""
    first = await PostgresStore.open(
        via(proxy), "bot1", path=tmp_path / "s", schema=schema, timeout_s=2.0
    )
    try:
        await first.record_intent(1.0, 10, intent("before"))
        await proxy.stop()
        await proxy.start()  # the same port: only the connections were lost
        second = await _open_once_the_lock_is_free("bot1", schema, tmp_path)
        try:
            with pytest.raises(StoreError) as refused:
                await first.record_intent(2.0, 11, intent("without-lock"))
            message = str(refused.value)
            assert "bot bot1 lost its lock on" in message
            assert "another process holds it now" in message
            second_pid = await _lock_holder_pid(second)
            assert f"server pid {second_pid}" in message
            assert "application 'hedgebot-lock " in message
            with pytest.raises(StoreError, match="bot bot1 lost its lock"):
                await first.check_writable()
            await second.record_intent(3.0, 12, intent("second"))
        finally:
            await second.close()
        await first.record_intent(4.0, 13, intent("after"))
        assert first.lock_retakes == 1
        rows = pg_sql("SELECT client_order_id FROM intents ORDER BY ts", schema=schema)
        assert [row[0] for row in rows] == ["before", "second", "after"]
    finally:
        await first.close()


async def test_a_lock_session_ended_by_the_server_is_retaken_before_the_next_write(
    schema: str, tmp_path: Path
) -> None:
    """Only the lock's session is ended (``pg_terminate_backend``, as an idle timeout or an
    operator would), the pool's connections stay up: the next write takes the lock again on
    a new session before it commits, so the lock is held by this store again afterwards."""
    store = await open_as("bot1", schema, tmp_path)
    try:
        await store.record_intent(1.0, 10, intent("before"))
        old_pid = await _lock_holder_pid(store)
        pg_sql("SELECT pg_terminate_backend(%s)", (old_pid,))
        await store.record_intent(2.0, 11, intent("after"))
        new_pid = await _lock_holder_pid(store)
        assert new_pid != old_pid
        assert store.lock_retakes == 1
        with pytest.raises(StoreError, match="bot bot1 is already running against"):
            await open_as("bot1", schema, tmp_path)
        ids = [i.client_order_id for i in await store.unresolved_intents()]
        assert ids == ["before", "after"]
    finally:
        await store.close()


async def _open_once_the_lock_is_free(bot_id: str, schema: str, tmp_path: Path) -> PostgresStore:
    """Open ``bot_id`` directly once the server has ended the cut session (it releases the
    lock when it notices the connection is gone)."""
    for _ in range(100):
        try:
            return await open_as(bot_id, schema, tmp_path)
        except StoreError as exc:
            if "already running" not in str(exc):
                raise
            await asyncio.sleep(0.05)
    raise AssertionError("the cut lock session was never released by the server")


async def _lock_holder_pid(store: PostgresStore) -> int:
    """The server pid holding ``store``'s bot lock, read from ``pg_locks`` by the store."""
    key = bot_lock_key("bot1", store.where.rsplit("schema ", 1)[1].rstrip(")"))
    rows = pg_sql(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND classid = %s::bigint::oid AND objid = %s::bigint::oid",
        ((key >> 32) & 0xFFFF_FFFF, key & 0xFFFF_FFFF),
    )
    assert len(rows) == 1, rows
    return int(rows[0][0])
