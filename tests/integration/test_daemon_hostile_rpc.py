"""`hedgebot run` and `hedgebot snapshot` against hostile RPC endpoints, as a user runs them.

An endpoint answering ``eth_blockNumber`` with 200,000 hex digits made `run` exit 1 (the
int→str conversion limit, raised again in the tick's crash handler) even with a healthy endpoint
listed second, and `snapshot` print a traceback; an RPC error message of 100 KB with an ESC byte
was printed and logged in full, raw; `snapshot` on swapped tokens printed a traceback. Uses the
`hedgebot localnet` and daemon helpers of ``test_daemon``; the hostile endpoint is a local
aiohttp server in the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from test_daemon import (  # noqa: F401 - fixtures (broker, daemons, localnet, prefix) by name
    Daemon,
    Localnet,
    broker,
    daemons,
    eventually,
    localnet,
    make_daemon,
    prefix,
)

from bot.sim.mosquitto import Broker

pytestmark = pytest.mark.integration

HEDGEBOT = [sys.executable, "-m", "bot"]
BIGINT = "0x" + "f" * 200_000
LONG_MESSAGE = "x" * 100_000 + "[/evil]\x1b[31m"


def bigint_answer(request: dict[str, Any]) -> dict[str, Any]:
    """The tester's ``bigint`` mode: every result is 200,000 hex digits."""
    return {"jsonrpc": "2.0", "id": request.get("id"), "result": BIGINT}


def long_error_answer(request: dict[str, Any]) -> dict[str, Any]:
    """The tester's ``errsecret`` mode: a 100 KB error message ending in ESC."""
    error = {"code": -32000, "message": LONG_MESSAGE}
    return {"jsonrpc": "2.0", "id": request.get("id"), "error": error}


