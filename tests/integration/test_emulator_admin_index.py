"""``GET /_emulator`` on both emulators answers the admin switches (name -> help) and the
state, as ``GET /_emulator/state`` does the state; ``hedgebot emulator --help`` puts each
dialect's options in its own section (Binance's keys are not asked of Hyperliquid)."""

from __future__ import annotations

import aiohttp
import pytest
from emulator_support import running_emulator, running_hyperliquid, venue_clock

from bot.cli import build_parser

pytestmark = pytest.mark.integration


async def _get(url: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        assert answer.status == 200
        body = await answer.json()
    assert isinstance(body, dict)
    return body


async def test_hyperliquid_admin_index_lists_switches_and_state() -> None:
    async with running_hyperliquid(venue_clock()) as hl:
        for path in ("/_emulator", "/_emulator/"):
            body = await _get(hl.base_url + path)
            actions = body["actions"]
            assert isinstance(actions, dict)
            assert {"drop_next_order", "advance"} <= set(actions)
            assert all(isinstance(text, str) for text in actions.values())
            assert body["state"] == await _get(hl.base_url + "/_emulator/state")


async def test_binance_admin_index_lists_switches_and_state() -> None:
    async with running_emulator(venue_clock()) as emulator:
        body = await _get(emulator.url + "/_emulator")
        actions = body["actions"]
        assert isinstance(actions, dict)
        assert "advance" in actions
        assert body["state"] == await _get(emulator.url + "/_emulator/state")


def test_emulator_help_sections_per_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["emulator", "--help"])
    text = capsys.readouterr().out
    binance, hyperliquid = text.split("--dialect binance_usdm only:")[1].split(
        "--dialect hyperliquid only:"
    )
    assert "--api-key" in binance
    assert "--api-secret" in binance
    hyperliquid = hyperliquid.split("example:")[0]
    assert "--api-key" not in hyperliquid
    assert "--master" in hyperliquid
