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
from typing import TYPE_CHECKING, Any, Literal

from bot.core.killswitch import (
    MAX_FLAG_BYTES,
    MAX_REASON,
    SOURCES,
    KillSource,
    KillSwitchState,
    parse_flag,
)
from bot.ports import Clock
from bot.safety import describe_exc, printable

if TYPE_CHECKING:
    from bot.config import Settings

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
    """Engage (freeze/flatten), clear or show the kill switch of the bot configured in ``F``.

    freeze/flatten/clear write (or remove) the flag file first, then record the action in
    the bot's store (:mod:`bot.killswitch_audit`: a ``kill_switch`` command row, id
    ``cli-…``, ``ok`` or ``rejected``). Exit 0 when the flag took effect, also when the store
    could not record it (a warning line on stderr names the store and why); exit 1 when the
    flag file could not be written (one error line; the rejection is recorded). ``status``
    records nothing."""
    from bot.clock import WallClock
    from bot.config import load_config

    settings = load_config(Path(args.config), require_secrets=False)  # touches no venue
    clock = WallClock()
    switch = FileKillSwitch(
        kill_switch_path(settings.risk.kill_switch_file, settings.store.path), clock
    )
    if args.mode == "status":
        state = switch.read()
        shown = f"kill switch {state.mode} ({switch.path}) {state.reason}".rstrip()
        sys.stdout.write(printable(shown, 400) + "\n")  # the file's text, escaped like status
        return 0
    before = switch.read() if args.mode == "clear" else None
    error = _apply(switch, args.mode, args.reason)
    if error is not None:
        sys.stderr.write(f"hedgebot: kill switch {args.mode} failed: {error}\n")
    elif args.mode != "clear":
        sys.stdout.write(f"kill switch engaged: {args.mode} ({switch.path})\n")
    else:
        sys.stdout.write(f"kill switch cleared ({switch.path})\n")
        if before is not None and before.mode == "flatten":
            sys.stdout.write(
                f"after a flatten the bot stays paused until resumed: hedgebot cmd "
                f"{settings.bot_id} resume\n"
            )
    _record(settings, clock, args.mode, args.reason, error)
    return 0 if error is None else 1


def _apply(switch: FileKillSwitch, mode: str, reason: str) -> str | None:
    """Write the flag (``freeze``/``flatten``) or remove it (``clear``); None when it took
    effect, else ``kill switch file: <why>`` (one line, escaped)."""
    try:
        if mode == "clear":
            switch.clear()
        else:
            switch.engage("flatten" if mode == "flatten" else "freeze", reason, "cli")
    except OSError as exc:
        return f"kill switch file: {describe_exc(exc)}"
    return None


def _record(settings: Settings, clock: Clock, mode: str, reason: str, error: str | None) -> None:
    """Record the action in the store and say so: stdout the row's id, or one warning line
    on stderr naming the store and why the row could not be written."""
    from bot.killswitch_audit import record_cli_kill, store_name
    from bot.telemetry.action_record import UNRECORDED

    params = {"mode": mode, "reason": reason[:MAX_REASON]}
    record = record_cli_kill(settings, clock, params, error)
    if record.unrecorded is None:
        sys.stdout.write(f"recorded as command {record.command_id} in {store_name(settings)}\n")
        return
    why = record.unrecorded.removeprefix(f"{UNRECORDED}: ")
    what = "took effect" if error is None else "failed"
    sys.stderr.write(
        f"hedgebot: warning: kill switch {mode} {what} but was not recorded in the store "
        f"{store_name(settings)}: {why}\n"
    )


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
