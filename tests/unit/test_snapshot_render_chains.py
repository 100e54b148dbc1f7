"""``hedgebot snapshot`` text with several chains and V4 positions (issue 15 review): the
kind column said ``v3`` for a V4 position and no column said which chain a position is on."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from rich.console import Console

from bot.render import render_snapshot
from tests.unit.test_display import SNAPSHOT

pytestmark = pytest.mark.unit


def _render(result: dict[str, Any], width: int = 80) -> str:
    console = Console(file=io.StringIO(), record=True, width=width)
    render_snapshot(result, console)
    return console.export_text()


def _row(text: str, first: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.startswith(first))


def _two_chains() -> dict[str, Any]:
    """A V2 position on chain l1 and a V4 one (JSON kind v3, protocol uniswap_v4) on l2."""
    result: dict[str, Any] = copy.deepcopy(SNAPSHOT)
    v2 = {**result["positions"][0], "chain": "l1", "protocol": "uniswap_v2"}
    v4 = {**v2, "id": "lp-v4", "kind": "v3", "protocol": "uniswap_v4", "chain": "l2"}
    result["positions"] = [v2, v4]
    result["delta_base"] = "150.07604899709215133"
    return result


@pytest.mark.parametrize("width", [80, 60])
def test_several_chains_get_a_chain_column_and_v4_says_v4(width: int) -> None:
    """Each row names its chain and protocol; the total stays in the delta column."""
    text = _render(_two_chains(), width)
    header = _row(text, "position")
    assert header[:3] == ["position", "chain", "kind"]
    assert _row(text, "lp-v2")[:4] == ["lp-v2", "l1", "v2", "75.038"]
    assert _row(text, "lp-v4")[:4] == ["lp-v4", "l2", "v4", "75.038"]
    assert _row(text, "total") == ["total", "150.076"]
    assert max(len(line) for line in text.splitlines()) <= width


def test_one_chain_has_no_chain_column_and_other_protocols_are_named() -> None:
    """One chain: no chain column (as before); a PancakeSwap V3 NFT shows its protocol."""
    result: dict[str, Any] = copy.deepcopy(SNAPSHOT)
    result["positions"][0].update(kind="v3", protocol="pancakeswap_v3", chain="default")
    text = _render(result)
    header = _row(text, "position")
    assert header[:2] == ["position", "kind"]
    assert _row(text, "lp-v2")[:2] == ["lp-v2", "pancakeswap_v3"]
