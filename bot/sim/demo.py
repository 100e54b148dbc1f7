"""``hedgebot demo``: the whole offline world, end to end, in one command.

anvil (npm) + real Uniswap contracts + a seeded GBM market that trades through the pool each
block + the simulated perp venue (in-process paper adapter, or the HTTP emulator driven through
the real ccxt client) + the engine + optional MQTT/metrics. The venue's mark follows the same
price path as the pool; the venue clock follows block timestamps, so funding accrues in chain
time.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import structlog
import yaml

from bot.app import Bot, build_bot, build_telemetry
from bot.clock import ManualClock
from bot.config import Settings, load_config, masked_dump
from bot.engine import TickReport
from bot.logging import configure_logging
from bot.ports import PerpExchange
from bot.safety import mask_url
from bot.sim.anvil import Anvil, AnvilOptions
from bot.sim.localnet import LocalWorld, local_settings, start_world
from bot.sim.mosquitto import resolve_broker

log = structlog.get_logger("hedgebot.demo")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``hedgebot demo`` was asked to do."""

    blocks: int = 200
    seed: int = 7
    sigma: float = 0.9
    step_seconds: int = 600
    pool_kind: Literal["v2", "v3"] = "v2"
    exchange: Literal["paper", "emulator"] = "paper"
    mqtt_url: str | None = None
    metrics_port: int | None = None
    workdir: Path | None = None
    config: Path | None = None  # e.g. config/demo.yaml: hedge, venue, mqtt, metrics sections
    quiet: bool = False


_PNL_ROWS = (
    ("lp_hold_pnl_quote", "LP hold (entry amounts x price move)"),
    ("il_quote", "impermanent loss vs hold"),
    ("lp_fees_quote", "LP fees"),
    ("hedge_pnl_quote", "hedge at mark"),
    ("funding_quote", "funding (+ received)"),
    ("trading_fees_quote", "- trading fees"),
    ("slippage_quote", "- slippage vs mark"),
    ("net_pnl_quote", "net"),
)


def _template(path: Path | None) -> dict[str, Any] | None:
    """The demo config file's data, validated as a whole first (errors name the field)."""
    if path is None:
        return None
    load_config(path)  # raises ConfigError naming every bad field
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _equity(wallet: Decimal, unrealized: Decimal) -> Decimal:
    return wallet + unrealized


async def _venue_equity(exchange: PerpExchange) -> Decimal:
    balance = await exchange.balance()
    position = await exchange.position()
    return _equity(balance.wallet_balance, position.unrealized_pnl)


@contextlib.contextmanager
def _demo_operator_key(broker_url: str | None, quiet: bool) -> Iterator[None]:
    """Without HEDGEBOT_OPERATOR_KEY the bot refuses every command: while telemetry is built,
    give the demo a throwaway key of its own and say how to command the demo with it."""
    if not broker_url or os.environ.get("HEDGEBOT_OPERATOR_KEY"):
        yield
        return
    key = secrets.token_hex(32)
    os.environ["HEDGEBOT_OPERATOR_KEY"] = key
    try:
        yield
    finally:
        del os.environ["HEDGEBOT_OPERATOR_KEY"]
    if not quiet:
        print(
            f"commands: HEDGEBOT_OPERATOR_KEY={key} hedgebot cmd demo pause "
            f"--mqtt-url {mask_url(broker_url)}  (a key for this demo run only)",
            file=sys.stderr,
        )


