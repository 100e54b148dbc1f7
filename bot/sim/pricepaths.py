"""Price paths for offline simulation: seeded geometric Brownian motion, or a CSV file.

Floats on purpose (ARCHITECTURE.md: "float only inside simulation and statistics").
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.number_text import is_ascii_number

__all__ = [
    "MAX_STEPS",
    "SECONDS_PER_YEAR",
    "FloatArray",
    "PricePath",
    "gbm",
    "gbm_paths",
    "load_csv",
]

FloatArray = NDArray[np.float64]
SECONDS_PER_YEAR = 365.0 * 24 * 3600
# the most steps one backtest simulates: every step costs a few float arrays' worth of memory
# (1,000,000,000 steps grew to 5.9 GB before it was bounded)
MAX_STEPS = 2_102_400  # four years of minute steps


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
    """One seeded GBM path; times start at 0.

    Raises ``ValueError`` naming the arguments when a price leaves ``PRICE_RANGE`` (a
    volatility or drift too large for the horizon ``steps x step_s``), as a CSV price would.
    """
    with np.errstate(over="ignore", under="ignore"):
        prices = _path(steps, step_s, sigma_annual, drift_annual, start_price, seed)
    low, high = PRICE_RANGE
    outside = np.flatnonzero(~((prices >= low) & (prices <= high)))
    if outside.size:
        raise ValueError(
            f"the GBM path leaves [{low:g}, {high:g}] quote per base at step {outside[0]}: "
            "lower --gbm-sigma or --gbm-drift, or the horizon (--steps x --step-seconds)"
        )
    times = np.arange(steps + 1, dtype=np.float64) * step_s
    return PricePath(times_s=times, prices=prices)


def _path(
    steps: int,
    step_s: float,
    sigma_annual: float,
    drift_annual: float,
    start_price: float,
    seed: int,
) -> FloatArray:
    path: FloatArray = gbm_paths(
        n_paths=1,
        steps=steps,
        step_s=step_s,
        sigma_annual=sigma_annual,
        drift_annual=drift_annual,
        start_price=start_price,
        seed=seed,
    )[0]
    return path


_COLUMNS = ("timestamp", "price", "funding_rate")
# ASCII decimal notation only (bot.number_text): float() also takes "２００２", "2_002", " 2002 "
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
# sane ranges: a price outside [1e-12, 1e12] quote per base overflows the float LP value and
# hedge arithmetic long before it means anything; a funding rate beyond ±100 % per interval is
# no market's; a timestamp must be before the year 10000
PRICE_RANGE = (1e-12, 1e12)
FUNDING_RATE_LIMIT = 1.0
MAX_TIMESTAMP_S = 253_402_300_799.0  # 9999-12-31T23:59:59Z


def _number(text: str) -> float:
    """An ASCII decimal number (``2002``, ``-1.5e-4``); ``nan``/``inf`` spellings parse to
    themselves so the caller can say they are not finite. Raises ``ValueError`` otherwise."""
    if is_ascii_number(text) or _NON_FINITE.fullmatch(text):
        return float(text)
    raise ValueError(text)


def _parse_timestamp(text: str) -> float:
    """Unix seconds, unix milliseconds (> 1e11), or ISO 8601 (ASCII)."""
    try:
        value = _number(text)
    except ValueError:
        if not text.isascii() or text != text.strip():
            raise
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    return value / 1000.0 if value > 1e11 else value


def _check_range(column: int, value: float) -> str | None:
    """Why ``value`` is out of its column's sane range, or None."""
    if column == 0 and not 0 < value <= MAX_TIMESTAMP_S:
        return f"must be > 0 and before the year 10000 (<= {MAX_TIMESTAMP_S:.0f} s)"
    low, high = PRICE_RANGE
    if column == 1 and not low <= value <= high:
        return "must be > 0" if value <= 0 else f"must be within [{low:g}, {high:g}]"
    if column == 2 and abs(value) > FUNDING_RATE_LIMIT:
        return f"must be within [-{FUNDING_RATE_LIMIT:g}, {FUNDING_RATE_LIMIT:g}] per interval"
    return None


