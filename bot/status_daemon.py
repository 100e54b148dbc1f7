"""Is the daemon running? Asked of its instance lock (``bot.instance_lock``), never taken.

``hedgebot run`` holds an exclusive ``flock`` on ``<store>.lock`` for its whole life and
writes its pid, host and start time into the file; the kernel releases it when the process
ends, also on SIGKILL. So a lock that a non-blocking shared ``flock`` cannot get is held by a
live daemon, and one it can get (or no lock file) means nobody runs this bot here. The probe
opens the file read-only, creates nothing and releases at once; a daemon starting in the same
instant may be reported not running (the answer is as of the probe).

Ages (:func:`age_text`) are measured against the clock that stamped the record, the store's
wall ``ts``; a record stamped ahead of this host's clock (a simulated chain's clock, a host
with skew) is never shown as ``0s ago``: it says ``Ns ahead of this host's clock``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from bot.display import fmt_span
from bot.instance_lock import lock_path_for, recorded_holder

__all__ = ["age_text", "daemon_view", "probe_lock"]


def probe_lock(path: Path) -> dict[str, Any] | None:
    """The holder of the instance lock at ``path`` (``{"pid", "host", "started"}``, each
    ``None`` when not recorded), or ``None`` when no process holds it (or no file exists).
    Never creates or changes the file; an unreadable file is ``None`` (not running here)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _recorded(fd)
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _recorded(fd: int) -> dict[str, Any]:
    info = recorded_holder(fd)  # bounded parse: the lock file is anyone's bytes
    pid = info.get("pid")
    return {
        "pid": pid
        if isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 1 << 32
        else None,
        "host": None if info.get("host") is None else str(info["host"])[:64],
        "started": None if info.get("started") is None else str(info["started"])[:32],
    }


def daemon_view(store_path: Path, last_seen: float | None) -> dict[str, Any]:
    """``{"running", "pid", "host", "started", "lock", "last_seen"}`` for the bot whose store
    is ``store_path``; ``last_seen`` (unix s, the store's last tick record) is kept as given."""
    lock = lock_path_for(store_path)
    holder = probe_lock(lock)
    return {
        "running": holder is not None,
        "pid": None if holder is None else holder["pid"],
        "host": None if holder is None else holder["host"],
        "started": None if holder is None else holder["started"],
        "lock": str(lock),
        "last_seen": last_seen,
    }


def age_text(age_s: float) -> str:
    """``36s ago``; a negative age (the record's clock ahead of this host's) as
    ``6h48m ahead of this host's clock``, never clamped to 0."""
    if age_s < 0:
        return f"{fmt_span(-age_s)} ahead of this host's clock"
    return f"{fmt_span(age_s)} ago"
