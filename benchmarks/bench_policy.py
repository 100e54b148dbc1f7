"""Policy study (``make bench-policy``): hedging cost vs tracking error for each policy.

For each pool (V2, V3 ±10%) and volatility, 200 seeded GBM paths (common to every policy) of
14 days in 5-minute steps are hedged by each policy across a parameter sweep. Cost is taker
fee + slippage of the rebalancing trades (the opening trade at t0, identical for every policy,
is left out); tracking error is the std of per-step hedged PnL (``BacktestResult``), averaged
over paths. The cost-aware band is compared with the lower envelope of *both* fixed threshold
families (fraction of delta and absolute), interpolated to the band's tracking error, with
per-path pairing for the standard error. Writes bench/policy_results.json and
bench/policy_frontier.png.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.policy import CostAwareBandPolicy, HedgePolicy, IntervalPolicy, ThresholdPolicy
from bot.sim.backtest import BacktestConfig, PoolSpec, VenueModel, run_backtest
from bot.sim.pricepaths import PricePath, gbm_paths

SIGMAS = (0.4, 0.8, 1.2)
POOLS = {"v2": PoolSpec("v2", 100_000.0), "v3±10%": PoolSpec("v3", 100_000.0, 0.10)}
N_PATHS = 200
STEP_S = 300.0
STEPS = 14 * 24 * 12
VENUE = VenueModel(taker_fee_bps=5.0, slippage_bps=2.0, funding_rate=0.0)
COST_FRACTION = Decimal(repr(VENUE.cost_fraction))

FRACTIONS = tuple(f"{x:.3g}" for x in np.geomspace(0.003, 0.3, 15))
ABSOLUTES = tuple(f"{x:.3g}" for x in np.geomspace(0.03, 6.0, 13))
INTERVALS = (300.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 24 * 3600.0)
RISK_AVERSIONS = ("3e-1", "1e-1", "3e-2", "1e-2", "3e-3", "1e-3", "3e-4", "1e-4", "3e-5", "1e-5")
THRESHOLD_FAMILIES = ("threshold_frac", "threshold_abs")
METRICS = ("tracking_error", "terminal")

OUT_DIR = Path("bench")


@dataclass(frozen=True)
class Point:
    """One policy setting on one (pool, sigma): per-path figures."""

    family: str
    param: str
    cost: np.ndarray
    tracking: np.ndarray
    pnl: np.ndarray
    rebalances: np.ndarray

    def row(self) -> dict[str, Any]:
        n = len(self.cost)
        return {
            "family": self.family,
            "param": self.param,
            "cost_mean": float(self.cost.mean()),
            "cost_se": float(self.cost.std(ddof=1) / math.sqrt(n)),
            "tracking_error_mean": float(self.tracking.mean()),
            "hedged_pnl_std": float(self.pnl.std(ddof=1)),
            "rebalances_mean": float(self.rebalances.mean()),
        }


def _policies() -> list[tuple[str, str, HedgePolicy]]:
    out: list[tuple[str, str, HedgePolicy]] = []
    out += [
        ("threshold_frac", f, ThresholdPolicy(threshold_fraction=Decimal(f))) for f in FRACTIONS
    ]
    out += [("threshold_abs", a, ThresholdPolicy(threshold_base=Decimal(a))) for a in ABSOLUTES]
    out += [("interval", f"{i:g}", IntervalPolicy(interval_s=i)) for i in INTERVALS]
    out += [
        ("band", lam, CostAwareBandPolicy(cost_fraction=COST_FRACTION, risk_aversion=Decimal(lam)))
        for lam in RISK_AVERSIONS
    ]
    return out


def _simulate(paths: list[PricePath], pool: PoolSpec) -> list[Point]:
    points = []
    for family, param, policy in _policies():
        config = BacktestConfig(policy=policy, pool=pool, venue=VENUE)
        cost, tracking, pnl, rebalances = [], [], [], []
        for path in paths:
            r = run_backtest(path, config)
            cost.append(r.hedging_cost_quote - float(r.series.cum_costs_quote[0]))
            tracking.append(r.tracking_error_quote)
            pnl.append(r.hedged_pnl_ex_fees_quote)
            rebalances.append(r.rebalances - 1)
        cost_a, tracking_a, pnl_a, rebalances_a = (
            np.asarray(x, dtype=float) for x in (cost, tracking, pnl, rebalances)
        )
        points.append(Point(family, param, cost_a, tracking_a, pnl_a, rebalances_a))
    return points


def _risk(p: Point, metric: str) -> np.ndarray:
    return p.tracking if metric == "tracking_error" else np.abs(p.pnl - p.pnl.mean())


def _frontier(points: list[Point], metric: str) -> list[Point]:
    """Pareto-efficient threshold points (lower cost for lower risk), by increasing risk."""
    candidates = sorted(
        (p for p in points if p.family in THRESHOLD_FAMILIES), key=lambda p: _risk(p, metric).mean()
    )
    frontier: list[Point] = []
    for p in candidates:  # increasing risk: keep only points cheaper than every tighter one
        if not frontier or p.cost.mean() < frontier[-1].cost.mean():
            frontier.append(p)
    return frontier


def _compare(points: list[Point], metric: str) -> list[dict[str, Any]]:
    """Band cost minus threshold-frontier cost at the band's risk level, paired by path.

    ``metric`` "tracking_error": mean per-step TE; "terminal": mean |hedged PnL − mean| over
    paths (a dispersion of the 14-day result). Cost vs risk is close to a power law, so the
    frontier is interpolated in log-log; the per-path reference is the linear blend of the two
    bracketing settings rescaled to that mean, which keeps the pairing for the standard error.
    """
    frontier = _frontier(points, metric)
    risk = np.log([_risk(p, metric).mean() for p in frontier])
    out = []
    for band in (p for p in points if p.family == "band"):
        risk_b = float(_risk(band, metric).mean())
        row: dict[str, Any] = {"risk_aversion": band.param, "risk": risk_b}
        x = math.log(risk_b)
        if len(frontier) < 2 or not risk[0] <= x <= risk[-1]:
            row.update(verdict="outside_threshold_range")
            out.append(row)
            continue
        j = min(int(np.searchsorted(risk, x, side="right")), len(risk) - 1)
        lo, hi = frontier[j - 1], frontier[j]
        w = float((risk[j] - x) / (risk[j] - risk[j - 1]))
        m_lo, m_hi = float(lo.cost.mean()), float(hi.cost.mean())
        target_mean = math.exp(w * math.log(m_lo) + (1 - w) * math.log(m_hi))
        blend = w * lo.cost + (1 - w) * hi.cost
        reference = blend * (target_mean / float(blend.mean()))
        diff = band.cost - reference
        se = float(diff.std(ddof=1) / math.sqrt(len(diff)))
        saving = -float(diff.mean()) / target_mean
        verdict = (
            "band_wins"
            if diff.mean() < -2 * se
            else "band_loses"
            if diff.mean() > 2 * se
            else "tie"
        )
        row.update(
            band_cost=float(band.cost.mean()),
            threshold_cost=target_mean,
            saving_fraction=saving,
            saving_se_fraction=se / target_mean,
            between=f"{lo.family}={lo.param} .. {hi.family}={hi.param}",
            verdict=verdict,
        )  # fmt: skip
        out.append(row)
    return out


def _conclusions(comparisons: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Per sigma: where the band beats the best threshold (most settings win, none lose)."""
    lines = []
    for sigma in SIGMAS:
        beats: list[str] = []
        not_beats: list[str] = []
        for pool in POOLS:
            rows = comparisons[f"{pool} sigma={sigma:g} tracking_error"]
            comparable = [r for r in rows if r["verdict"] != "outside_threshold_range"]
            wins = sum(r["verdict"] == "band_wins" for r in comparable)
            losses = sum(r["verdict"] == "band_loses" for r in comparable)
            median = float(np.median([r["saving_fraction"] for r in comparable] or [math.nan]))
            label = f"{pool} ({wins}/{len(comparable)} wins, {losses} losses, median {median:+.1%})"
            (
                beats if comparable and losses == 0 and wins > len(comparable) / 2 else not_beats
            ).append(label)
        lines.append(
            f"σ={sigma:g}: band beats the best fixed threshold on: {', '.join(beats) or 'none'}; "
            f"does not (tie or loss) on: {', '.join(not_beats) or 'none'}"
        )
    return lines


