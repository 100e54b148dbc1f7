"""The kill switch as a flag file, and ``hedgebot kill --config F freeze|flatten|clear``.

Present means engaged (see :mod:`bot.core.killswitch` for what the content means), so the
switch survives restarts until cleared and works whether or not the bot is running: the
engine reads the flag at every tick. Writes are atomic (temp file, fsync, rename).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from bot.core.killswitch import (
    MAX_FLAG_BYTES,
    MAX_REASON,
    SOURCES,
    KillSource,
    KillSwitchState,
    parse_flag,
)
from bot.ports import Clock
from bot.safety import printable

__all__ = ["FileKillSwitch", "add_subcommand", "kill_switch_path"]


def kill_switch_path(configured: Path | None, store_path: Path) -> Path:
    """The configured flag file, or ``kill-switch`` beside the store (one per bot)."""
    return configured if configured is not None else store_path.parent / "kill-switch"


class FileKillSwitch:
    """The kill switch persisted as a flag file at ``path``."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock

    def read(self) -> KillSwitchState:
        """Current state: no file is ``off``; an unreadable file (no permission, a directory,
        larger than ``MAX_FLAG_BYTES``, JSON too deep or malformed) is ``freeze``. Never
        raises for any content: the engine reads this at every tick."""
        try:  # non-blocking: a FIFO planted at the path must not stop the tick
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return KillSwitchState()
        except OSError as exc:
            reason = f"kill switch file unreadable ({exc.strerror}); freezing"
            return KillSwitchState("freeze", reason, self._clock.now(), "file")
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                reason = "kill switch file is not a regular file; freezing"
                return KillSwitchState("freeze", reason, self._clock.now(), "file")
            raw = os.read(fd, MAX_FLAG_BYTES + 1)
            mtime_s = info.st_mtime
        except OSError as exc:
            reason = f"kill switch file unreadable ({exc.strerror}); freezing"
            return KillSwitchState("freeze", reason, self._clock.now(), "file")
        finally:
            os.close(fd)
        if len(raw) > MAX_FLAG_BYTES:
            reason = f"kill switch file larger than {MAX_FLAG_BYTES} bytes; freezing"
            return KillSwitchState("freeze", reason, mtime_s, "file")
        return parse_flag(raw.decode("utf-8", errors="replace"), mtime_s)

    def engage(
        self, mode: Literal["freeze", "flatten"], reason: str, source: KillSource
    ) -> KillSwitchState:
        """Engage (or change the mode of) the switch; the latest call wins."""
        if mode not in ("freeze", "flatten"):
            raise ValueError(f"mode must be freeze or flatten, got {mode!r}")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        state = KillSwitchState(mode, reason[:MAX_REASON], self._clock.now(), source)
        self._write_atomic(state.to_json())
        return state

    def clear(self) -> None:
        """Disengage: delete the flag file (a no-op when it is absent)."""
        self.path.unlink(missing_ok=True)
        self._sync_dir()

    def _write_atomic(self, text: str) -> None:
        """Temp file in the same directory, fsync, rename over: readers see old or new."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._sync_dir()

    def _sync_dir(self) -> None:
        """Make the rename or unlink durable; best effort where directories cannot be opened."""
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            with contextlib.suppress(OSError):
                os.fsync(fd)
        finally:
            os.close(fd)


def cmd_kill(args: argparse.Namespace) -> int:
    """Engage (freeze/flatten), clear or show the kill switch of the bot configured in ``F``."""
    from bot.clock import WallClock
    from bot.config import load_config

    settings = load_config(Path(args.config), require_secrets=False)  # touches no venue
    switch = FileKillSwitch(
        kill_switch_path(settings.risk.kill_switch_file, settings.store.path), WallClock()
    )
    if args.mode == "clear":
        before = switch.read()
        switch.clear()
        sys.stdout.write(f"kill switch cleared ({switch.path})\n")
        if before.mode == "flatten":
            sys.stdout.write(
                f"after a flatten the bot stays paused until resumed: hedgebot cmd "
                f"{settings.bot_id} resume\n"
            )
        return 0
    if args.mode == "status":
        state = switch.read()
        shown = f"kill switch {state.mode} ({switch.path}) {state.reason}".rstrip()
        sys.stdout.write(printable(shown, 400) + "\n")  # the file's text, escaped like status
        return 0
    state = switch.engage(args.mode, args.reason, "cli")
    sys.stdout.write(f"kill switch engaged: {state.mode} ({switch.path})\n")
    return 0


def add_subcommand(subparsers: Any) -> None:
    """Register ``hedgebot kill --config F freeze|flatten|clear|status [--reason R]``."""
    parser = subparsers.add_parser(
        "kill",
        help="kill switch: freeze (no new orders), flatten (close the hedge reduce-only), "
        "clear, or status; survives restarts until cleared",
    )
    parser.add_argument("--config", required=True)
    parser.add_argument(
        "mode",
        choices=["freeze", "flatten", "clear", "status"],
        help="freeze: no new orders; flatten: close the hedge reduce-only, then stay paused; "
        "clear: remove the switch (after a flatten, resume to trade); status: show it",
    )
    parser.add_argument("--reason", default="operator request (cli)")
    parser.set_defaults(func=cmd_kill)
