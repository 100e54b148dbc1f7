"""Duplicate-code check of the package with pylint's ``duplicate-code`` (R0801).

Every pair of places sharing ``--min-lines`` or more lines (imports, docstrings, comments and
signatures ignored) must be listed in ``scripts/duplicate_code_accepted.txt`` (one line per
pair: ``module_a module_b  # why it is accepted``), else the check fails naming the pair.
A listed pair that no longer occurs is reported too, so the list stays true.

Usage: python scripts/check_duplicate_code.py [--min-lines 10] [DIR] (default: bot).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ACCEPTED = Path(__file__).with_name("duplicate_code_accepted.txt")
_PLACE = re.compile(r"^==([\w.]+):\[(\d+):(\d+)\]", re.M)


def found_pairs(root: str, min_lines: int) -> set[tuple[str, str]]:
    """Module pairs pylint reports as similar."""
    result = subprocess.run(  # noqa: S603 - a fixed command line of our own venv's pylint
        [
            sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code",
            f"--min-similarity-lines={min_lines}", "--ignore-imports=yes",
            "--ignore-signatures=yes", "--ignore-docstrings=yes", "--ignore-comments=yes",
            "--score=no", root,
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    pairs: set[tuple[str, str]] = set()
    for block in result.stdout.split("Similar lines in")[1:]:
        modules = sorted({m.group(1) for m in _PLACE.finditer(block)})
        for i, first in enumerate(modules):
            for second in modules[i + 1 :]:
                pairs.add((first, second))
    if result.returncode & 1 or result.returncode & 32:  # fatal or usage error
        raise SystemExit(f"pylint failed:\n{result.stdout}\n{result.stderr}")
    return pairs


def accepted_pairs() -> set[tuple[str, str]]:
    """The accepted pairs, each sorted."""
    pairs = set()
    for line in ACCEPTED.read_text(encoding="utf-8").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2:
            first, second = sorted(words)
            pairs.add((first, second))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="bot")
    parser.add_argument("--min-lines", type=int, default=10)
    args = parser.parse_args()
    found, accepted = found_pairs(args.root, args.min_lines), accepted_pairs()
    for first, second in sorted(found - accepted):
        print(f"duplicate code: {first} ~ {second} (make one piece of code serve both, or list the")
        print(f"  pair with its reason in {ACCEPTED.name})")
    for first, second in sorted(accepted - found):
        print(f"{ACCEPTED.name}: {first} {second} no longer repeats: remove the line")
    return 1 if found != accepted else 0


if __name__ == "__main__":
    sys.exit(main())
