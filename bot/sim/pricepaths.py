"""Price paths for offline simulation: seeded geometric Brownian motion, or a CSV file.

Floats on purpose (ARCHITECTURE.md: "float only inside simulation and statistics").
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["SECONDS_PER_YEAR", "FloatArray", "PricePath", "gbm", "gbm_paths", "load_csv"]

FloatArray = NDArray[np.float64]
SECONDS_PER_YEAR = 365.0 * 24 * 3600


@dataclass(frozen=True, eq=False)
class PricePath:
    """Prices at increasing times; ``funding_rates`` (per 8 h, per row) when the source has them.

    ``times_s`` are unix seconds for CSV input and seconds from the start for GBM; funding
    times are multiples of the funding interval on that clock.
    """

    times_s: FloatArray
    prices: FloatArray
    funding_rates: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.times_s.shape != self.prices.shape or self.times_s.ndim != 1:
            raise ValueError("times_s and prices must be 1-D arrays of the same length")
        if len(self.prices) < 2:
            raise ValueError("a price path needs at least two points")
        if not np.all(np.diff(self.times_s) > 0):
            raise ValueError("timestamps must be strictly increasing")
        if not np.all(self.prices > 0):
            raise ValueError("prices must be positive")
        if self.funding_rates is not None and self.funding_rates.shape != self.prices.shape:
            raise ValueError("funding_rates must have one value per row")

    @property
    def steps(self) -> int:
        """Number of intervals (one less than the number of prices)."""
        return len(self.prices) - 1


def gbm_paths(
    *,
    n_paths: int,
    steps: int,
    step_s: float,
    sigma_annual: float,
    drift_annual: float = 0.0,
    start_price: float = 2000.0,
    seed: int = 0,
) -> FloatArray:
    """``n_paths`` GBM price paths of ``steps + 1`` points, shape (n_paths, steps + 1).

    Exact log-normal increments: ``ln(P'/P) = (μ − σ²/2) dt + σ √dt Z`` with dt in years.
    """
    if steps < 1 or n_paths < 1 or step_s <= 0 or sigma_annual < 0 or start_price <= 0:
        raise ValueError("need steps >= 1, n_paths >= 1, step_s > 0, sigma >= 0, price > 0")
    dt = step_s / SECONDS_PER_YEAR
    rng = np.random.default_rng(seed)
    increments = rng.standard_normal((n_paths, steps))
    increments *= sigma_annual * math.sqrt(dt)
    increments += (drift_annual - 0.5 * sigma_annual**2) * dt
    log_paths = np.zeros((n_paths, steps + 1))
    np.cumsum(increments, axis=1, out=log_paths[:, 1:])
    paths: FloatArray = start_price * np.exp(log_paths)
    return paths


def gbm(
    *,
    steps: int,
    step_s: float,
    sigma_annual: float,
    drift_annual: float = 0.0,
    start_price: float = 2000.0,
    seed: int = 0,
) -> PricePath:
    """One seeded GBM path; times start at 0."""
    prices = gbm_paths(
        n_paths=1,
        steps=steps,
        step_s=step_s,
        sigma_annual=sigma_annual,
        drift_annual=drift_annual,
        start_price=start_price,
        seed=seed,
    )[0]
    times = np.arange(steps + 1, dtype=np.float64) * step_s
    return PricePath(times_s=times, prices=prices)


_COLUMNS = ("timestamp", "price", "funding_rate")


def _parse_timestamp(text: str) -> float:
    """Unix seconds, unix milliseconds (> 1e11), or ISO 8601."""
    try:
        value = float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    return value / 1000.0 if value > 1e11 else value


def _cell(cells: list[str], column: int) -> float:
    """The number in ``cells[column]``: finite, a positive price, a timestamp > 0.

    Raises ``ValueError`` naming the column (1-based, with its name) and the cell's text.
    """
    text = cells[column]
    where = f"column {column + 1} ({_COLUMNS[column]})"
    if not text:
        raise ValueError(f"{where}: empty cell")
    try:
        value = _parse_timestamp(text) if column == 0 else float(text)
    except (ValueError, OverflowError):
        kind = "a unix time or ISO 8601" if column == 0 else "a number"
        raise ValueError(f"{where}: not {kind}: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number, got {text[:40]!r}")
    if column < 2 and value <= 0:
        raise ValueError(f"{where}: must be > 0, got {text[:40]!r}")
    return value


def load_csv(path: Path) -> PricePath:
    """Read ``timestamp,price[,funding_rate]`` rows; a header row is optional.

    Raises ``ValueError`` as one line ``file:line: column N (name): reason`` for an empty,
    non-numeric, NaN, infinite (``inf``, ``1e309``) or non-positive timestamp/price cell and
    a non-finite funding rate; ``OSError`` when the file cannot be read.
    """
    times: list[float] = []
    prices: list[float] = []
    rates: list[float] = []
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            cells = [cell.strip() for cell in row]
            if not cells or not cells[0] or cells[0].startswith("#"):
                continue
            if line_no == 1 and cells[0].lower() in {"timestamp", "time", "ts", "date"}:
                continue
            if len(cells) < 2:
                raise ValueError(f"{path}:{line_no}: expected timestamp,price[,funding_rate]")
            try:
                times.append(_cell(cells, 0))
                prices.append(_cell(cells, 1))
                if len(cells) > 2 and cells[2]:
                    rates.append(_cell(cells, 2))
            except ValueError as exc:
                raise ValueError(f"{path}:{line_no}: {exc}") from None
    if rates and len(rates) != len(prices):
        raise ValueError(f"{path}: funding_rate must be given on every row or on none")
    return PricePath(
        times_s=np.asarray(times, dtype=np.float64),
        prices=np.asarray(prices, dtype=np.float64),
        funding_rates=np.asarray(rates, dtype=np.float64) if rates else None,
    )