def _plot(study: dict[tuple[str, float], list[Point]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(len(POOLS), len(SIGMAS), figsize=(5 * len(SIGMAS), 4.2 * len(POOLS)))
    styles = {"threshold_frac": "o-", "threshold_abs": "s-", "interval": "^--", "band": "D-"}
    for r, pool in enumerate(POOLS):
        for c, sigma in enumerate(SIGMAS):
            ax = axes[r][c]
            for family, style in styles.items():
                pts = sorted(
                    (p for p in study[(pool, sigma)] if p.family == family),
                    key=lambda p: p.tracking.mean(),
                )
                ax.plot(
                    [p.tracking.mean() for p in pts],
                    [p.cost.mean() for p in pts],
                    style,
                    ms=3,
                    lw=1,
                    label=family,
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_title(f"{pool}, σ={sigma:g}")
            ax.set_xlabel("tracking error per step (quote)")
            ax.set_ylabel("rebalancing cost over 14 d (quote)")
            ax.grid(True, which="both", lw=0.3)
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(f"hedging cost vs tracking error, {N_PATHS} GBM paths per panel")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    """Run the study, print the tables and verdicts, write JSON and PNG."""
    started = time.perf_counter()
    study: dict[tuple[str, float], list[Point]] = {}
    comparisons: dict[str, list[dict[str, Any]]] = {}
    times = np.arange(STEPS + 1, dtype=np.float64) * STEP_S
    for k, sigma in enumerate(SIGMAS):
        prices = gbm_paths(
            n_paths=N_PATHS, steps=STEPS, step_s=STEP_S, sigma_annual=sigma, seed=1000 + k
        )
        paths = [PricePath(times_s=times, prices=row) for row in prices]
        for pool_name, pool in POOLS.items():
            points = _simulate(paths, pool)
            study[(pool_name, sigma)] = points
            for metric in METRICS:
                comparisons[f"{pool_name} sigma={sigma:g} {metric}"] = _compare(points, metric)
            print(f"# {pool_name} σ={sigma:g} done at {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)  # fmt: skip

    print(f"{'pool':<8} {'sigma':>5} {'policy':<15} {'param':>7} {'cost':>10} {'±se':>7} "
          f"{'TE/step':>9} {'pnl std':>9} {'rebal':>8}")  # fmt: skip
    for (pool_name, sigma), points in study.items():
        for p in points:
            row = p.row()
            print(
                f"{pool_name:<8} {sigma:>5g} {p.family:<15} {p.param:>7} {row['cost_mean']:>10.2f} "
                f"{row['cost_se']:>7.2f} {row['tracking_error_mean']:>9.3f} "
                f"{row['hedged_pnl_std']:>9.2f} {row['rebalances_mean']:>8.1f}"
            )

    print(
        "\ncost-aware band vs best fixed threshold (Pareto frontier of both threshold families),"
        "\nat equal risk; risk = per-step tracking error, or terminal = mean |14-day hedged PnL"
        " − mean|:"
    )
    verdicts: dict[str, str] = {}
    for key, rows in comparisons.items():
        comparable = [r for r in rows if r["verdict"] != "outside_threshold_range"]
        wins = [r for r in comparable if r["verdict"] == "band_wins"]
        losses = [r for r in comparable if r["verdict"] == "band_loses"]
        savings = [r["saving_fraction"] for r in comparable]
        median = float(np.median(savings)) if savings else float("nan")
        best = max(savings) if savings else float("nan")
        worst = min(savings) if savings else float("nan")
        verdict = (
            "no band setting falls inside the threshold frontier's risk range"
            if not comparable
            else f"band wins at {len(wins)}/{len(comparable)} comparable settings, loses at "
            f"{len(losses)}, ties at {len(comparable) - len(wins) - len(losses)}; cost saving "
            f"median {median:+.1%} (range {worst:+.1%} .. {best:+.1%})"
        )
        verdicts[key] = verdict
        print(f"  {key:<32} {verdict}")
        for r in comparable if "-v" in sys.argv else ():
            print(
                f"      λ={r['risk_aversion']:>6} risk={r['risk']:8.3f} "
                f"band {r['band_cost']:9.2f} vs threshold {r['threshold_cost']:9.2f} "
                f"saving {r['saving_fraction']:+.1%} ±{r['saving_se_fraction']:.1%} "
                f"{r['verdict']}"
            )

    conclusions = _conclusions(comparisons)
    print("\nconclusion (per-step tracking error, the study's risk measure):")
    for line in conclusions:
        print(f"  {line}")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": {
            "paths_per_setting": N_PATHS,
            "steps": STEPS,
            "step_s": STEP_S,
            "sigmas": list(SIGMAS),
            "pools": {k: {"kind": v.kind, "range_pct": v.range_pct} for k, v in POOLS.items()},
            "taker_fee_bps": VENUE.taker_fee_bps,
            "slippage_bps": VENUE.slippage_bps,
            "cost_excludes_opening_trade": True,
            "elapsed_s": round(time.perf_counter() - started, 1),
        },
        "results": [
            {"pool": pool_name, "sigma": sigma, **p.row()}
            for (pool_name, sigma), points in study.items()
            for p in points
        ],
        "band_vs_threshold": comparisons,
        "verdicts": verdicts,
        "conclusions": conclusions,
    }
    (OUT_DIR / "policy_results.json").write_text(json.dumps(payload, indent=2) + "\n")
    _plot(study, OUT_DIR / "policy_frontier.png")
    print(f"\nwrote {OUT_DIR / 'policy_results.json'} and {OUT_DIR / 'policy_frontier.png'} "
          f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
