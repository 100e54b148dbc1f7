"""``chain.ws_urls`` and the newHeads header check: what is accepted, refused and shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hexbytes import HexBytes

from bot.chain.answers import AnswerRejected
from bot.chain.heads import BlockInfo
from bot.chain.ws_provider import parse_head
from bot.config import load_config, masked_dump, secret_urls
from bot.errors import ConfigError

pytestmark = pytest.mark.unit

POOL, BASE, QUOTE, OWNER = ("0x" + digit * 40 for digit in "abcd")
KEYED = "wss://eth.node.example/v2/SECRETKEY123"


def config(tmp_path: Path, ws_urls: list[str]) -> Path:
    data = {
        "bot_id": "t1",
        "chain": {"rpc_urls": ["http://127.0.0.1:8545"], "ws_urls": ws_urls},
        "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": OWNER}],
        "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
        "hedge": {"ratio": "1.0", "threshold_base": "0.05"},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_ws_urls_default_to_none_and_keys_are_masked(tmp_path: Path) -> None:
    """No ws_urls: the poller alone. A keyed ws URL is accepted, masked in the dump and
    registered as a secret for the log masker."""
    assert load_config(config(tmp_path, [])).chain.ws_urls == []
    settings = load_config(config(tmp_path, [KEYED, "ws://127.0.0.1:8545"]))
    assert settings.chain.ws_urls == [KEYED, "ws://127.0.0.1:8545"]
    assert masked_dump(settings)["chain"]["ws_urls"] == [
        "wss://eth.node.example/…",
        "ws://127.0.0.1:8545",
    ]
    assert KEYED in secret_urls(settings)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8545", "ws://", "127.0.0.1:8546", "ws:// x"])
def test_a_url_that_is_not_websocket_is_refused_naming_the_field(tmp_path: Path, url: str) -> None:
    """Only ws:// or wss:// with a host: anything else names chain.ws_urls.N."""
    reasons = "is not a URL with scheme ws or wss|has no host|contains whitespace"
    with pytest.raises(ConfigError, match=rf"chain\.ws_urls\.1: \S+ ({reasons})"):
        load_config(config(tmp_path, ["ws://127.0.0.1:8545", url]))


def test_parse_head_reads_web3_formatted_and_raw_headers() -> None:
    """web3's formatted header (ints, HexBytes) and a raw hex one give the same BlockInfo."""
    digest = "0x" + "ab" * 32
    expected = BlockInfo(number=7, timestamp=1_700_000_000, hash=digest)
    formatted = {"number": 7, "timestamp": 1_700_000_000, "hash": HexBytes(digest)}
    raw = {"number": "0x7", "timestamp": hex(1_700_000_000), "hash": digest}
    assert parse_head(formatted) == parse_head(raw) == expected


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("0x7", "not a header object"),
        ({"timestamp": 1, "hash": "0x" + "ab" * 32}, "without 'number'"),
        ({"number": 2**63, "timestamp": 1, "hash": "0x" + "ab" * 32}, "head number"),
        ({"number": "0x" + "f" * 5000, "timestamp": 1, "hash": "0x" + "ab" * 32}, "head number"),
        ({"number": 1, "timestamp": -1, "hash": "0x" + "ab" * 32}, "head timestamp"),
        ({"number": 1, "timestamp": 1, "hash": "0x" + "ab" * 31}, "head hash"),
        ({"number": True, "timestamp": 1, "hash": "0x" + "ab" * 32}, "head number"),
    ],
)
def test_parse_head_refuses_what_is_not_a_head(header: Any, reason: str) -> None:
    """Not a mapping, a missing field, a number or timestamp outside 0..2**63-1, a hash that
    is not 32 bytes: AnswerRejected naming what."""
    with pytest.raises(AnswerRejected, match=reason):
        parse_head(header)