def _cell(cells: list[str], column: int) -> float:
    """The number in ``cells[column]``: ASCII decimal, finite, within its sane range.

    Raises ``ValueError`` naming the column (1-based, with its name) and the cell's text.
    """
    text = cells[column]
    where = f"column {column + 1} ({_COLUMNS[column]})"
    if not text:
        raise ValueError(f"{where}: empty cell")
    try:
        value = _parse_timestamp(text) if column == 0 else _number(text)
    except (ValueError, OverflowError):
        kind = "a unix time or ISO 8601" if column == 0 else "a number in ASCII decimal notation"
        raise ValueError(f"{where}: not {kind}: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number, got {text[:40]!r}")
    problem = _check_range(column, value)
    if problem is not None:
        raise ValueError(f"{where}: {problem}, got {text[:40]!r}")
    return value


class _Rows:
    """The columns read so far, checked row by row as they arrive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.times: list[float] = []
        self.prices: list[float] = []
        self.rates: list[float] = []
        self.last_line = 0

    def add(self, line_no: int, cells: list[str]) -> None:
        """One data row; raises ``ValueError`` naming file and line."""
        if len(cells) < 2 or len(cells) > len(_COLUMNS):
            found = f"{len(cells)} column{'s' if len(cells) != 1 else ''}"
            raise ValueError(
                f"{self.path}:{line_no}: expected timestamp,price[,funding_rate], got {found}"
            )
        if len(self.prices) > MAX_STEPS:
            raise ValueError(
                f"{self.path}:{line_no}: more than {MAX_STEPS + 1} rows: a backtest simulates "
                f"at most {MAX_STEPS} steps"
            )
        try:
            time_s = _cell(cells, 0)
            price = _cell(cells, 1)
            rate = _cell(cells, 2) if len(cells) > 2 and cells[2] else None
        except ValueError as exc:
            raise ValueError(f"{self.path}:{line_no}: {exc}") from None
        if self.times and time_s <= self.times[-1]:
            raise ValueError(
                f"{self.path}:{line_no}: column 1 (timestamp): timestamps must be strictly "
                f"increasing ({cells[0][:40]!r} is not after line {self.last_line})"
            )
        self.times.append(time_s)
        self.prices.append(price)
        if rate is not None:
            self.rates.append(rate)
        self.last_line = line_no


def _is_data(line_no: int, cells: list[str]) -> bool:
    first = cells[0].strip() if cells else ""
    if not first or first.startswith("#"):
        return False
    return not (line_no == 1 and first.lower() in {"timestamp", "time", "ts", "date"})


def load_csv(path: Path) -> PricePath:
    """Read ``timestamp,price[,funding_rate]`` rows; a header row is optional.

    Numbers are ASCII decimal notation (no spaces, underscores or other digits); prices
    within ``PRICE_RANGE`` quote per base, funding rates within ±``FUNDING_RATE_LIMIT``,
    timestamps strictly increasing; at most ``MAX_STEPS + 1`` rows (refused while reading).
    Raises ``ValueError`` as one line ``file:line: column N (name): reason`` (or
    ``file:line: reason`` for a row with the wrong number of columns); ``OSError`` when the
    file cannot be read.
    """
    rows = _Rows(path)
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if _is_data(line_no, row):
                rows.add(line_no, row)
    if rows.rates and len(rows.rates) != len(rows.prices):
        raise ValueError(f"{path}: funding_rate must be given on every row or on none")
    return PricePath(
        times_s=np.asarray(rows.times, dtype=np.float64),
        prices=np.asarray(rows.prices, dtype=np.float64),
        funding_rates=np.asarray(rows.rates, dtype=np.float64) if rows.rates else None,
    )
