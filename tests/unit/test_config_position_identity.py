"""Position identity in the config: one on-chain position is one entry, one id is one position.

Issue 11 review items 1 and 2: entries compare on the chain they resolve to (``chain:
default`` is the single ``chain:`` section, two names with one chain id or RPC URL are one
chain), and an entry's id never equals one a discovery entry generates (``<id>-<token id>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main

pytestmark = pytest.mark.unit

POOL = "0x" + "a" * 40
OWNER = "0x" + "b" * 40
PM = "0x" + "c" * 40
VIEW = "0x" + "e" * 40
RPC = "http://127.0.0.1:8545"
V2 = {"kind": "v2", "pool": POOL, "owner": OWNER}
NFT = {"kind": "v3", "position_manager": PM, "token_id": 2}
DISCOVER = {"kind": "v3", "position_manager": PM, "owner": OWNER, "discover": True}


def config(positions: list[dict[str, Any]], **chains: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "bot_id": "t1",
        "positions": positions,
        "hedge_asset": {"base_token": "0x" + "1" * 40, "quote_token": "0x" + "d" * 40},
        "hedge": {"ratio": "1.0", "threshold_base": "0.05"},
    }
    data.update({"chains": chains} if chains else {"chain": {"rpc_urls": [RPC]}})
    return data


def check(tmp_path: Path, data: dict[str, Any], capsys: Any) -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    code = main(["check-config", str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (  # the single chain: section is the chain named default
            config([{"id": "a", **V2}, {"id": "b", **V2, "chain": "default"}]),
            "the same V2 pair and owner",
        ),
        (  # one chain l1: an entry without chain belongs to it
            config([{"id": "a", **NFT}, {"id": "b", **NFT, "chain": "l1"}], l1={"rpc_urls": [RPC]}),
            "the same NFT (token_id 2)",
        ),
        (  # two names, one chain id
            config(
                [{"id": "a", **V2, "chain": "x"}, {"id": "b", **V2, "chain": "y"}],
                x={"rpc_urls": [RPC], "chain_id": 8453},
                y={"rpc_urls": ["http://127.0.0.1:9545"], "chain_id": 8453},
            ),
            "the same V2 pair and owner",
        ),
        (  # two names, one RPC endpoint
            config(
                [{"id": "a", **NFT, "chain": "x"}, {"id": "b", **NFT, "chain": "y"}],
                x={"rpc_urls": [RPC]},
                y={"rpc_urls": ["http://other:1", RPC + "/"]},
            ),
            "the same NFT (token_id 2)",
        ),
    ],
)
def test_same_position_on_the_resolved_chain_is_refused(
    tmp_path: Path, data: dict[str, Any], reason: str, capsys: Any
) -> None:
    """check-config exits 2 naming both entries when their chains resolve to one chain."""
    code, err = check(tmp_path, data, capsys)
    assert code == 2
    assert (
        "positions.0 (a) and positions.1 (b) can resolve to the same on-chain position: " + reason
    ) in err


def test_same_addresses_on_two_chains_are_two_positions(tmp_path: Path, capsys: Any) -> None:
    """Different chain ids: the same pair and owner are two contracts, the config is valid."""
    data = config(
        [{"id": "a", **V2, "chain": "x"}, {"id": "b", **V2, "chain": "y"}],
        x={"rpc_urls": [RPC], "chain_id": 1},
        y={"rpc_urls": ["http://127.0.0.1:9545"], "chain_id": 8453},
    )
    code, err = check(tmp_path, data, capsys)
    assert (code, err.endswith("c.yaml: OK\n")) == (0, True)


@pytest.mark.parametrize(
    "finder",
    [
        DISCOVER,
        {"kind": "v4", "position_manager": PM, "state_view": VIEW, "owner": OWNER,
         "discover": True},
    ],
)  # fmt: skip
def test_listed_id_a_discovery_can_generate_is_refused(
    tmp_path: Path, finder: dict[str, Any], capsys: Any
) -> None:
    """``lp-2`` beside a discovering ``lp`` (which names NFT 2 ``lp-2``) exits 2 naming both."""
    data = config([{"id": "lp", **finder}, {"id": "lp-2", **NFT, "token_id": 1}])
    code, err = check(tmp_path, data, capsys)
    assert code == 2
    assert (
        "positions.1 (lp-2) and positions.0 (lp) can give two positions one id: discovery "
        "names the NFT it finds with token id 2 'lp-2'; rename positions.1"
    ) in err


@pytest.mark.parametrize("listed", ["lp-main", "lp-2x", "lp-", "lpx-2", "LP-2"])
def test_ids_outside_the_generated_namespace_are_accepted(
    tmp_path: Path, listed: str, capsys: Any
) -> None:
    """Only ``<discovering id>-<digits>`` is reserved: other ids beside it load."""
    data = config([{"id": "lp", **DISCOVER}, {"id": listed, **NFT, "token_id": 1}])
    code, err = check(tmp_path, data, capsys)
    assert (code, err.endswith("c.yaml: OK\n")) == (0, True)
