"""Fail when a module of the package is past the size at which it usually holds two ideas.

Usage: python scripts/check_module_size.py [--max-lines 400] [DIR ...] (default: bot).
Exit 1 naming every module over the limit, largest first; 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def oversized(roots: list[Path], max_lines: int) -> list[tuple[int, Path]]:
    """(lines, path) of every ``*.py`` under ``roots`` with more than ``max_lines`` lines."""
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > max_lines:
                found.append((lines, path))
    return sorted(found, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path, default=[Path("bot")])
    parser.add_argument("--max-lines", type=int, default=400)
    args = parser.parse_args()
    found = oversized(args.roots, args.max_lines)
    for lines, path in found:
        print(f"{path}: {lines} lines (limit {args.max_lines}): split it by concern")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
