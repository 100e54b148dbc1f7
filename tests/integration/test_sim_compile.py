"""Contract compilation through npm solc: built when missing, rebuilt when a source changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.sim.compile import CompileError, compiled_contracts, ensure_compiled, project_root

pytestmark = pytest.mark.integration


def clone(tmp_path: Path) -> Path:
    """A minimal checkout: sources, the compile script and a link to node_modules."""
    root = project_root()
    (tmp_path / "bot" / "sim").mkdir(parents=True)
    shutil.copytree(root / "bot" / "sim" / "contracts", tmp_path / "bot" / "sim" / "contracts")
    (tmp_path / "scripts").mkdir()
    shutil.copy(root / "scripts" / "compile-contracts.mjs", tmp_path / "scripts")
    (tmp_path / "node_modules").symlink_to(root / "node_modules")
    return tmp_path


def test_compiles_when_missing_and_when_stale(tmp_path: Path) -> None:
    """A fresh clone compiles every contract; touching a source triggers a rebuild."""
    root = clone(tmp_path)
    out = ensure_compiled(root)
    assert out == root / "build" / "contracts.json"
    contracts = compiled_contracts(root)
    fork_shapes = {  # bot/sim/contracts/V3ForkShapes.sol: the V3 forks' ABI shapes (issue 15)
        "ForkPoolState",
        "IERC721ReceiverShape",
        "MasterChefV3Shape",
        "PancakeNpmShape",
        "PancakeV3PoolShape",
        "PositionNftShape",
        "SlipstreamFactoryShape",
        "SlipstreamGaugeShape",
        "SlipstreamNpmShape",
        "SlipstreamPoolShape",
    }
    pancake_v2 = {  # bot/sim/contracts/PancakeV2Fee.sol: Uniswap V2 with Pancake's _mintFee
        "IPancakeV2FeeCallee",
        "IPancakeV2FeeFactoryView",
        "IPancakeV2FeeToken",
        "PancakeV2FeeERC20",
        "PancakeV2FeeFactory",
        "PancakeV2FeeMath",
        "PancakeV2FeePair",
        "PancakeV2FeeUQ112x112",
    }
    assert set(contracts) == {"TestToken", "WETH9", "Multicall", *fork_shapes, *pancake_v2}
    assert contracts["Multicall"].bytecode.startswith("0x60")
    assert any(e.get("name") == "tryAggregate" for e in contracts["Multicall"].abi)

    inputs = [*(root / "bot" / "sim" / "contracts").glob("*.sol"), root / "scripts"]
    inputs.append(root / "scripts" / "compile-contracts.mjs")
    for path in inputs:
        os.utime(path, (1_000_000, 1_000_000))
    os.utime(out, (2_000_000, 2_000_000))
    assert ensure_compiled(root).stat().st_mtime == 2_000_000  # up to date: untouched
    os.utime(root / "bot" / "sim" / "contracts" / "TestToken.sol", (3_000_000, 3_000_000))
    assert ensure_compiled(root).stat().st_mtime > 3_000_000  # stale: rebuilt


def test_solc_error_is_reported(tmp_path: Path) -> None:
    """A broken source raises CompileError carrying solc's message."""
    root = clone(tmp_path)
    (root / "bot" / "sim" / "contracts" / "Broken.sol").write_text(
        "pragma solidity ^0.8.20; contract Broken { function f( }"
    )
    with pytest.raises(CompileError, match="ParserError"):
        ensure_compiled(root)
