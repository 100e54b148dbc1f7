"""Every number, address, URL and argument a user gives is checked before anything starts.

Issue 11 item 2 and 8, issue 12 items 1, 5, 6, 7: non-finite numbers named by field/line/column,
EIP-55 checksums, positions reached twice, venue keys only where a venue is touched, URLs
masked wherever they are printed or logged, the interpreter's recursion limit restored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from bot.cli import main
from bot.config import load_config, masked_dump
from bot.errors import ConfigError
from bot.logging import UrlMasker
from bot.sim.pricepaths import load_csv

pytestmark = pytest.mark.unit

CHECKSUMMED = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BROKEN = "0x70997970C51812dc3A010C7d01b50e0d17dc79c8"  # last letter's case flipped
POOL = "0x" + "a" * 40
OWNER = "0x" + "b" * 40
PM = "0x" + "c" * 40
NON_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e309"]
SECRET_RPC = "https://eth.node.example/v2/S3CRETKEY"


def base(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bot_id": "t1",
        "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
        "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": OWNER}],
        "hedge_asset": {"base_token": CHECKSUMMED, "quote_token": "0x" + "d" * 40},
        "hedge": {"ratio": "1.0", "threshold_base": "0.05"},
    }
    config.update(changes)
    return config


def write(tmp_path: Path, data: dict[str, Any], name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def refusal(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, data))
    return str(info.value)


# ---- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", NON_FINITE)
@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("hedge", "ratio"),
        ("hedge", "interval_s"),
        ("risk", "read_timeout_s"),
        ("hedge_asset", "wallet_base"),
    ],
)
def test_non_finite_config_number_named(
    tmp_path: Path, text: str, section: str, field: str
) -> None:
    """NaN, ±Infinity and 1e309 in a Decimal or float field are refused naming the field."""
    data = base()
    data.setdefault(section, {})[field] = text
    assert f"{section}.{field}:" in refusal(tmp_path, data)


@pytest.mark.parametrize("text", NON_FINITE)
def test_non_finite_from_env_named(
    tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same through an environment override, also in a section declared elsewhere."""
    monkeypatch.setenv("HEDGEBOT_METRICS__MAX_TICK_AGE_S", text)
    assert "metrics.max_tick_age_s:" in refusal(tmp_path, base())


