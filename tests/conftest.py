"""Suite-wide isolation: a test session never shares per-host state with bots on this machine."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from bot.instance_lock import LOCK_DIR_ENV


@pytest.fixture(scope="session", autouse=True)
def _session_lock_dir() -> Iterator[None]:
    """Bot-id locks of this session (and of the daemons it starts, which inherit the
    environment) live in a directory of its own, so a test bot id never collides with a bot
    running on this host or with another test session."""
    previous = os.environ.get(LOCK_DIR_ENV)
    with tempfile.TemporaryDirectory(prefix="hedgebot-test-locks-") as lock_dir:
        os.chmod(lock_dir, 0o700)
        os.environ[LOCK_DIR_ENV] = lock_dir
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(LOCK_DIR_ENV, None)
            else:
                os.environ[LOCK_DIR_ENV] = previous
