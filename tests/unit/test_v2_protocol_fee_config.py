"""The V2 ``protocol_fee`` field: validated, default Uniswap's share, one share per pair.

Issue 11 item 4 (PancakeSwap-style pairs): the share ``_mintFee`` mints is selectable per
position; the reader's exposure uses it (the on-chain check is
tests/integration/test_v2_pancake_fee.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3

from bot.chain.uniswap_v2 import V2PoolReader
from bot.cli import main
from bot.config import V2PositionConfig, load_config
from bot.core.amm import (
    PANCAKE_V2_FEE,
    UNISWAP_V2_FEE,
    V2_FEE_SHARES,
    V2ProtocolFee,
    pending_fee_liquidity,
)
from bot.domain import TokenInfo, V2PoolRead
from bot.errors import ConfigError

pytestmark = pytest.mark.unit

POOL, OWNER, OTHER = ("0x" + digit * 40 for digit in "abe")
BASE, QUOTE = ("0x" + "1" * 40, "0x" + "d" * 40)


def config(*positions: dict[str, Any], chains: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "bot_id": "t1",
        "positions": list(positions),
        "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
        "hedge": {"ratio": "1.0", "threshold_base": "0.05"},
    }
    data.update({"chains": chains} if chains else {"chain": {"rpc_urls": ["http://x:8545"]}})
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def v2(id_: str, owner: str = OWNER, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "kind": "v2", "pool": POOL, "owner": owner, **extra}


def test_default_is_uniswap_and_pancake_selects_its_share(tmp_path: Path) -> None:
    """No field: Uniswap's 1/6 share; ``protocol_fee: pancake``: PancakeSwap's 8/25."""
    settings = load_config(write(tmp_path, config(v2("a"), v2("b", OTHER, chain=None))))
    assert [p.fee_share for p in settings.positions] == [UNISWAP_V2_FEE, UNISWAP_V2_FEE]
    settings = load_config(write(tmp_path, config(v2("a", protocol_fee="pancake"))))
    position = settings.positions[0]
    assert isinstance(position, V2PositionConfig)
    assert position.protocol_fee == "pancake"
    assert position.fee_share == PANCAKE_V2_FEE == V2_FEE_SHARES["pancake"]
    assert set(V2_FEE_SHARES) == set(get_args(V2ProtocolFee))


@pytest.mark.parametrize("value", ["sushi", "Pancake", "", 8, None])
def test_unknown_value_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: Any
) -> None:
    """An unknown share is exit 2 naming positions.0.protocol_fee and the accepted values."""
    path = write(tmp_path, config(v2("a", protocol_fee=value)))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "positions.0.protocol_fee: Input should be 'uniswap' or 'pancake'" in err


def test_two_shares_on_one_pair_refused(tmp_path: Path) -> None:
    """Two owners of one pair with different shares: refused naming the later entry."""
    clash = config(v2("a"), v2("b", OTHER, protocol_fee="pancake"))
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, clash))
    assert str(info.value) == (
        f"positions.1.protocol_fee: 'pancake', but positions.0 on the same pair "
        f"{to_checksum_address(POOL)} says "
        "'uniswap': a pair has one protocol-fee share"
    )
    same = config(v2("a", protocol_fee="pancake"), v2("b", OTHER, protocol_fee="pancake"))
    assert len(load_config(write(tmp_path, same)).positions) == 2


def test_two_names_of_one_chain_are_one_pair(tmp_path: Path) -> None:
    """Chain names sharing an RPC URL are one chain: the pair's shares must agree there too;
    on two different chains the same address is two pairs."""
    rpc = {"rpc_urls": ["http://x:8545"]}
    one_chain = {"main": rpc, "alias": {"rpc_urls": ["http://x:8545/"]}}
    alias = v2("b", OTHER, chain="alias", protocol_fee="pancake")
    clash = config(v2("a", chain="main"), alias, chains=one_chain)
    with pytest.raises(ConfigError, match=r"positions\.1\.protocol_fee"):
        load_config(write(tmp_path, clash))
    two_chains = {"main": rpc, "bsc": {"rpc_urls": ["http://y:8545"]}}
    bsc = v2("b", OTHER, chain="bsc", protocol_fee="pancake")
    apart = config(v2("a", chain="main"), bsc, chains=two_chains)
    assert len(load_config(write(tmp_path, apart)).positions) == 2


def test_reader_exposure_uses_its_share() -> None:
    """The reader's exposure divides by the supply plus the mint of its own share."""
    tokens = (TokenInfo(BASE, "ETH", 18), TokenInfo(QUOTE, "USDT", 6))
    k_last = 10**18 * 2000 * 10**6
    read = V2PoolRead(
        POOL,
        *tokens,
        reserve0=2 * 10**18,
        reserve1=4000 * 10**6,
        total_supply=10**15,
        lp_balance=5 * 10**14,
        k_last=k_last,
        fee_on=True,
    )
    amounts = {}
    for share in (UNISWAP_V2_FEE, PANCAKE_V2_FEE):
        reader = V2PoolReader(AsyncWeb3(), POOL, fee_share=share)  # exposure reads nothing
        minted = pending_fee_liquidity(
            2 * 10**18, 4000 * 10**6, k_last, 10**15, fee_on=True, share=share
        )
        exposure = reader.exposure(read, True, "a")
        assert exposure.amount_base * 10**18 == 5 * 10**14 * 2 * 10**18 // (10**15 + minted)
        amounts[share] = exposure.amount_base
    # sqrt(k) doubled: Uniswap mints supply/11 (1/(2*5+1)), PancakeSwap 8*supply/42
    assert amounts[UNISWAP_V2_FEE] > amounts[PANCAKE_V2_FEE]