def _progress(options: DemoOptions, index: int, report: TickReport | None) -> None:
    if options.quiet or report is None:
        return
    every = max(1, options.blocks // 20)
    if index % every != 0 and report.decision.action != "rebalance":
        return
    d = report.decision
    mark = "*" if d.action == "rebalance" else " "
    print(
        f"{mark} block {report.block:>5}  price {report.snapshot.price:>10.2f}  "
        f"delta {d.delta_base:>9.4f}  hedge {report.position.size_base:>9.4f}  "
        f"drift {d.drift_base:>8.4f}  band {d.band_base:.4f}  {d.action}:{d.reason}",
        file=sys.stderr,
    )


async def run_demo(options: DemoOptions) -> dict[str, Any]:
    """Run the demo and return its summary (the ``--json`` object)."""
    configure_logging("warning" if options.quiet else "info", "json")
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="hedgebot-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        node = await stack.enter_async_context(Anvil(AnvilOptions()))
        world: LocalWorld = await stack.enter_async_context(
            start_world(
                node.rpc_url,
                pool_kind=options.pool_kind,
                sigma=options.sigma,
                step_seconds=options.step_seconds,
                seed=options.seed,
            )
        )
        clock = ManualClock(float(world.start_timestamp))
        template = _template(options.config)
        settings: Settings = local_settings(world, workdir, bot_id="demo", template=template)
        (workdir / "config.yaml").write_text(
            "# the demo's effective config: `hedgebot report --config` this file\n"
            + yaml.safe_dump(masked_dump(settings), sort_keys=False),
            encoding="utf-8",
        )
        exchange, set_mark = await world.open_exchange(
            stack, options.exchange, settings, clock, workdir
        )
        broker_url = await resolve_broker(stack, options.mqtt_url, quiet=options.quiet)
        with _demo_operator_key(broker_url, options.quiet):
            telemetry, commands = await build_telemetry(
                stack, settings, clock, broker_url, options.metrics_port, any_free_port=True
            )
        bot: Bot = await build_bot(
            settings, clock=clock, exchange=exchange, telemetry=telemetry, commands=commands
        )
        stack.push_async_callback(bot.close)
        set_mark(world.target_price)
        await bot.engine.start()
        equity_start = await _venue_equity(exchange)
        first = await bot.engine.tick(await bot.chain.latest_block())
        _progress(options, 0, first)
        lp_start = first.snapshot.positions[0].value_quote if first else Decimal(0)
        for index in range(1, options.blocks + 1):
            step = await world.step()
            clock.set(float(step.block_timestamp))
            set_mark(step.target_price)
            await bot.engine.apply_commands()
            report = await bot.engine.tick(step.block_number)
            _progress(options, index, report)
        last = bot.engine.last_report
        if last is None:
            raise RuntimeError("the demo completed no tick")
        equity_end = await _venue_equity(exchange)
        totals = await bot.store.totals()
        lp_value = sum((p.value_quote for p in last.snapshot.positions), Decimal(0))
        hedge_pnl = equity_end - equity_start
        final_drift = last.position.size_base - last.decision.target_base  # after the order
        summary: dict[str, Any] = {
            "blocks": options.blocks,
            "pool_kind": options.pool_kind,
            "exchange": options.exchange,
            "seed": options.seed,
            "sigma": options.sigma,
            "start_price": str(world.start_price),
            "final_price": str(last.snapshot.price),
            "rebalances": bot.engine.stats.rebalances,
            "ticks": bot.engine.stats.ticks,
            "errors": bot.engine.stats.errors,
            "final_delta_base": str(last.decision.delta_base),
            "final_target_base": str(last.decision.target_base),
            "final_hedge_base": str(last.position.size_base),
            "final_drift_base": str(final_drift),
            "band_base": str(last.decision.band_base),
            "within_band": abs(final_drift) <= last.decision.band_base,
            "fees_quote": str(totals["fees_quote"]),
            "funding_quote": str(totals["funding_quote"]),
            "lp_value_start_quote": str(lp_start),
            "lp_value_end_quote": str(lp_value),
            "hedge_pnl_quote": str(hedge_pnl),
            "hedged_value_quote": str(lp_value + hedge_pnl),
            "unhedged_value_quote": str(lp_value),
            "pnl": {
                name: str(value.quantize(Decimal("1e-10"))) for name, value in last.pnl.items()
            },
            "mqtt_url": broker_url,
            "workdir": str(workdir),
            "report_command": f"hedgebot report --config {workdir / 'config.yaml'}",
        }
    return summary


def render_summary(summary: dict[str, Any]) -> None:
    """The human-readable end of the demo."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="hedgebot demo", show_header=False)
    rows = [
        ("blocks", summary["blocks"]),
        ("pool / venue", f"{summary['pool_kind']} / {summary['exchange']}"),
        ("price", f"{summary['start_price']} -> {Decimal(summary['final_price']):.2f}"),
        ("rebalances", summary["rebalances"]),
        ("final delta (base)", f"{Decimal(summary['final_delta_base']):.6f}"),
        ("final hedge (base)", f"{Decimal(summary['final_hedge_base']):.6f}"),
        (
            "final drift / band",
            f"{Decimal(summary['final_drift_base']):.6f} / {Decimal(summary['band_base']):.6f}"
            f"  ({'within' if summary['within_band'] else 'OUTSIDE'} band)",
        ),
        ("venue fees (quote)", f"{Decimal(summary['fees_quote']):.4f}"),
        ("funding (quote, + received)", f"{Decimal(summary['funding_quote']):.4f}"),
        (
            "LP value start -> end",
            f"{Decimal(summary['lp_value_start_quote']):.2f} -> "
            f"{Decimal(summary['lp_value_end_quote']):.2f}",
        ),
        ("hedge PnL (quote)", f"{Decimal(summary['hedge_pnl_quote']):.2f}"),
        ("LP + hedge value", f"{Decimal(summary['hedged_value_quote']):.2f}"),
        ("unhedged LP value", f"{Decimal(summary['unhedged_value_quote']):.2f}"),
        *[
            (f"PnL: {label}", f"{Decimal(summary['pnl'][name]):.2f}")
            for name, label in _PNL_ROWS
            if name in summary["pnl"]
        ],
        ("MQTT", summary["mqtt_url"] or "off"),
        ("state kept in", summary["workdir"]),
        ("PnL report", summary["report_command"]),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    Console().print(table)
    if os.environ.get("CI"):
        return
