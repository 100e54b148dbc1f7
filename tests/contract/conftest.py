"""The venue contract suite's fixture: every test runs once per ``PerpExchange`` venue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from contract_venues import VENUES, VenueUnderTest, open_venue


@pytest.fixture(params=sorted(VENUES))
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VenueUnderTest]:
    """One venue, opened fresh for the test and closed after it."""
    opened = await open_venue(request.param, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
