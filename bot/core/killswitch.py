"""Kill switch state and the meaning of its flag file. Pure.

The flag is a file (``bot.killswitch.FileKillSwitch`` reads and writes it): present means
engaged, so the switch survives restarts by construction and an operator can engage it with
``touch`` (freeze) or ``echo flatten > FILE`` without the bot running. The trading
consequence of a mode is decided in :func:`bot.core.trading_gate.trading_gate`.

Fail-safe reading: a file that exists but cannot be parsed means ``freeze``. The flag file is
anyone's bytes (an operator's ``echo``, a damaged disk, a hostile local user): its JSON is
parsed bounded (``bot.safety.loads_bounded``: size and depth), so no content can raise out of
:func:`parse_flag`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

from bot.core.risk import KillMode
from bot.safety import MAX_JSON_DEPTH, PayloadRejected, loads_bounded

__all__ = [
    "MAX_FLAG_BYTES",
    "MAX_REASON",
    "SOURCES",
    "KillSource",
    "KillSwitchState",
    "combine_modes",
    "parse_flag",
]

KillSource = Literal["cli", "mqtt", "file", "dashboard"]
SOURCES: tuple[str, ...] = get_args(KillSource)
MAX_REASON = 500
# a flag file is a word or a small JSON object; anything larger is read as "freeze" unparsed
MAX_FLAG_BYTES = 64 * 1024


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
        shown = repr(body.get("mode"))[:80]
        reason = f"kill switch file has mode {shown}; freezing. {reason}".strip()[:MAX_REASON]
    set_at = body.get("set_at_s")
    set_at_s = mtime_s
    if isinstance(set_at, int | float) and not isinstance(set_at, bool) and abs(set_at) < 1e12:
        set_at_s = float(set_at)  # a unix time; a 400-digit integer would overflow a float
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
    """The state a present flag file means: JSON, a bare mode word, or anything else.

    Never raises: text that is not a mode word nor a JSON object (free text, JSON too large,
    too deep or malformed) is ``freeze``, its reason the text or why it was refused.
    """
    stripped = text.strip()
    if not stripped:
        return KillSwitchState("freeze", "kill switch file present", mtime_s, "file")
    word = _engaged_mode(stripped.lower())
    if word is not None:
        return KillSwitchState(word, "kill switch file present", mtime_s, "file")
    try:
        body = loads_bounded(stripped, max_bytes=MAX_FLAG_BYTES, max_depth=MAX_JSON_DEPTH)
    except PayloadRejected as refused:
        if stripped[0] in "[{":  # meant as JSON: say why it was not read
            reason = f"kill switch file unreadable ({refused}); freezing"
            return KillSwitchState("freeze", reason[:MAX_REASON], mtime_s, "file")
        body = None
    if isinstance(body, dict):
        return _from_mapping(body, mtime_s)
    return KillSwitchState("freeze", stripped[:MAX_REASON], mtime_s, "file")


def combine_modes(*modes: KillMode) -> KillMode:
    """The strictest of several switches: ``flatten`` over ``freeze`` over ``off``."""
    if "flatten" in modes:
        return "flatten"
    return "freeze" if "freeze" in modes else "off"
