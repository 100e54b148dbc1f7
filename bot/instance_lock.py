"""One daemon per bot: OS file locks beside the store, beside the paper venue's state, and on
the bot id in a per-host lock directory.

Two daemons on one config would both trade (every rebalance sent twice) and overwrite each
other's venue state; two with the same ``bot_id`` but different stores would both trade one
account and fight over one MQTT client id and command topic. ``fcntl.flock`` on
``<store>.lock``, ``<venue state>.lock`` and ``<lock dir>/bot-<bot_id>.lock`` is held for the
life of the process and released by the kernel when it exits, also on a crash or SIGKILL, so a
stale lock never blocks a restart. The file records the holder (pid, host, start time, bot id,
config) so the refusal can name it. The lock directory is ``$HEDGEBOT_LOCK_DIR``, else
``$XDG_RUNTIME_DIR/hedgebot``, else ``<system temp dir>/hedgebot-<uid>``; it is created 0700
and refused when another user owns it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.errors import HedgebotError
from bot.safety import PayloadRejected, loads_bounded, safe_str

__all__ = [
    "LOCK_DIR_ENV",
    "MAX_NOTE_BYTES",
    "InstanceLock",
    "InstanceLocked",
    "bot_lock_path",
    "lock_path_for",
    "recorded_holder",
]

LOCK_DIR_ENV = "HEDGEBOT_LOCK_DIR"
MAX_NOTE_BYTES = 4096  # the holder note is a small JSON object; more is not read


class InstanceLocked(HedgebotError):
    """Another process holds this bot's lock (or the lock file cannot be created)."""


def lock_path_for(path: Path) -> Path:
    """The lock file that guards ``path`` (``store.sqlite`` -> ``store.sqlite.lock``)."""
    return path.with_name(path.name + ".lock")


def lock_dir(environ: Mapping[str, str]) -> Path:
    """This host's lock directory for bot ids (module docstring), not created here."""
    chosen = environ.get(LOCK_DIR_ENV) or ""
    if chosen:
        return Path(chosen)
    runtime = environ.get("XDG_RUNTIME_DIR") or ""
    if runtime:
        return Path(runtime) / "hedgebot"
    return Path(tempfile.gettempdir()) / f"hedgebot-{os.getuid()}"


def bot_lock_path(bot_id: str, environ: Mapping[str, str]) -> Path:
    """The lock file of ``bot_id`` on this host, its directory created 0700 (and checked).

    Raises ``InstanceLocked`` when the directory cannot be made or belongs to another user.
    """
    directory = lock_dir(environ)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner = directory.stat().st_uid
    except OSError as exc:
        raise InstanceLocked(
            f"cannot create lock directory {directory}: {exc.strerror}; set {LOCK_DIR_ENV}"
        ) from None
    if owner != os.getuid():
        raise InstanceLocked(
            f"lock directory {directory} belongs to another user (uid {owner}); set "
            f"{LOCK_DIR_ENV} to a directory of your own"
        )
    return directory / f"bot-{bot_id}.lock"


def recorded_holder(fd: int) -> dict[str, Any]:
    """The holder note of an open lock file, as written by :meth:`InstanceLock.acquire`, or
    ``{}`` when it is unreadable or not a JSON object. Never raises: the file is anyone's bytes
    (bounded, depth-limited parse of its first ``MAX_NOTE_BYTES``)."""
    try:
        value = loads_bounded(os.pread(fd, MAX_NOTE_BYTES, 0), max_bytes=MAX_NOTE_BYTES)
    except (OSError, PayloadRejected):
        return {}
    return value if isinstance(value, dict) else {}


def _holder(fd: int) -> str:
    """The recorded holder of a lock file: ``pid P on host H since T (bot B, config C)``;
    each part escaped and bounded; an unreadable note is ``holder not recorded``."""
    info = recorded_holder(fd)
    if not all(key in info for key in ("pid", "host", "started", "bot_id")):
        return "another process (holder not recorded)"
    config = info.get("config")
    where = f", config {safe_str(config, 200)}" if config else ""
    return (
        f"pid {safe_str(info['pid'], 20)} on host {safe_str(info['host'], 64)} since "
        f"{safe_str(info['started'], 32)} (bot {safe_str(info['bot_id'], 64)}{where})"
    )


class InstanceLock:
    """An exclusive lock on ``path`` held until :meth:`release` (or process exit).

    Use ``InstanceLock.acquire(path, bot_id)``; raises ``InstanceLocked`` naming the holder.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(
        cls, path: Path, bot_id: str, guarded: str, config: str | None = None
    ) -> InstanceLock:
        """Take the lock on ``path`` for ``bot_id``; ``guarded`` names what it protects,
        ``config`` the config file this process runs (recorded for the refusal).

        Raises ``InstanceLocked`` when another process holds it (naming pid, host, start time)
        or when the lock file cannot be created.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            why = exc.strerror
            if path.parent.exists() and not path.parent.is_dir():  # mkdir says "File exists"
                why = f"{path.parent} is not a directory"
            raise InstanceLocked(f"cannot create lock file {path}: {why}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise InstanceLocked(
                f"{guarded} is in use by another hedgebot: {holder}; lock {path}. Stop that "
                "process first (two daemons on one bot would both trade)"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise InstanceLocked(f"cannot lock {path}: {exc.strerror}") from None
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
        body = json.dumps({**info, "bot_id": bot_id, "config": config}).encode("utf-8")
        with contextlib.suppress(OSError):  # the lock holds even if the note cannot be written
            os.ftruncate(fd, 0)
            os.pwrite(fd, body, 0)
            os.fsync(fd)
        return cls(path, fd)

    def release(self) -> None:
        """Give the lock up (idempotent); the file stays, the next holder rewrites it."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
