"""``check-config`` refuses endpoint URLs the clients cannot use, and repeated endpoints,
naming the entry with the URL masked; a problem of the ``chain:`` section is reported once
(issue 12 review: ``notaurl``, ``ftp://…``, ``http://127.0.0.1:99999/…`` passed with exit 0
and every request then failed with InvalidUrlClientError; a broken EIP-55 ``multicall`` was
reported twice, the second time as ``chains.default.multicall``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main

pytestmark = pytest.mark.unit

KEY = "SECRETKEY123"
GOOD_RPC = "http://127.0.0.1:8545"
BAD_CHECKSUM = "0xcA11bde05977b3631167028862bE2a173976cA11"  # one letter's case flipped


def data(**chain: Any) -> dict[str, Any]:
    return {
        "bot_id": "t1",
        "chain": {"rpc_urls": [GOOD_RPC], **chain},
        "positions": [{"id": "a", "kind": "v2", "pool": "0x" + "a" * 40, "owner": "0x" + "b" * 40}],
        "hedge_asset": {"base_token": "0x" + "1" * 40, "quote_token": "0x" + "d" * 40},
        "hedge": {"ratio": "1.0", "threshold_base": "0.05"},
    }


def check(tmp_path: Path, config: dict[str, Any], capsys: Any) -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    code = main(["check-config", str(path)])
    captured = capsys.readouterr()
    assert KEY not in captured.out + captured.err  # masked, whatever the outcome
    return code, captured.err


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("notaurl", "<url> is not a URL with scheme http or https"),
        (f"ftp://x.example/{KEY}", r"ftp://x\.example/… is not a URL with scheme http or https"),
        (f"ws://127.0.0.1:8546/{KEY}", "is not a URL with scheme http or https"),
        (f"http://127.0.0.1:99999/{KEY}", r"http://127\.0\.0\.1/… has a port outside 1\.\.65535"),
        (f"http://127.0.0.1:0/{KEY}", "has a port outside 1..65535"),
        (f"http://127.0.0.1:85a/{KEY}", "has a port outside 1..65535"),
        (f"http://:8545/{KEY}", "has no host"),
        (f"http:///{KEY}", "has no host"),
        (f"http://[::1/{KEY}", "is not a URL"),
        (f"http://exa mple.com/{KEY}", "contains whitespace or control characters"),
        (f"127.0.0.1:8545/{KEY}", "is not a URL with scheme http or https"),
    ],
)
def test_unusable_rpc_url_exits_2_naming_the_entry(
    tmp_path: Path, capsys: Any, url: str, reason: str
) -> None:
    code, err = check(tmp_path, data(rpc_urls=[GOOD_RPC, url]), capsys)
    assert code == 2
    lines = [line.strip() for line in err.splitlines() if "rpc_urls" in line]
    assert len(lines) == 1, err  # once, not again as chains.default.rpc_urls.1
    assert lines[0].startswith("chain.rpc_urls.1: ")
    assert re.search(reason, lines[0]), lines[0]


@pytest.mark.parametrize(
    "url",
    [f"ws://127.0.0.1:99999/{KEY}", f"http://127.0.0.1:8546/{KEY}", f"wss://:1/{KEY}", "ws:/x"],
)
def test_unusable_ws_url_exits_2_naming_the_entry(tmp_path: Path, capsys: Any, url: str) -> None:
    code, err = check(tmp_path, data(ws_urls=["ws://127.0.0.1:8546", url]), capsys)
    assert code == 2
    lines = [line.strip() for line in err.splitlines() if "ws_urls" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("chain.ws_urls.1: ")


@pytest.mark.parametrize(
    ("field", "urls", "entries", "shown"),
    [
        (
            "rpc_urls",
            [f"{GOOD_RPC}/{KEY}", f"HTTP://127.0.0.1:8545/{KEY}"],
            "0 and 1",
            f"{GOOD_RPC}/…",
        ),
        (
            "rpc_urls",
            ["http://node.example/x", "http://b.example", "http://NODE.example:80/x"],
            "0 and 2",
            "http://node.example/…",
        ),
        (
            "rpc_urls",
            ["https://h.example", "https://h.example:443/", "https://h.example/"],
            "0, 1 and 2",
            "https://h.example",
        ),
        (
            "ws_urls",
            [f"wss://h.example/{KEY}", f"wss://h.example/{KEY}"],
            "0 and 1",
            "wss://h.example/…",
        ),
    ],
)
def test_one_endpoint_listed_twice_is_refused_naming_both(
    tmp_path: Path, capsys: Any, field: str, urls: list[str], entries: str, shown: str
) -> None:
    code, err = check(tmp_path, data(**{field: urls}), capsys)
    assert code == 2
    lines = [line.strip() for line in err.splitlines() if field in line]
    assert lines == [
        f"chain.{field}: entries {entries} are one endpoint ({shown}): list each endpoint once"
    ]


def test_usable_urls_pass(tmp_path: Path, capsys: Any) -> None:
    """Distinct paths of one host are distinct endpoints; IPv6, userinfo, https with a key."""
    rpc = [
        f"https://eth.node.example/v2/{KEY}",
        f"https://eth.node.example/v2/{KEY}2",
        "http://[::1]:8545",
        "http://user:pw@127.0.0.1:8545/",
    ]
    ws = ["ws://127.0.0.1:8546", f"wss://eth.node.example/v2/{KEY}"]
    code, err = check(tmp_path, data(rpc_urls=rpc, ws_urls=ws), capsys)
    assert code == 0, err


def test_multicall_checksum_reported_once_by_the_field_written(tmp_path: Path, capsys: Any) -> None:
    code, err = check(tmp_path, data(multicall=BAD_CHECKSUM), capsys)
    assert code == 2
    lines = [line.strip() for line in err.splitlines() if "EIP-55" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("chain.multicall: mixed-case address fails its EIP-55 checksum")


def test_a_chains_section_is_named_as_written(tmp_path: Path, capsys: Any) -> None:
    """With ``chains:`` the primary's problems are named ``chains.<name>``, not ``chain``."""
    config = data()
    del config["chain"]
    config["chains"] = {"l1": {"rpc_urls": ["notaurl"], "multicall": BAD_CHECKSUM}}
    code, err = check(tmp_path, config, capsys)
    assert code == 2
    lines = [line.strip() for line in err.splitlines() if line.strip().startswith("chain")]
    assert [line.split(":")[0] for line in lines] == ["chains.l1.rpc_urls.0", "chains.l1.multicall"]


def test_an_env_override_is_checked_and_named_once(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDGEBOT_CHAIN__RPC_URLS", f'["ftp://x.example/{KEY}"]')
    code, err = check(tmp_path, data(), capsys)
    assert code == 2
    lines = [line.strip() for line in err.splitlines() if "rpc_urls" in line]
    assert lines == ["chain.rpc_urls.0: ftp://x.example/… is not a URL with scheme http or https"]
