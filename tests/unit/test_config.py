"""Config validation: bad input names the field; env overrides the file; secrets env-only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.config import load_config, masked_dump
from bot.errors import ConfigError

pytestmark = pytest.mark.unit

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
POOL, BASE, QUOTE = ("0x" + digit * 40 for digit in "abc")  # one address per role
GOOD = {
    "bot_id": "t1",
    "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
    "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": ADDR}],
    "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
    "hedge": {"ratio": "1.0", "threshold_base": "0.05"},
}


def write(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_valid_config_loads(tmp_path: Path) -> None:
    """A complete config loads with its values and defaults."""
    settings = load_config(write(tmp_path, GOOD))
    assert str(settings.hedge.threshold_base) == "0.05"
    assert settings.exchange.kind == "paper"


def test_negative_threshold_and_missing_pool_named(tmp_path: Path) -> None:
    """Every bad field is named with its reason."""
    bad = {**GOOD, "positions": [{"id": "lp1", "owner": ADDR}], "hedge": {"threshold_base": -1}}
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, bad))
    text = str(info.value)
    assert "hedge.threshold_base: must be > 0" in text
    assert "positions.0.pool: required" in text


def test_check_config_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config exits 2 naming the fields, 0 printing the effective config."""
    bad = {**GOOD, "positions": [{"id": "lp1", "owner": ADDR}], "hedge": {"threshold_base": -1}}
    assert main(["check-config", str(write(tmp_path, bad))]) == 2
    err = capsys.readouterr().err
    assert "hedge.threshold_base: must be > 0" in err
    assert "positions.0.pool: required" in err
    assert main(["check-config", str(write(tmp_path, GOOD))]) == 0
    assert "threshold_base: '0.05'" in capsys.readouterr().out


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HEDGEBOT_SECTION__FIELD beats the YAML value."""
    monkeypatch.setenv("HEDGEBOT_HEDGE__RATIO", "0.8")
    settings = load_config(write(tmp_path, GOOD))
    assert str(settings.hedge.ratio) == "0.8"
    assert str(settings.hedge.threshold_base) == "0.05"


def test_secret_in_file_refused_and_env_secret_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys in YAML are refused; keys from env are masked in the dump."""
    with pytest.raises(ConfigError, match=r"exchange\.api_secret: secrets are read from the env"):
        load_config(write(tmp_path, {**GOOD, "exchange": {"api_secret": "s3cret"}}))
    monkeypatch.setenv("HEDGEBOT_EXCHANGE__API_KEY", "k-123")
    monkeypatch.setenv("HEDGEBOT_EXCHANGE__API_SECRET", "s-456")
    settings = load_config(write(tmp_path, {**GOOD, "exchange": {"kind": "ccxt"}}))
    assert settings.exchange.api_secret is not None
    assert settings.exchange.api_secret.get_secret_value() == "s-456"
    dumped = str(masked_dump(settings))
    assert "s-456" not in dumped
    assert "k-123" not in dumped


def test_ccxt_without_keys_refused(tmp_path: Path) -> None:
    """A live venue without keys in env does not start."""
    with pytest.raises(ConfigError, match="HEDGEBOT_EXCHANGE__API_KEY"):
        load_config(write(tmp_path, {**GOOD, "exchange": {"kind": "ccxt"}}))


def test_unknown_field_and_bad_yaml(tmp_path: Path) -> None:
    """Typos are errors, not silently ignored; broken YAML is reported."""
    with pytest.raises(ConfigError, match=r"hedge\.treshold_base: unknown field"):
        load_config(write(tmp_path, {**GOOD, "hedge": {"treshold_base": 1}}))
    path = tmp_path / "broken.yaml"
    path.write_text("chain: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_response_bounds_and_time_sync_reach_the_adapters(tmp_path: Path) -> None:
    """chain/exchange max_response_bytes and exchange.sync_time are config; tiny bounds refused."""
    from bot.exchange.ccxt import CcxtPerpSettings

    data = {
        **GOOD,
        "chain": {"rpc_urls": ["http://127.0.0.1:8545"], "max_response_bytes": 65536},
        "exchange": {"kind": "paper", "max_response_bytes": 131072, "sync_time": False},
    }
    settings = load_config(write(tmp_path, data))
    assert settings.chain.max_response_bytes == 65536
    venue = CcxtPerpSettings.from_config(settings.exchange)
    assert (venue.max_response_bytes, venue.sync_time) == (131072, False)
    tiny = {**GOOD, "chain": {"rpc_urls": ["http://127.0.0.1:8545"], "max_response_bytes": 10}}
    with pytest.raises(ConfigError, match=r"chain\.max_response_bytes"):
        load_config(write(tmp_path, tiny))
