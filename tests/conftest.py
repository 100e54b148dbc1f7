"""Suite-wide isolation: a test session never shares per-host state with bots on this machine.

Hypothesis budgets: ``make test`` runs each property test with its own ``max_examples``
(Hypothesis' 100 where it states none). ``HYPOTHESIS_PROFILE=thorough`` runs ten times each
budget, for a deeper search before a release. The default profile ``ci`` only turns deadlines
off: a loaded 2-core runner must not fail a test on timing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import settings

from bot.instance_lock import LOCK_DIR_ENV

THOROUGH_FACTOR = 10
settings.register_profile("ci", deadline=None)
settings.register_profile("thorough", deadline=None)  # budgets scaled below
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under the ``thorough`` profile, a property test with its own ``max_examples`` runs
    ``THOROUGH_FACTOR`` times as many (Hypothesis reads the settings a ``@given`` test carries
    when it runs; an explicit budget would otherwise override the profile)."""
    if os.environ.get("HYPOTHESIS_PROFILE") != "thorough":
        return
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if test is None or own is None:
            continue
        budget = own.max_examples * THOROUGH_FACTOR  # Hypothesis' default 100 -> 1,000
        test._hypothesis_internal_use_settings = settings(own, max_examples=budget)


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


@pytest.fixture(autouse=True)
def _structlog_config_restored() -> Iterator[None]:
    """Each test starts from the logging configuration the one before it found: commands run
    in-process (``snapshot``, ``plan``, ``status`` …) configure structlog for a terminal with a
    ``warning`` level filter, and ``structlog.testing.capture_logs`` swaps only the processors,
    so a later test capturing ``info`` events would otherwise see none."""
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)
