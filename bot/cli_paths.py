"""Path arguments checked before a command runs: a file where a directory is expected, a
directory where a file is expected, a parent that is a file or cannot be written.

``localnet --out /dev/null`` was a ``FileExistsError`` traceback after anvil had started
(issue 12 review 2 item 4). Each path argument of every subcommand is one of three kinds:

- an output directory, created when missing (``localnet --out``, ``demo --workdir``);
- an output file, its missing parents created (``report --out``, ``backtest --plot``);
- an input file (``backtest --prices``; any ``--config``, whose absence the config loader
  names when the command runs, so a command line written for a container still parses).

:func:`path_problem` is called by ``bot.cli_commands.command_problem``; the answer is
``(flag, why)`` and the command exits 2 with one line, having touched nothing.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["input_file_problem", "output_dir_problem", "output_file_problem", "path_problem"]


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (lstat follows no final link)."""
    current = path
    while not os.path.lexists(current) and current != current.parent:
        current = current.parent
    return current


def _creatable_under(path: Path) -> str | None:
    """Why ``path`` (missing) cannot be created with its missing parents, or None."""
    base = _nearest_existing(path.parent if path.parent != path else path)
    if not base.is_dir():
        return f"{path} is under {base}, which is not a directory"
    if not os.access(base, os.W_OK | os.X_OK):
        return f"cannot create {path}: {base} is not writable"
    return None


def output_dir_problem(text: str) -> str | None:
    """Why ``text`` cannot be a directory the command creates (when missing) and writes files
    into, or None: empty, an existing non-directory (``/dev/null``, a regular file), under a
    non-directory, or not writable."""
    if not text.strip():
        return "empty path"
    path = Path(text)
    if os.path.lexists(path):
        if not path.is_dir():
            return f"{text} exists and is not a directory"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{text} is not writable"
        return None
    return _creatable_under(path)


def output_file_problem(text: str) -> str | None:
    """Why ``text`` cannot be a file the command writes (replacing it; missing parents are
    created), or None: empty, a directory, a FIFO, socket or dangling link (a character device
    such as ``/dev/null`` is fine), under a non-directory, or not writable."""
    if not text.strip():
        return "empty path"
    path = Path(text)
    if os.path.lexists(path):
        mode = path.stat().st_mode if path.exists() else 0
        if stat.S_ISDIR(mode):
            return f"{text} is a directory, not a file"
        if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):  # /dev/null discards: fine
            return f"{text} is not a regular file (a FIFO would block, a dangling link fail)"
        if not os.access(path, os.W_OK):
            return f"{text} is not writable"
        return None
    return _creatable_under(path)


def input_file_problem(text: str) -> str | None:
    """Why ``text`` cannot be read as a file, or None: empty, missing, a directory or a special
    file (a FIFO would block the read)."""
    if not text.strip():
        return "empty path"
    try:
        mode = os.stat(text).st_mode
    except FileNotFoundError:
        return f"{text}: no such file"
    except OSError as exc:
        return f"{text}: {exc.strerror}"
    if stat.S_ISDIR(mode):
        return f"{text} is a directory, not a file"
    if not stat.S_ISREG(mode):
        return f"{text} is not a regular file"
    if not os.access(text, os.R_OK):
        return f"{text} is not readable"
    return None


def _config_problem(text: str) -> str | None:
    """A config given to a command without ``cli_args.config_path`` (``kill``, ``report``,
    ``store compact``): a directory is refused now; a missing file by the loader."""
    if text.strip() and Path(text).is_dir():
        return f"{text} is a directory, not a config file"
    return None


def path_problem(args: argparse.Namespace) -> tuple[str, str] | None:
    """``(flag, why)`` for the first path argument of the parsed command that cannot be used
    as the command uses it, or None. Commands are told apart by the options they declare."""
    names = vars(args)
    checks: list[tuple[str, str, Callable[[str], str | None]]] = []
    if "no_market" in names:  # localnet
        checks.append(("--out", "out", output_dir_problem))
    if "workdir" in names:  # demo
        checks.append(("--workdir", "workdir", output_dir_problem))
    if "no_chart" in names:  # report (one bot)
        checks.append(("--out", "out", output_file_problem))
    if "plot" in names:  # backtest
        checks.append(("--prices", "prices", input_file_problem))
        checks.append(("--plot", "plot", output_file_problem))
    checks.append(("--config", "config", _config_problem))
    for flag, dest, check in checks:
        value = names.get(dest)
        if isinstance(value, str):
            problem = check(value)
            if problem is not None:
                return flag, problem
    return None
