"""One daemon per bot: an OS file lock beside the store and beside the paper venue's state.

Two daemons on one config would both trade (every rebalance sent twice) and overwrite each
other's venue state. ``fcntl.flock`` on ``<store>.lock`` (and ``<venue state>.lock``) is held
for the life of the process and released by the kernel when it exits, also on a crash or
SIGKILL, so a stale lock never blocks a restart. The file records the holder (pid, host, start
time, bot id) so the refusal can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from bot.errors import HedgebotError

__all__ = ["InstanceLock", "InstanceLocked", "lock_path_for"]


class InstanceLocked(HedgebotError):
    """Another process holds this bot's lock (or the lock file cannot be created)."""


def lock_path_for(path: Path) -> Path:
    """The lock file that guards ``path`` (``store.sqlite`` -> ``store.sqlite.lock``)."""
    return path.with_name(path.name + ".lock")


def _holder(fd: int) -> str:
    """The recorded holder of a lock file, as ``pid P on host H since T (bot B)``."""
    with contextlib.suppress(OSError, ValueError):
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode("utf-8"))
        return (
            f"pid {info['pid']} on host {info['host']} since {info['started']} "
            f"(bot {info['bot_id']})"
        )
    return "another process (holder not recorded)"


class InstanceLock:
    """An exclusive lock on ``path`` held until :meth:`release` (or process exit).

    Use ``InstanceLock.acquire(path, bot_id)``; raises ``InstanceLocked`` naming the holder.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path, bot_id: str, guarded: str) -> InstanceLock:
        """Take the lock on ``path`` for ``bot_id``; ``guarded`` names what it protects.

        Raises ``InstanceLocked`` when another process holds it (naming pid, host, start time)
        or when the lock file cannot be created.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise InstanceLocked(f"cannot create lock file {path}: {exc.strerror}") from None
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
        body = json.dumps({**info, "bot_id": bot_id}).encode("utf-8")
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
