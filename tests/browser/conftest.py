"""Browser fixtures: Debian's chromium driven by Playwright (never a browser download), one
`hedgebot localnet` per module, daemons and fleet dashboards as subprocesses."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))

from mqtt_support import mqtt_broker  # noqa: F401 - the session's broker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Headless Debian chromium (scripts/ensure-chromium.sh installs it)."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat at session start
        pytest.skip("chromium is not installed: run scripts/ensure-chromium.sh")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()
