"""``hedgebot check-config --online``: read the chain once and print what it finds.

The checks live in :mod:`bot.chain.preflight` (positions that hold nothing, tokens that are not
the pool's pair, ...); this module only prints their findings and maps them to an exit code:
warnings print and exit 0, any error exits 2, an unreachable chain exits 1.
"""

from __future__ import annotations

import asyncio
import sys

from bot.config import Settings
from bot.errors import HedgebotError

__all__ = ["run_preflight"]

EXIT_OK = 0
EXIT_UNREACHABLE = 1
EXIT_CONFIG = 2


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")


def run_preflight(settings: Settings, config_name: str) -> int:
    """Print each finding as ``severity field: message`` on stderr; return the exit code.

    Raises nothing for findings; a chain that cannot be read is one line and exit 1.
    """
    from bot.chain.preflight import preflight

    try:
        findings = asyncio.run(preflight(settings))
    except HedgebotError as exc:
        _say(f"# {config_name}: online check failed: {exc}")
        return EXIT_UNREACHABLE
    errors = 0
    for finding in findings:
        errors += finding.severity == "error"
        _say(f"  {finding.severity} {finding.field}: {finding.message}")
    if errors:
        _say(f"# {config_name}: {errors} error(s) found on chain")
        return EXIT_CONFIG
    warned = f" ({len(findings)} warning(s))" if findings else ""
    _say(f"# {config_name}: OK online{warned}")
    return EXIT_OK