def test_yaml_float_infinity_named(tmp_path: Path) -> None:
    """YAML's own .nan/.inf floats are refused too."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(base()) + "exchange:\n  paper:\n    funding_rate: .nan\n")
    with pytest.raises(ConfigError, match=r"exchange\.paper\.funding_rate:"):
        load_config(path)


@pytest.mark.parametrize("text", NON_FINITE)
@pytest.mark.parametrize("column", [1, 2, 3])
def test_csv_non_finite_cell_names_file_line_column(tmp_path: Path, text: str, column: int) -> None:
    """A nan/inf/1e309 timestamp, price or funding cell: one line naming file, line, column."""
    cells = ["2", "2001", "0.0001"]
    cells[column - 1] = text
    csv = tmp_path / "p.csv"
    csv.write_text("timestamp,price,funding_rate\n1,2000,0.0001\n" + ",".join(cells) + "\n")
    with pytest.raises(ValueError, match=rf"p\.csv:3: column {column} \(") as info:
        load_csv(csv)
    assert "\n" not in str(info.value)


def test_csv_negative_price_names_column(tmp_path: Path) -> None:
    """A negative price names its line and column like an empty cell."""
    csv = tmp_path / "p.csv"
    csv.write_text("1,2000\n2,-5\n")
    with pytest.raises(ValueError, match=r"p\.csv:2: column 2 \(price\): must be > 0"):
        load_csv(csv)


def test_backtest_cli_csv_nan_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backtest --prices` with a nan funding cell exits 2 with one line, no traceback."""
    csv = tmp_path / "p.csv"
    csv.write_text("1,2000,0\n2,2001,nan\n")
    assert main(["backtest", "--prices", str(csv)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"backtest: {csv}:2: column 3 (funding_rate): must be a finite number, got 'nan'"


@pytest.mark.parametrize("text", NON_FINITE)
@pytest.mark.parametrize(
    "argv",
    [
        ["backtest", "--gbm-sigma"],
        ["backtest", "--hedge-ratio"],
        ["backtest", "--funding-rate"],
        ["backtest", "--threshold"],
        ["demo", "--sigma"],
        ["localnet", "--out", "x", "--block-interval-s"],
        ["cmd", "bot", "pause", "--timeout"],
        ["emulator", "--mark-price"],
    ],
)
def test_cli_non_finite_argument_exit_2(
    argv: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every numeric CLI argument refuses nan/inf/1e309: one line naming it, exit 2."""
    with pytest.raises(SystemExit) as info:
        main([*argv, text])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"argument {argv[-1]}" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--config", "{cfg}", "--metrics-port", "99999"], "must be a port 1-65535"),
        (["run", "--config", "{cfg}", "--metrics-port", "0"], "must be a port 1-65535"),
        (["run", "--config", "{cfg}", "--mqtt-url", "not a url"], "argument --mqtt-url"),
        (["run", "--config", "{dir}"], "is a directory, not a config file"),
        (["demo", "--blocks", "0"], "must be >= 1"),
        (["demo", "--blocks", "ten"], "not a whole number"),
        (["emulator", "--port", "99999"], "must be a port"),
        (["localnet", "--out", "x", "--port", "70000"], "must be a port"),
    ],
)
def test_cli_arguments_validated(
    tmp_path: Path, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ports, counts, files and URLs: one-line error and exit 2, never a traceback."""
    cfg = write(tmp_path, base())
    with pytest.raises(SystemExit) as info:
        main([a.replace("{cfg}", str(cfg)).replace("{dir}", str(tmp_path)) for a in argv])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert needle in err


def test_missing_config_file_is_named_by_the_loader(capsys: pytest.CaptureFixture[str]) -> None:
    """A config path that does not exist here parses (a container's path must), then the
    command exits 2 naming the file, without a traceback."""
    assert main(["run", "--config", "/nonexistent/c.yaml"]) == 2
    err = capsys.readouterr().err
    assert "cannot read config /nonexistent/c.yaml" in err
    assert "Traceback" not in err


# ---- addresses and positions --------------------------------------------------------------


def test_broken_checksum_refused_one_case_normalised(tmp_path: Path) -> None:
    """Mixed case must pass EIP-55 (named); all-lower and all-upper are accepted and normalised."""
    bad = base(hedge_asset={"base_token": BROKEN, "quote_token": "0x" + "d" * 40})
    assert "hedge_asset.base_token: mixed-case address fails its EIP-55 checksum" in refusal(
        tmp_path, bad
    )
    owner_bad = base(positions=[{"id": "lp1", "kind": "v2", "pool": POOL, "owner": BROKEN}])
    assert "positions.0.owner: mixed-case address fails" in refusal(tmp_path, owner_bad)
    for form in (CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()):
        data = base(hedge_asset={"base_token": form, "quote_token": "0x" + "d" * 40})
        assert load_config(write(tmp_path, data)).hedge_asset.base_token == CHECKSUMMED


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        (
            {"kind": "v2", "pool": POOL, "owner": OWNER},
            {"kind": "v2", "pool": POOL.upper().replace("0X", "0x"), "owner": OWNER},
            "the same V2 pair and owner",
        ),
        (
            {"kind": "v3", "position_manager": PM, "token_id": 7},
            {"kind": "v3", "position_manager": PM, "token_id": 7},
            "the same NFT (token_id 7)",
        ),
        (
            {"kind": "v3", "position_manager": PM, "owner": OWNER, "discover": True},
            {"kind": "v3", "position_manager": PM, "owner": OWNER, "discover": True},
            "discovery of the same owner",
        ),
        (
            {"kind": "v3", "pool": POOL, "owner": OWNER, "tick_lower": -60, "tick_upper": 60},
            {"kind": "v3", "pool": POOL, "owner": OWNER, "tick_lower": -60, "tick_upper": 60},
            "the same V3 pool, owner and ticks",
        ),
        (
            {"kind": "v3", "pool": POOL, "owner": PM, "tick_lower": -60, "tick_upper": 60},
            {"kind": "v3", "position_manager": PM, "token_id": 2},
            "a pool position owned by the position manager is the sum of its NFTs",
        ),
        (
            {"kind": "v3", "position_manager": PM, "owner": OWNER, "discover": True},
            {"kind": "v3", "pool": POOL, "owner": PM, "tick_lower": -60, "tick_upper": 60},
            "a pool position owned by the position manager is the sum of its NFTs",
        ),
    ],
)
def test_positions_reached_twice_refused_naming_both(
    tmp_path: Path, first: dict[str, Any], second: dict[str, Any], reason: str, capsys: Any
) -> None:
    """check-config exits 2 naming both entries when they can resolve to one position."""
    data = base(positions=[{"id": "a", **first}, {"id": "b", **second}])
    assert main(["check-config", str(write(tmp_path, data))]) == 2
    err = capsys.readouterr().err
    assert "positions: positions.0 (a) and positions.1 (b) can resolve to the same" in err
    assert reason in err


def test_distinct_positions_accepted(tmp_path: Path) -> None:
    """Other ticks, another token id, another owner: not the same position."""
    positions = [
        {"id": "a", "kind": "v2", "pool": POOL, "owner": OWNER},
        {"id": "b", "kind": "v2", "pool": POOL, "owner": CHECKSUMMED},
        {"id": "c", "kind": "v3", "position_manager": PM, "token_id": 7},
        {"id": "d", "kind": "v3", "position_manager": PM, "token_id": 8},
        {"id": "e", "kind": "v3", "pool": POOL, "owner": OWNER, "tick_lower": -60, "tick_upper": 0},
        {"id": "f", "kind": "v3", "pool": POOL, "owner": OWNER, "tick_lower": 0, "tick_upper": 60},
    ]
    assert len(load_config(write(tmp_path, base(positions=positions))).positions) == 6


def test_listed_nft_beside_discovery_is_left_to_the_chain(tmp_path: Path) -> None:
    """An NFT by id and discovery of an owner meet only on chain: counted once there, not refused.

    (tests/integration/test_v3_duplicates.py pins the single count and the alert.)
    """
    positions = [
        {"id": "listed", "kind": "v3", "position_manager": PM, "token_id": 7},
        {"id": "found", "kind": "v3", "position_manager": PM, "owner": OWNER, "discover": True},
    ]
    assert len(load_config(write(tmp_path, base(positions=positions))).positions) == 2


def test_duplicate_position_id_named(tmp_path: Path) -> None:
    """Position ids are unique; the repeated id is named."""
    positions = [
        {"id": "a", "kind": "v2", "pool": POOL, "owner": OWNER},
        {"id": "a", "kind": "v2", "pool": POOL, "owner": CHECKSUMMED},
    ]
    assert "position ids must be unique (repeated: a)" in refusal(
        tmp_path, base(positions=positions)
    )


# ---- venue secrets only where a venue is touched -------------------------------------------


def test_kill_and_report_without_venue_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill freeze/status and report load a ccxt config without keys; run still needs them."""
    monkeypatch.delenv("HEDGEBOT_EXCHANGE__API_KEY", raising=False)
    monkeypatch.delenv("HEDGEBOT_EXCHANGE__API_SECRET", raising=False)
    store = tmp_path / "var" / "s.sqlite"
    cfg = write(tmp_path, base(exchange={"kind": "ccxt"}, store={"path": str(store)}))
    assert main(["kill", "--config", str(cfg), "freeze"]) == 0
    assert main(["kill", "--config", str(cfg), "status"]) == 0
    assert "kill switch freeze" in capsys.readouterr().out
    assert main(["report", "--config", str(cfg), "--no-chart"]) == 1  # no store yet: no data
    assert "nothing to report" in capsys.readouterr().err
    assert main(["run", "--config", str(cfg)]) == 2
    assert "HEDGEBOT_EXCHANGE__API_KEY" in capsys.readouterr().err


# ---- URLs with credentials -------------------------------------------------------------------


def test_check_config_masks_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An RPC key in the path or a venue URL's query never appears in check-config output;
    MQTT ``user:pass@`` is refused without echoing the password."""
    data = base(
        chain={"rpc_urls": [SECRET_RPC, "http://127.0.0.1:8545"]},
        mqtt={"url": "mqtts://broker.example:8883/S3CRETKEY"},
        exchange={"urls": {"fapiPublic": "http://127.0.0.1:8765/fapi/v1?key=S3CRETKEY"}},
    )
    assert main(["check-config", str(write(tmp_path, data))]) == 0
    out = capsys.readouterr()
    assert "S3CRETKEY" not in out.out + out.err
    dumped = masked_dump(load_config(write(tmp_path, data)))
    assert dumped["chain"]["rpc_urls"] == ["https://eth.node.example/…", "http://127.0.0.1:8545"]
    assert dumped["mqtt"]["url"] == "mqtts://broker.example:8883/…"
    assert dumped["exchange"]["urls"] == {"fapiPublic": "http://127.0.0.1:8765/…"}
    with_credentials = base(mqtt={"url": "mqtt://alice:hunter2@broker.example:1883"})
    assert main(["check-config", str(write(tmp_path, with_credentials))]) == 2
    out = capsys.readouterr()
    assert "mqtt.url:" in out.err
    assert "hunter2" not in out.out + out.err


def test_log_processor_masks_configured_urls() -> None:
    """The last line of defence: a configured secret URL inside any logged value is masked."""
    masker = UrlMasker([SECRET_RPC, "http://127.0.0.1:8545"])
    error = ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url {SECRET_RPC}/")
    with structlog.testing.capture_logs(processors=[masker]) as logs:
        structlog.get_logger().error(
            "tick.failed", error=str(error), exc=error, nested={"urls": [SECRET_RPC]}
        )
    rendered = json.dumps(logs, default=str, ensure_ascii=False)
    assert "S3CRETKEY" not in rendered
    assert "https://eth.node.example/…" in rendered
    assert masker.text("http://127.0.0.1:8545 up") == "http://127.0.0.1:8545 up"
    assert "pw" not in masker.text("failed: mqtt://user:pw@host:1883")


# ---- the process --------------------------------------------------------------------------


def test_recursion_limit_sane_after_cli_and_web3_imports() -> None:
    """After importing the CLI and web3 the limit is sane, so deep JSON raises, not segfaults."""
    code = (
        "import sys, json\n"
        "import bot.cli, web3\n"
        "from bot.app import build_bot\n"
        "assert sys.getrecursionlimit() <= 10_000, sys.getrecursionlimit()\n"
        "try:\n"
        "    json.loads('[' * 80000 + ']' * 80000)\n"
        "except RecursionError:\n"
        "    print('raised')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "raised"
