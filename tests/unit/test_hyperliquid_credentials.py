"""check-config refuses Hyperliquid credentials that cannot work, naming why, before anything
is sent: a malformed or truncated agent key, an address pasted as the key, a bad checksum, a
builder with an agent key (approval needs the master key). The key is never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from eth_account import Account

from bot.cli import main
from bot.config import load_config
from bot.errors import ConfigError

pytestmark = pytest.mark.unit

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
POOL, BASE, QUOTE = ("0x" + digit * 40 for digit in "abc")
MASTER = Account.from_key("0x" + "a1" * 32)
AGENT_KEY = "0x" + "a2" * 32
AGENT = Account.from_key(AGENT_KEY)
BUILDER = "0x" + "d" * 40


def _config(tmp_path: Path, **exchange: object) -> Path:
    data = {
        "bot_id": "t1",
        "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
        "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": ADDR}],
        "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
        "exchange": {
            "kind": "ccxt",
            "exchange_id": "hyperliquid",
            "symbol": "ETH/USDC:USDC",
            "wallet_address": MASTER.address,
            **exchange,
        },
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _problems(path: Path, secret: str, **env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"HEDGEBOT_EXCHANGE__API_SECRET": secret, **env})
    return str(info.value)


def test_well_formed_agent_key_loads(tmp_path: Path) -> None:
    """An agent key (not the master's) with the master address is a valid setup."""
    settings = load_config(_config(tmp_path), env={"HEDGEBOT_EXCHANGE__API_SECRET": AGENT_KEY})
    assert settings.exchange.wallet_address == MASTER.address


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("0x1234", "has 4 hex digits: a private key is 32 bytes"),
        (MASTER.address, "is 20 bytes, an address, not a private key"),
        ("0x" + "zz" * 32, "is not hex"),
        ("0x" + "00" * 32, "not a valid secp256k1 private key"),
        ("0x" + "ff" * 32, "not a valid secp256k1 private key"),
    ],
)
def test_malformed_agent_key_named_never_printed(tmp_path: Path, secret: str, reason: str) -> None:
    text = _problems(_config(tmp_path), secret)
    assert "HEDGEBOT_EXCHANGE__API_SECRET" in text
    assert reason in text
    assert secret[2:] not in text.replace(MASTER.address[2:], "")  # the key is not echoed


def test_check_config_cli_refuses_bad_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's case: ``0x1234`` passed check-config, then failed at start as "leverage
    refused ... Non-base16 digit". Now check-config exits 2 naming the key's form."""
    monkeypatch.setenv("HEDGEBOT_EXCHANGE__API_SECRET", "0x1234")
    assert main(["check-config", str(_config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "a private key is 32 bytes" in err
    monkeypatch.setenv("HEDGEBOT_EXCHANGE__API_SECRET", AGENT_KEY)
    assert main(["check-config", str(_config(tmp_path))]) == 0
    assert AGENT_KEY[2:] not in capsys.readouterr().out


def test_builder_with_agent_key_needs_master_key(tmp_path: Path) -> None:
    builder = {"builder": {"address": BUILDER, "fee_bps": "1"}}
    text = _problems(_config(tmp_path, **builder), AGENT_KEY)
    assert "exchange.builder: approving a builder fee needs the master account's key" in text
    assert AGENT.address in text
    master_key = "0x" + "a1" * 32
    settings = load_config(
        _config(tmp_path, **builder), env={"HEDGEBOT_EXCHANGE__API_SECRET": master_key}
    )
    assert settings.exchange.builder is not None


def test_addresses_checksummed(tmp_path: Path) -> None:
    """A mixed-case address with a wrong checksum is refused: the wallet, the vault, the
    builder, and the API key when it stands for the wallet address."""
    bad = MASTER.address[:-1] + ("A" if MASTER.address[-1] != "A" else "B")
    bad = bad[:2] + bad[2:].swapcase()[:1] + bad[3:]  # one flipped case: checksum fails
    assert main(["check-config", str(_config(tmp_path, wallet_address=bad))]) == 2
    text = _problems(_config(tmp_path, vault_address=bad), AGENT_KEY)
    assert "exchange.vault_address" in text
    assert "EIP-55" in text
    builder = {"builder": {"address": bad, "fee_bps": "1"}}
    assert "EIP-55" in _problems(_config(tmp_path, **builder), AGENT_KEY)
    path = _config(tmp_path, wallet_address=None)
    text = _problems(path, AGENT_KEY, HEDGEBOT_EXCHANGE__API_KEY=bad)
    assert "HEDGEBOT_EXCHANGE__API_KEY (read as hyperliquid's wallet address)" in text
    assert "EIP-55" in text
    text = _problems(path, AGENT_KEY, HEDGEBOT_EXCHANGE__API_KEY=AGENT_KEY)
    assert "looks like a private key, not an address" in text
    assert AGENT_KEY[2:] not in text


def test_vault_is_not_the_master(tmp_path: Path) -> None:
    text = _problems(_config(tmp_path, vault_address=MASTER.address), AGENT_KEY)
    assert "exchange.vault_address: is the master account itself" in text
