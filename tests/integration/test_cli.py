"""The command line as a user runs it: `hedgebot localnet`, then `snapshot --json` against it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.chain.rpc import checksum, connect
from bot.core.amm import to_units

pytestmark = pytest.mark.integration

HEDGEBOT = [sys.executable, "-m", "bot"]
PAIR_ABI = json.loads(
    (Path(__file__).parents[2] / "bot/chain/abi/uniswap_v2_pair.json").read_text()
)


async def run_cli(
    *args: str, timeout_s: float = 120.0, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def localnet_dir(tmp_path: Path) -> AsyncIterator[Path]:
    """`hedgebot localnet --no-market` running in the background until the test ends."""
    out = tmp_path / "localnet"
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT,
        "localnet",
        "--out",
        str(out),
        "--no-market",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(120):
            while not (out / "localnet.json").exists():
                assert proc.returncode is None, "localnet exited early"
                await asyncio.sleep(0.2)
        yield out
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]


async def test_snapshot_json_delta_equals_base_reserve_share_to_the_wei(
    localnet_dir: Path,
) -> None:
    """`snapshot --json` against `localnet` reports the LP's share of the base reserve exactly."""
    code, out, err = await run_cli(
        "snapshot", "--config", str(localnet_dir / "config.yaml"), "--json"
    )
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    for key in ("block", "price", "delta_base", "target_base", "hedge_base", "drift_base"):
        assert key in result
    assert result["decision"]["action"] == "rebalance"  # nothing hedged yet
    position = result["positions"][0]
    assert position["kind"] == "v2"

    info = json.loads((localnet_dir / "localnet.json").read_text())
    contracts = info["contracts"]
    w3 = connect(info["rpc_url"])
    try:
        pair = w3.eth.contract(address=checksum(contracts["pair"]), abi=PAIR_ABI)
        block = result["block"]
        reserve0, reserve1, _ = await pair.functions.getReserves().call(block_identifier=block)
        supply = await pair.functions.totalSupply().call(block_identifier=block)
        balance = await pair.functions.balanceOf(checksum(contracts["lp_account"])).call(
            block_identifier=block
        )
    finally:
        await w3.provider.disconnect()
    reserve_base = reserve0 if contracts["base_is_token0"] else reserve1
    expected = to_units(balance * reserve_base // supply, contracts["base_decimals"])
    assert Decimal(position["delta_base"]) == expected
    assert Decimal(result["delta_base"]) == expected
    assert Decimal(result["target_base"]) == -expected


async def test_check_config_names_negative_threshold_and_missing_pool(tmp_path: Path) -> None:
    """`check-config` exits 2 and names both bad fields."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "chain: {rpc_urls: ['http://127.0.0.1:8545']}\n"
        "positions: [{id: lp, kind: v2, owner: '0x" + "1" * 40 + "'}]\n"
        "hedge_asset: {base_token: '0x" + "2" * 40 + "', quote_token: '0x" + "3" * 40 + "'}\n"
        "hedge: {threshold_base: -0.5}\n"
    )
    code, _, err = await run_cli("check-config", str(bad))
    assert code == 2
    assert "hedge.threshold_base: must be > 0" in err
    assert "positions.0.pool: required" in err


async def test_shipped_configs_are_valid() -> None:
    """Every config the repository ships passes `check-config` (exchange keys come from env, so
    dummy ones are given; without them a ccxt config is refused, naming the env variables)."""
    root = Path(__file__).parents[2] / "config"
    shipped = sorted(root.glob("*.yaml"))
    assert shipped
    keys = {"HEDGEBOT_EXCHANGE__API_KEY": "dummy-key", "HEDGEBOT_EXCHANGE__API_SECRET": "dummy"}
    # Hyperliquid's credentials are checked for their form: a wallet address and an agent
    # wallet's private key (dummy, but well-formed)
    hl_secret = "0x" + "d1" * 32
    hl_keys = {
        "HEDGEBOT_EXCHANGE__API_KEY": "0x" + "0" * 39 + "1",
        "HEDGEBOT_EXCHANGE__API_SECRET": hl_secret,
    }
    for path in shipped:
        env = hl_keys if "hyperliquid" in path.read_text() else keys
        code, out, err = await run_cli("check-config", str(path), env=env)
        assert code == 0, f"{path.name}: {err}"
        assert "bot_id:" in out
        assert "dummy" not in out  # secrets are masked
        assert hl_secret[2:] not in out
    code, _, err = await run_cli("check-config", str(root / "testnet.yaml"))
    assert code == 2
    assert "HEDGEBOT_EXCHANGE__API_KEY" in err


async def test_run_with_a_taken_metrics_port_names_it_and_exits_2(tmp_path: Path) -> None:
    """A metrics port already in use stops `run` before it trades, with the field named."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            *HEDGEBOT,
            "run",
            "--config",
            str(Path(__file__).parents[2] / "config/paper.yaml"),
            "--metrics-port",
            str(port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "HEDGEBOT_STORE__PATH": str(tmp_path / "s.sqlite"),
                "HEDGEBOT_EXCHANGE__PAPER__STATE_PATH": str(tmp_path / "venue.json"),
            },
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert f"metrics.port: cannot listen on 127.0.0.1:{port}" in err.decode()


async def test_demo_json_summary_and_report_of_its_store(tmp_path: Path) -> None:
    """`hedgebot demo --json` ends with rebalances and the hedge within the band; `report`
    on the demo's own config reproduces the demo's net PnL from the store."""
    root = Path(__file__).parents[2]
    code, out, err = await run_cli(
        "demo",
        "--config",
        str(root / "config/demo.yaml"),
        "--blocks",
        "60",
        "--workdir",
        str(tmp_path / "demo"),
        "--json",
        timeout_s=180,
    )
    assert code == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["errors"] == 0
    assert summary["rebalances"] >= 1
    assert summary["within_band"] is True
    assert abs(Decimal(summary["final_drift_base"])) <= Decimal(summary["band_base"])
    for key in ("fees_quote", "funding_quote", "hedged_value_quote", "unhedged_value_quote"):
        Decimal(summary[key])
    # exact decimal strings as the README says: no exponent, no trailing zeros, zero is "0"
    # (the pnl block read "0E-10" and "71.2861000000")
    numbers = [v for k, v in summary.items() if k.endswith(("_base", "_quote", "_price"))]
    numbers += list(summary["pnl"].values())
    assert len(numbers) > 20
    for text in numbers:
        assert "e" not in text.lower(), text
        assert text == "0" or not text.endswith(("0", ".")) or "." not in text, text
        assert text not in ("-0", "0.0"), text

    code, out, err = await run_cli(
        "report", "--config", str(tmp_path / "demo" / "config.yaml"), "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    net = Decimal(report["net_pnl_quote"])
    assert abs(net - Decimal(summary["pnl"]["net_pnl_quote"])) <= Decimal("1e-10")
    assert (tmp_path / "demo" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_snapshot_reads_only_and_prints_rounded_in_80_columns(
    localnet_dir: Path, tmp_path: Path
) -> None:
    """A human `snapshot` prints market-rounded numbers within 80 columns (the delta to the
    venue's 0.001 step, never 0E-18) and, like a failed one, creates no store or venue file."""
    config = localnet_dir / "config.yaml"
    code, out, err = await run_cli("snapshot", "--config", str(config), env={"COLUMNS": "80"})
    assert code == 0, err
    code, exact, err = await run_cli("snapshot", "--config", str(config), "--json")
    assert code == 0, err
    delta = Decimal(json.loads(exact)["delta_base"])
    assert f"{delta.quantize(Decimal('0.001'))}" in out
    assert "E-" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    state = localnet_dir / "state"
    assert not (state / "hedgebot.sqlite").exists()
    assert not (state / "venue.json").exists()

    broken = tmp_path / "broken.yaml"
    text = config.read_text().replace(
        json.loads((localnet_dir / "localnet.json").read_text())["rpc_url"],
        "http://127.0.0.1:9",
    )
    broken.write_text(text)
    code, _, err = await run_cli("snapshot", "--config", str(broken), timeout_s=60)
    assert code != 0
    assert "Traceback" not in err
    assert not state.exists() or list(state.iterdir()) == []
