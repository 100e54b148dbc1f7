"""The PnL report's chart: price, LP value, hedge, net and the cumulative parts over UTC time.

Each series has its own colour and line style and legends sit outside the plots, so no series
hides another (matplotlib, the ``report`` extra).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.pnl import PARTS
from bot.display import fmt_quote, pnl_contributions
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.report import PnlReport

__all__ = ["build_figure", "plot_report"]


# one look per series: colour and line style both differ, so no series hides another
_STYLES = (
    "-",
    "--",
    ":",
    "-.",
    (0, (5, 1, 1, 1)),
    (0, (1, 1)),
    (0, (8, 2)),
    (0, (3, 1, 1, 1, 1, 1)),
)


# legends right of the plots (past the twin axis' labels): no legend covers a series
_OUTSIDE: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.12, 1.0), "fontsize": "small"}


def _times(report: PnlReport) -> list[datetime]:
    """The stored tick timestamps as UTC datetimes (the chart's time axis)."""
    return [datetime.fromtimestamp(p.timestamp_s, UTC) for p in report.points]


def build_figure(report: PnlReport) -> Any:
    """Price; LP, hedge and net value; cumulative PnL contributions, against UTC time.

    Returns the matplotlib ``Figure``; ``ConfigError`` when matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError(
            "the chart needs matplotlib: pip install 'hedgebot[report]' (or pass --no-chart)"
        ) from exc

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    points = report.points
    times = _times(report)
    fig, axes = plt.subplots(3, 1, figsize=(13, 9), sharex=True)
    axes[0].plot(times, [float(p.price) for p in points], lw=0.9, label="pool price")
    axes[0].set_ylabel("price (quote per base)")
    axes[0].legend(**_OUTSIDE)
    _plot_values(axes[1], times, report)
    signs = dict(PARTS)
    for i, (name, label, _) in enumerate(pnl_contributions(report.final.as_dict())):
        values = [signs[name] * float(getattr(p.breakdown, name)) for p in points]
        if any(values):
            style = _STYLES[i % len(_STYLES)]
            axes[2].plot(times, values, lw=1.0, ls=style, color=f"C{i}", label=label)
    net = [float(p.breakdown.net_pnl_quote) for p in points]
    axes[2].plot(times, net, lw=1.8, color="black", ls="--", label="net PnL")
    axes[2].set_ylabel("cumulative PnL (quote)")
    axes[2].set_xlabel("time (UTC)")
    axes[2].legend(**_OUTSIDE, title="costs < 0")
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    axes[2].xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    axes[2].xaxis.set_major_formatter(formatter)
    net_pnl = fmt_quote(report.final.net_pnl_quote)
    fig.suptitle(f"hedgebot PnL: {len(points)} ticks, net {net_pnl}")
    fig.tight_layout()
    return fig


def _plot_values(axis: Any, times: list[datetime], report: PnlReport) -> None:
    """LP value, LP value + fees and net value on the left axis, the hedge on the right,
    with one legend for both axes."""
    points = report.points
    start = float(points[0].lp_value_quote + points[0].fees_uncollected_quote)
    series = (
        ("LP value", [float(p.lp_value_quote) for p in points], "C0", "-"),
        (
            "LP value + fees",
            [float(p.lp_value_quote + p.fees_uncollected_quote) for p in points],
            "C1",
            "--",
        ),
        (
            "net value (LP + fees + venue PnL)",
            [start + float(p.breakdown.net_pnl_quote) for p in points],
            "C2",
            ":",
        ),
    )
    lines = [
        axis.plot(times, values, lw=1.2, color=color, ls=ls, label=label)[0]
        for label, values, color, ls in series
    ]
    axis.set_ylabel("value (quote)")
    hedge_axis = axis.twinx()
    hedge = [float(p.breakdown.venue_pnl_quote) for p in points]
    lines += hedge_axis.plot(
        times, hedge, lw=1.2, color="tab:red", ls="-.", label="hedge value (venue PnL, right)"
    )
    hedge_axis.set_ylabel("hedge value (quote)")
    axis.legend(lines, [line.get_label() for line in lines], **_OUTSIDE)


def plot_report(report: PnlReport, out: Path) -> None:
    """Write :func:`build_figure` as one PNG at ``out`` (parents created)."""
    import matplotlib.pyplot as plt

    fig = build_figure(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


# --- CLI ----------------------------------------------------------------------------------
