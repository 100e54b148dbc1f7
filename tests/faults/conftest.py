"""Fault-suite fixtures: one anvil for the session (each test deploys its own pool on it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sim.anvil import Anvil


@pytest.fixture(scope="session")
async def anvil_node() -> AsyncIterator[Anvil]:
    """One automining anvil for the fault suite."""
    async with Anvil() as node:
        yield node
