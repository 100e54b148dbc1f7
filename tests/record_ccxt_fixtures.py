"""Regenerate ``tests/fixtures/ccxt/*.json``: what the real ccxt ``binanceusdm`` client returns
(unified structures, ``info`` included) when it talks to the Binance emulator.

Run from the repository root after a ccxt upgrade or an emulator change, then review the diff
and the exact values ``tests/unit/test_ccxt_recorded.py`` asserts::

    .venv/bin/python tests/record_ccxt_fixtures.py

The script is deterministic: a ``ManualClock`` fixed at ``START_S``, a fresh venue with the
mark at 2000, one market sell of 1.5 ETH (client id ``rec-sell-1``), the mark moved to 2100,
a funding rate of 0.0001 and the clock advanced past one funding time (8 h + 1 s). Files:
``market.json`` (``markets['ETH/USDT:USDT']``), ``positions.json``, ``balance.json``,
``order.json`` (the ``create_order`` answer), ``fetched_order.json``, ``trades.json``,
``funding_rate.json``, ``funding_history.json``, ``funding_rate_history.json``,
``order_book.json`` (depth 5).
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import ManualClock  # noqa: E402
from bot.exchange.emulators.binance_usdm import start_emulator  # noqa: E402
from bot.exchange.venue import VenueParams  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "ccxt"
START_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SYMBOL = "ETH/USDT:USDT"
KEY, SECRET = "record-key-0123456789", "record-secret-0123456789"
CLIENT_ORDER_ID = "rec-sell-1"


async def record() -> dict[str, Any]:
    """Drive the emulator through the scenario above; the ccxt answers by fixture name."""
    clock = ManualClock(t=START_S)
    handle = await start_emulator("127.0.0.1", 0, KEY, SECRET, VenueParams(), clock)
    client = ccxt_async.binanceusdm(
        {
            "apiKey": KEY,
            "secret": SECRET,
            "options": {"fetchCurrencies": False, "fetchMargins": False},
        }
    )
    client.urls["api"].update(handle.ccxt_urls())
    client.milliseconds = lambda: int(clock.now() * 1000)
    try:
        handle.set_mark(Decimal(2000))
        await client.load_markets()
        out: dict[str, Any] = {"market": client.markets[SYMBOL]}
        out["order"] = await client.create_order(
            SYMBOL, "market", "sell", 1.5, None, {"clientOrderId": CLIENT_ORDER_ID}
        )
        handle.set_mark(Decimal(2100))
        handle.set_funding_rate(Decimal("0.0001"))
        handle.advance_clock(8 * 3600 + 1)
        since = int(START_S * 1000)
        out["fetched_order"] = await client.fetch_order(
            None, SYMBOL, {"clientOrderId": CLIENT_ORDER_ID}
        )
        out["positions"] = await client.fetch_positions([SYMBOL])
        out["balance"] = await client.fetch_balance()
        out["trades"] = await client.fetch_my_trades(SYMBOL, since)
        out["funding_rate"] = await client.fetch_funding_rate(SYMBOL)
        out["funding_history"] = await client.fetch_funding_history(SYMBOL, since)
        out["funding_rate_history"] = await client.fetch_funding_rate_history(SYMBOL, since)
        out["order_book"] = await client.fetch_order_book(SYMBOL, 5)
        return out
    finally:
        await client.close()
        await handle.close()


def main() -> None:
    """Write every fixture (sorted keys, two-space indent)."""
    answers = asyncio.run(record())
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, answer in answers.items():
        text = json.dumps(answer, indent=2, sort_keys=True)
        (FIXTURES / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(answers)} fixtures to {FIXTURES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
