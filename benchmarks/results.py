"""``bench/results.json``: every figure a benchmark run produced, ``{name: {"value": v,
"unit": u}}``, merged with the figures of earlier runs it did not produce (so ``make soak``'s
100,000-tick figures stay beside ``make bench``'s, and one module run alone updates only its
own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path("bench/results.json")

Figures = dict[str, dict[str, Any]]


def write_results(figures: Figures, path: Path = RESULTS) -> list[str]:
    """Write ``figures`` into ``path`` over its earlier content; the names kept from earlier
    runs (sorted). An unreadable or malformed earlier file is replaced, not merged."""
    earlier: Figures = {}
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        loaded = None
    if isinstance(loaded, dict):
        earlier = {
            name: figure
            for name, figure in loaded.items()
            if isinstance(figure, dict) and {"value", "unit"} <= figure.keys()
        }
    kept = sorted(set(earlier) - set(figures))
    merged = {**earlier, **figures}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return kept
