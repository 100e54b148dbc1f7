"""``hedgebot status`` for people: the :func:`bot.status.read_status` dict in 80 columns.

Numbers are rounded for display like ``snapshot`` (:mod:`bot.display`: base to the venue's
amount step, quote to cents, prices to significant digits); what could not be read prints
as ``unknown (why)``, never as 0, the why wrapped onto the next line rather than cut. No
number is cut or printed in exponent form; below 80 columns the positions table drops its
pool and range columns first. Base held outside the pools (``wallet_base``) is named beside
the delta it is part of. ``--json`` prints the dict itself (exact decimal strings).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.display import fit_base, fmt_base, fmt_pct, fmt_plain, fmt_price, fmt_signed_quote
from bot.safety import printable
from bot.status_daemon import age_text
from bot.telemetry.command_text import echo

__all__ = ["STATUS_WIDTH", "render_status"]

STATUS_WIDTH = 80
_DELTA_WIDTH = 12  # a position's delta cell: fewer decimals, then k/M/B/T, never cut
_STATE_STYLE = {"active": "green", "reducing": "yellow", "halted": "red"}


def _step(status: dict[str, Any]) -> Decimal | None:
    step = status.get("amount_step_base")
    return None if step is None else Decimal(str(step))


def _when(ts: float | None, now_s: float) -> str:
    """``since 14:02:11 UTC (5m ago)``; ``since ? `` for a time no clock has."""
    if ts is None:
        return "since before this process saw it"
    try:
        clock = datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return "since ?"
    return f"since {clock} UTC ({age_text(now_s - ts)})"


def _unknown(why: str | None) -> str:
    """``unknown (why)``: the whole why (escaped), wrapped by the console, never cut."""
    return f"unknown ({printable(why or 'not read', 300)})"


def _pair(head: str, tail: str, width: int) -> list[Text]:
    """``head tail`` on one line when it fits ``width``, else ``tail`` on its own indented
    line: a time phrase (``since … (5s ago)``) is never broken in two."""
    if len(head) + 1 + len(tail) <= width:
        return [Text(f"{head} {tail}")]
    return [Text(head), Text(f"    {tail}")]


def _base(value: str | None, step: Decimal | None, why: str | None) -> str:
    return _unknown(why) if value is None else fmt_base(value, step)


def _positions(status: dict[str, Any], step: Decimal | None, width: int) -> Table:
    narrow = width < STATUS_WIDTH  # fewer columns, never cut numbers
    table = Table(
        title=f"LP positions (chain {status.get('chain_id', '?')}, block {status.get('block')})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
    )
    columns = [("position", "left"), ("pool", "left"), ("range", "right")]
    columns = columns[:1] if narrow else columns
    for name, justify in (*columns, ("price", "right"), ("where", "left"), ("delta", "right")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for p in status["positions"]:
        lower, upper = p["range_lower"], p["range_upper"]
        span = "full" if lower is None else f"{fmt_price(lower, 5)}-{fmt_price(upper, 5)}"
        pool = p["pool"] or "?"
        cells = [
            Text(echo(f"{p['id']} {p['kind']}", 16)),
            Text(pool[:6] + "…" + pool[-4:] if len(pool) > 12 else pool),
            Text(span),
        ]
        table.add_row(
            *cells[: len(columns)],
            fmt_price(p["price"]),
            p["where"],
            fit_base(p["delta_base"], step, _DELTA_WIDTH),
        )
    return table


def _hedge_lines(status: dict[str, Any], step: Decimal | None) -> list[str]:
    why = status.get("venue_error")
    drift = status.get("drift_base")
    band = status.get("band_base")
    within = status.get("within_band")
    verdict = "" if within is None else ("  within band" if within else "  OUTSIDE band")
    drift_text = (
        _unknown(why)
        if drift is None
        else f"{fmt_base(drift, step)} / band "
        f"{'unknown' if band is None else fmt_base(band, step)}{verdict}"
    )
    delta, target = status["delta_base"], status["target_base"]
    wallet = status.get("wallet_base")
    held = (
        "" if wallet is None or Decimal(wallet).is_zero() else f" (wallet {fmt_base(wallet, step)})"
    )
    lines = [
        f"delta {fmt_base(delta, step)}{held}   target {fmt_base(target, step)}"
        f"   (ratio {fmt_plain(status['hedge_ratio'])})",
        f"hedge {_base(status.get('hedge_base'), step, why)}",
        f"drift {drift_text}",
    ]
    if status.get("hedge_base") is None and status.get("last_hedge_base") is not None:
        lines[1] += f"; last tick {fmt_base(status['last_hedge_base'], step)}"
    return lines


def _venue_lines(status: dict[str, Any]) -> list[str]:
    why = status.get("venue_error")
    mark = status.get("mark_price")
    funding = status.get("funding_rate")
    margin = status.get("margin_ratio")
    liq = status.get("liquidation_price")
    distance = status.get("liquidation_distance_pct")
    if mark is None:
        return [f"mark, funding, margin: {_unknown(why)}"]
    funding_text = "?" if funding is None else f"{fmt_pct(funding, 4)} per interval"
    if status.get("hedge_base") is not None and Decimal(status["hedge_base"]).is_zero():
        margin_text = "no position (flat)"
    else:
        ratio = "?" if margin is None else fmt_pct(margin)
        where = "?" if liq is None else fmt_price(liq)
        away = "?" if distance is None else f"{fmt_pct(Decimal(distance) / 100, 1)} away"
        margin_text = f"ratio {ratio}, liquidation {where} ({away})"
    return [f"mark {fmt_price(mark)}   funding {funding_text}", f"margin {margin_text}"]


def _pnl_lines(status: dict[str, Any]) -> list[str]:
    pnl = status.get("pnl")
    if pnl is None:
        return ["PnL: unknown (no tick recorded yet)"]
    today = pnl["net_today_quote"]
    today_text = "no tick today" if today is None else fmt_signed_quote(today)
    return [
        f"net PnL today {today_text}   since start {fmt_signed_quote(pnl['net_since_start_quote'])}"
        f"   (quote)"
    ]


def _trading_lines(status: dict[str, Any], width: int) -> list[Text]:
    trading, now = status["trading"], status["now"]
    state = trading["state"]
    head = Text("trading ")
    head.append(state.upper(), style=_STATE_STYLE.get(state, ""))
    reasons = dict.fromkeys(printable(str(r), 160) for r in trading["reasons"][:8])
    if reasons:
        head.append(": " + "; ".join(reasons))  # wrapped at the width, never cut
    lines = [head]
    if trading["operator"] != "active":
        cause = trading["operator_cause"] or "operator"
        lines += _pair(
            f"  operator {trading['operator']} ({echo(str(cause), 24)})",
            _when(trading["operator_since"], now),
            width,
        )
    kill = trading["kill_switch"]
    if kill["mode"] != "off":
        reason = f": {echo(kill['reason'], 30)}" if kill["reason"] else ""
        lines += _pair(
            f"  kill switch {kill['mode']} ({kill['source']}){reason}",
            _when(kill["since"], now),
            width,
        )
    for guard in trading["guards_tripped"]:
        if guard["name"].startswith("kill_switch_"):
            continue  # shown as the kill switch above
        lines += _pair(f"  guard {echo(guard['name'], 28)}", _when(guard["since"], now), width)
        if guard.get("detail"):
            lines.append(Text(f"    {printable(str(guard['detail']), 160)}"))
    return lines


def _daemon_line(status: dict[str, Any]) -> str:
    """``daemon: running (pid 4242 on host)`` or ``daemon: not running (last seen 36s ago)``
    from the instance lock (:mod:`bot.status_daemon`)."""
    daemon = status.get("daemon")
    if daemon is None:
        return "daemon: unknown (not probed)"
    if daemon["running"]:
        pid = daemon["pid"] if daemon["pid"] is not None else "?"
        host = f" on {printable(str(daemon['host']), 32)}" if daemon.get("host") else ""
        return f"daemon: running (pid {pid}{host})"
    seen = daemon.get("last_seen")
    if seen is None:
        return "daemon: not running (no tick recorded)"
    return f"daemon: not running (last seen {age_text(status['now'] - seen)})"


def _tail_lines(status: dict[str, Any]) -> list[str]:
    tick = status.get("last_tick")
    if tick is None:
        last = "last tick: none recorded"
    else:
        last = f"last tick: block {tick['block']}, {age_text(tick['age_s'])}"
    ends = status["endpoints"]
    mqtt = ends["mqtt_url"] or "not configured"
    metrics = ends["metrics_url"] or "disabled"
    if not (status.get("daemon") or {}).get("running", True):
        metrics += " (served only while the daemon runs)"
    return [last, f"MQTT {mqtt}  {ends['mqtt_topics'] or ''}".rstrip(), f"metrics {metrics}"]


def render_status(status: dict[str, Any], console: Console | None = None) -> None:
    """Print ``status`` (the dict :func:`bot.status.read_status` returns) in at most 80
    columns, numbers rounded for display (module docstring)."""
    console = console or Console(width=min(STATUS_WIDTH, Console().width))
    width = console.width
    step = _step(status)
    console.print(Text(f"hedgebot status: {status['bot_id']}", style="bold"))
    console.print(Text(_daemon_line(status)))
    for line in _trading_lines(status, width):
        console.print(line)
    if status.get("chain_error") is not None:
        console.print(Text(f"chain: {_unknown(status['chain_error'])}: delta unknown"))
        if status.get("last_hedge_base") is not None:
            console.print(Text(f"hedge at the last tick {fmt_base(status['last_hedge_base'])}"))
    else:
        console.print(_positions(status, step, width))
        for text in (*_hedge_lines(status, step), *_venue_lines(status)):
            console.print(Text(text))
    for text in (*_pnl_lines(status), *_tail_lines(status)):
        console.print(Text(text))
    if step is not None:
        console.print(Text(f"base rounded to the venue step {step.normalize()}; --json: exact"))
