"""Kill switch state and the meaning of its flag file. Pure.

The flag is a file (``bot.killswitch.FileKillSwitch`` reads and writes it): present means
engaged, so the switch survives restarts by construction and an operator can engage it with
``touch`` (freeze) or ``echo flatten > FILE`` without the bot running. The trading
consequence of a mode is decided in :func:`bot.core.trading_gate.trading_gate`.

Fail-safe reading: a file that exists but cannot be parsed means ``freeze``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

from bot.core.risk import KillMode

__all__ = ["MAX_REASON", "SOURCES", "KillSource", "KillSwitchState", "combine_modes", "parse_flag"]

KillSource = Literal["cli", "mqtt", "file", "dashboard"]
SOURCES: tuple[str, ...] = get_args(KillSource)
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    """The switch as last set; ``mode == "off"`` has no reason, time or source."""

    mode: KillMode = "off"
    reason: str = ""
    set_at_s: float | None = None
    source: KillSource | None = None

    @property
    def engaged(self) -> bool:
        """True in ``freeze`` and ``flatten``."""
        return self.mode != "off"

    def to_json(self) -> str:
        """The file content :meth:`FileKillSwitch.read` parses back."""
        body = {
            "mode": self.mode,
            "reason": self.reason,
            "set_at_s": self.set_at_s,
            "source": self.source,
        }
        return json.dumps(body, sort_keys=True) + "\n"


def _engaged_mode(value: object) -> Literal["freeze", "flatten"] | None:
    if value == "freeze":
        return "freeze"
    if value == "flatten":
        return "flatten"
    return None


def _from_mapping(body: dict[str, Any], mtime_s: float) -> KillSwitchState:
    mode = _engaged_mode(body.get("mode"))
    reason = str(body.get("reason") or "")[:MAX_REASON]
    if mode is None:
        # Present means engaged: a missing or unknown mode (even "off") freezes.
        mode = "freeze"
        reason = f"kill switch file has mode {body.get('mode')!r}; freezing. {reason}".strip()
    set_at = body.get("set_at_s")
    set_at_s = float(set_at) if isinstance(set_at, int | float) else mtime_s
    raw_source = body.get("source")
    source: KillSource = "file"
    if raw_source == "cli":
        source = "cli"
    elif raw_source == "mqtt":
        source = "mqtt"
    elif raw_source == "dashboard":
        source = "dashboard"
    return KillSwitchState(mode, reason, set_at_s, source)


def parse_flag(text: str, mtime_s: float) -> KillSwitchState:
    """The state a present flag file means: JSON, a bare mode word, or anything else."""
    stripped = text.strip()
    if not stripped:
        return KillSwitchState("freeze", "kill switch file present", mtime_s, "file")
    word = _engaged_mode(stripped.lower())
    if word is not None:
        return KillSwitchState(word, "kill switch file present", mtime_s, "file")
    try:
        body = json.loads(stripped)
    except ValueError:
        body = None
    if isinstance(body, dict):
        return _from_mapping(body, mtime_s)
    return KillSwitchState("freeze", stripped[:MAX_REASON], mtime_s, "file")


def combine_modes(*modes: KillMode) -> KillMode:
    """The strictest of several switches: ``flatten`` over ``freeze`` over ``off``."""
    if "flatten" in modes:
        return "flatten"
    return "freeze" if "freeze" in modes else "off"
