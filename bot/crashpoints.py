"""Fault-injection hook for the crash tests: ``HEDGEBOT_CRASH_AT=<point>`` SIGKILLs the
process at that named point of a tick (``before_submit``, ``after_fill``, ``after_store``)."""

from __future__ import annotations

import os
import signal

import structlog

__all__ = ["CRASH_ENV", "crash_point"]

CRASH_ENV = "HEDGEBOT_CRASH_AT"

log = structlog.get_logger("hedgebot.engine")


def crash_point(name: str) -> None:
    """Kill this process now when ``HEDGEBOT_CRASH_AT`` names this point; else nothing."""
    if os.environ.get(CRASH_ENV) == name:
        log.warning("engine.crash_injected", point=name)
        os.kill(os.getpid(), signal.SIGKILL)