@asynccontextmanager
async def hostile_rpc(answer: Callable[[dict[str, Any]], dict[str, Any]]) -> AsyncIterator[str]:
    """A JSON-RPC endpoint on a free local port answering every POST with ``answer``."""

    async def handle(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        return web.json_response(answer(body))

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def with_rpc(net: Localnet, workdir: Path, topics: str, urls: list[str]) -> Daemon:
    """A daemon on localnet's world whose RPC endpoints are ``urls`` (``"anvil"``: localnet's)."""
    daemon = make_daemon(net, workdir, topics)
    config: dict[str, Any] = yaml.safe_load(daemon.config.read_text())
    anvil = config["chain"]["rpc_urls"][0]
    config["chain"]["rpc_urls"] = [anvil if url == "anvil" else url for url in urls]
    config["chain"]["request_timeout_s"] = 2.0
    config["bot_id"] = f"daemon-{workdir.name}"  # one bot id each: several run at once
    daemon.config.write_text(yaml.safe_dump(config, sort_keys=False))
    return daemon


async def snapshot(config: Path) -> tuple[int, str, str, float]:
    """`hedgebot snapshot --config` as a subprocess: exit code, stdout, stderr, seconds."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT,
        "snapshot",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode(), time.monotonic() - started


def chain_failures(daemon: Daemon) -> list[dict[str, Any]]:
    return [
        e for e in daemon.log_events() if e["event"] == "tick.failed" and e.get("source") == "chain"
    ]


async def test_daemon_survives_bigint_and_long_error_endpoints_and_ticks_via_a_healthy_one(
    localnet: Localnet,  # noqa: F811
    broker: Broker,  # noqa: F811
    prefix: str,  # noqa: F811
    tmp_path: Path,
    daemons: list[Daemon],  # noqa: F811
) -> None:
    """Three daemons: the bigint endpoint alone, the 100 KB-ESC-error endpoint alone (both keep
    running, failing each poll as a chain error, bounded), and the bigint endpoint first with
    the healthy node second (it ticks; the hostile endpoint is scored down). Every log line
    is one bounded JSON line with no raw ESC; SIGTERM stops each cleanly (exit 0)."""
    async with hostile_rpc(bigint_answer) as bigint, hostile_rpc(long_error_answer) as errmsg:
        alone = with_rpc(localnet, tmp_path / "alone", prefix + "/a", [bigint])
        message = with_rpc(localnet, tmp_path / "message", prefix + "/m", [errmsg])
        failover = with_rpc(localnet, tmp_path / "failover", prefix + "/f", [bigint, "anvil"])
        for daemon in (alone, message, failover):
            daemons.append(daemon)
            await daemon.start(broker.url)
        await eventually(
            lambda: (
                len(chain_failures(alone)) >= 3
                and len(chain_failures(message)) >= 3
                and failover.logged("tick.completed") >= 2
            ),
            timeout_s=60,
        )
        for daemon in (alone, message, failover):
            assert daemon.proc is not None
            assert daemon.proc.returncode is None, daemon.log_path.read_text()[-3000:]
        codes = [await daemon.stop(signal.SIGTERM) for daemon in (alone, message, failover)]
    assert codes == [0, 0, 0]
    assert "eth_blockNumber" in chain_failures(alone)[-1]["error"]
    assert "not a quantity" in chain_failures(alone)[-1]["error"]
    assert "xxxx" in chain_failures(message)[-1]["error"]
    failed_endpoints = [e for e in failover.log_events() if e["event"] == "rpc.endpoint_failed"]
    assert failed_endpoints
    assert {e["endpoint"] for e in failed_endpoints} == {0}
    for daemon in (alone, message, failover):
        raw = daemon.log_path.read_text()
        assert "Traceback" not in raw
        assert "\x1b" not in raw
        assert max(len(line) for line in raw.splitlines()) < 5000
        assert all(len(e.get("error", "")) < 1500 for e in daemon.log_events())


async def test_snapshot_of_a_hostile_endpoint_prints_one_bounded_line(
    localnet: Localnet,  # noqa: F811
    prefix: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`snapshot` on the bigint endpoint and on the 100 KB-ESC-error endpoint: exit 1, one
    line on stderr naming the chain error, bounded, no raw ESC, no traceback, promptly; with
    the bigint endpoint first and the healthy node second it succeeds."""
    async with hostile_rpc(bigint_answer) as bigint, hostile_rpc(long_error_answer) as errmsg:
        results = {}
        for name, urls in (("bigint", [bigint]), ("errmsg", [errmsg]), ("ok", [bigint, "anvil"])):
            daemon = with_rpc(localnet, tmp_path / name, prefix, urls)
            results[name] = await snapshot(daemon.config)
    for name in ("bigint", "errmsg"):
        code, out, err, seconds = results[name]
        assert code == 1, err
        assert out == ""
        assert len(err.splitlines()) == 1, err[:2000]
        assert err.startswith("hedgebot: ChainError: eth_blockNumber")
        assert len(err) < 1500
        assert "\x1b" not in err
        assert seconds < 20
    assert "not a quantity" in results["bigint"][2]
    assert "…(+" in results["errmsg"][2]  # cut, and the cut is said
    code, out, err, _ = results["ok"]
    assert code == 0, err
    assert out.startswith("block ")


async def test_snapshot_refuses_swapped_tokens_as_run_does(
    localnet: Localnet,  # noqa: F811
    prefix: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """base_token and quote_token exchanged: `snapshot` runs the start-up checks of `run` and
    exits 2 with the config error naming hedge_asset.base_token (before: a traceback
    ``ValueError: price must be positive``)."""
    daemon = with_rpc(localnet, tmp_path / "swapped", prefix, ["anvil"])
    config: dict[str, Any] = yaml.safe_load(daemon.config.read_text())
    tokens = config["hedge_asset"]
    tokens["base_token"], tokens["quote_token"] = tokens["quote_token"], tokens["base_token"]
    daemon.config.write_text(yaml.safe_dump(config, sort_keys=False))
    code, out, err, _ = await snapshot(daemon.config)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("config error:\n  hedge_asset.base_token: ")
    assert "base and quote are swapped" in err
