"""Command line: ``hedgebot <command>`` (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot import cli_args
from bot.cli_help import teach
from bot.config import Settings, load_config, masked_dump
from bot.config_checks import topic_warnings
from bot.errors import ConfigError, HedgebotError
from bot.safety import MAX_PEER_TEXT, describe_exc, printable, restore_recursion_limit
from bot.telemetry.auth import operator_key_from_env
from bot.telemetry.notify import check_alerts

# after the imports above (py_ecc, brought by the web3 stack, raises the limit to 100 000 at
# import): the C JSON decoder must raise RecursionError on deep input, not overflow the C stack
restore_recursion_limit()

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def _config_text(exc: ConfigError, indent: str) -> str:
    """The lines of a config error, each bounded and escaped (a value may be anyone's text)."""
    text = printable(str(exc), 20 * MAX_PEER_TEXT, keep_lines=True)
    return f"\n{indent}".join(text.splitlines())


def _load(path: str, *, require_secrets: bool = True) -> Settings:
    return load_config(Path(path), require_secrets=require_secrets)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Print the effective config (secrets and URLs masked) or every bad field; with
    ``--online``, also read the chain once: warnings print (exit 0), errors exit 2."""
    try:
        settings = _load(args.config)  # keys too: it answers "will this config start?"
        if settings.mqtt is not None:  # `run` refuses a short or placeholder operator key
            operator_key_from_env(os.environ)
        check_alerts(settings.alerts, os.environ)  # as `run`: unset or unusable alert URLs
    except ConfigError as exc:
        print(f"config {args.config} is invalid:", file=sys.stderr)
        print(f"  {_config_text(exc, '  ')}", file=sys.stderr)
        return EXIT_CONFIG
    print(yaml.safe_dump(masked_dump(settings), sort_keys=False), end="")
    if settings.mqtt is not None:  # characters a NATS broker cluster cannot carry
        prefix = settings.mqtt.topic_prefix.format(bot_id=settings.bot_id)
        for warning in topic_warnings(prefix):
            print(f"warning: {warning}", file=sys.stderr)
    if args.online:
        from bot.preflight_cli import run_preflight

        return run_preflight(settings, args.config)
    print(f"# {args.config}: OK", file=sys.stderr)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGINT/SIGTERM."""
    from bot.app import run_daemon
    from bot.store_outage import StoreRetry

    settings = _load(args.config)
    daemon = run_daemon(
        settings,
        mqtt_url=args.mqtt_url,
        metrics_port=args.metrics_port,
        config_path=args.config,
        store_retry=StoreRetry(max_attempts=args.store_retries),
    )
    return asyncio.run(daemon)


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Read chain and venue once, print what the bot would do; places nothing."""
    from bot.app import take_snapshot

    settings = _load(args.config)
    result = asyncio.run(take_snapshot(settings))
    if args.json:
        from bot.display import json_numbers

        print(json.dumps(json_numbers(result), indent=2))  # exact, "0" never "0E-18"
    else:
        from bot.render import render_snapshot

        render_snapshot(result)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Is my hedge OK? The store, the kill switch and one chain and venue read, on one
    screen (``--json``: exact decimal strings). Needs no trading keys; writes nothing."""
    import time

    from bot.status import read_status

    settings = _load(args.config, require_secrets=False)  # no venue key: hedge unknown
    result = read_status(settings, now_s=time.time())
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        from bot.status_render import render_status

        render_status(result)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole offline world end to end and summarise."""
    from bot.sim.demo import DemoOptions, render_summary, run_demo

    options = DemoOptions(
        blocks=args.blocks,
        seed=args.seed,
        sigma=args.sigma,
        step_seconds=args.step_seconds,
        pool_kind=args.pool_kind,
        exchange=args.exchange,
        mqtt_url=args.mqtt_url,
        workdir=Path(args.workdir) if args.workdir else None,
        config=Path(args.config) if args.config else None,
        quiet=args.json,
        log_format=args.log_format,
    )
    summary = asyncio.run(run_demo(options))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        render_summary(summary)
    return EXIT_OK if summary["errors"] == 0 else EXIT_FAILURE


def cmd_localnet(args: argparse.Namespace) -> int:
    """Start anvil, deploy the world, write config + addresses, drive the market."""
    from bot.sim.localnet import LocalnetOptions, run_localnet

    options = LocalnetOptions(
        out=Path(args.out),
        rpc_url=args.rpc_url,
        pool_kind=args.pool_kind,
        port=args.port,
        market=not args.no_market,
        seed=args.seed,
        sigma=args.sigma,
        block_interval_s=args.block_interval_s,
        step_seconds=args.step_seconds,
        mqtt_url=args.mqtt_url,
        mqtt=not args.no_mqtt,
    )
    return asyncio.run(run_localnet(options))


def _mqtt_url_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mqtt-url",
        type=cli_args.url,
        default=None,
        help="publish telemetry to this broker, e.g. mqtt://127.0.0.1:1883 (default: $MQTT_URL, "
        "else the config's mqtt.url)",
    )


def _add_price_path_options(p: argparse.ArgumentParser, step_help: str) -> None:
    """The simulated market's path: seed, volatility and chain time per block."""
    from bot.sim.arg_bounds import SIGMA_ARG  # bounded like plan --sigma and backtest

    p.add_argument(
        "--seed", type=cli_args.non_negative_int, default=7, help="price path seed (integer)"
    )
    p.add_argument(
        "--sigma",
        type=SIGMA_ARG,
        default=0.9,
        help="annualised GBM volatility (0.9 = 90 %% a year)",
    )
    p.add_argument("--step-seconds", type=cli_args.positive_int, default=600, help=step_help)


def build_parser() -> argparse.ArgumentParser:
    """The full command tree."""
    parser = cli_args.OneLineParser(
        prog="hedgebot",
        description="Delta-neutral hedging daemon for AMM liquidity providers.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check-config", help="validate a config file and print it (secrets masked)")
    p.add_argument("config", type=cli_args.config_path, help="the YAML config file to check")
    p.add_argument(
        "--online",
        action="store_true",
        help="also read the chain once: positions that hold nothing, tokens not in the pool",
    )
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("run", help="run the hedging daemon")
    p.add_argument(
        "--config", required=True, type=cli_args.config_path, help="the YAML config (required)"
    )
    _mqtt_url_arg(p)
    p.add_argument(
        "--metrics-port",
        type=cli_args.port,
        default=None,
        help="serve /metrics, /healthz and the dashboard on this TCP port (default: the "
        "config's metrics.port when metrics.enabled)",
    )
    p.add_argument(
        "--store-retries",
        type=cli_args.non_negative_int,
        default=20,
        help="when the store fails while running: stop trading, probe it up to N times "
        "(backoff 0.5 s doubling to 30 s), then reconcile and trade again; 0 exits at the "
        "first store error (default: 20)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("snapshot", help="read chain and venue once; print the would-be decision")
    p.add_argument(
        "--config", required=True, type=cli_args.config_path, help="the YAML config (required)"
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object, exact decimal strings (stable)"
    )
    p.set_defaults(func=cmd_snapshot)

    p = sub.add_parser(
        "status",
        help="is my hedge OK? positions, delta, hedge, drift, margin, PnL, trading state",
    )
    p.add_argument(
        "--config", required=True, type=cli_args.config_path, help="the YAML config (required)"
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object, exact decimal strings (stable)"
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("demo", help="local chain + simulated market + paper venue, end to end")
    p.add_argument(
        "--blocks", type=cli_args.positive_int, default=200, help="market steps to run (blocks)"
    )
    _add_price_path_options(p, step_help="market time per block (seconds)")
    p.add_argument(
        "--pool-kind", choices=["v2", "v3", "v4"], default="v2", help="Uniswap pool to hedge"
    )
    p.add_argument(
        "--exchange",
        choices=["paper", "emulator", "hyperliquid"],
        default="paper",
        help="paper = in-process venue; emulator = ccxt binanceusdm over HTTP to the local "
        "Binance emulator; hyperliquid = ccxt hyperliquid to the local Hyperliquid emulator",
    )
    p.add_argument(
        "--workdir",
        default=None,
        help="keep config, store, venue state and demo.log in this directory (default: a "
        "temporary one, removed at exit)",
    )
    p.add_argument(
        "--config",
        type=cli_args.config_path,
        default=None,
        help="hedge/venue/mqtt/metrics settings (e.g. config/demo.yaml); the local world "
        "fills in chain, positions and tokens",
    )
    p.add_argument("--json", action="store_true", help="print only the summary, as one JSON object")
    p.add_argument(
        "--log-format",
        choices=["file", "json", "console"],
        default="file",
        help="where the bot's logs go: file = JSON lines in WORKDIR/demo.log, json or console "
        "= on stderr",
    )
    _mqtt_url_arg(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("localnet", help="run the local chain + market for `run`/`snapshot`")
    p.add_argument(
        "--out",
        required=True,
        help="directory for config.yaml, operator.env and localnet.json (required)",
    )
    p.add_argument(
        "--pool-kind", choices=["v2", "v3", "v4"], default="v2", help="Uniswap pool to deploy"
    )
    p.add_argument(
        "--port", type=cli_args.port_or_zero, default=0, help="anvil port (0: a free one)"
    )
    p.add_argument(
        "--rpc-url",
        type=cli_args.url,
        default=None,
        help="deploy on this running node instead of starting anvil (default: start anvil)",
    )
    p.add_argument("--no-market", action="store_true", help="no market: only mine on demand")
    p.add_argument(
        "--block-interval-s",
        type=cli_args.positive_float,
        default=2.0,
        help="wall-clock seconds between market blocks",
    )
    _add_price_path_options(p, step_help="market time per block (seconds of chain time)")
    p.add_argument(
        "--mqtt-url",
        type=cli_args.url,
        default=None,
        help="the broker written into config.yaml and operator.env (default: $MQTT_URL or "
        "mqtt://127.0.0.1:1883 when reachable, else a mosquitto of its own)",
    )
    p.add_argument("--no-mqtt", action="store_true", help="write no mqtt section")
    p.set_defaults(func=cmd_localnet)

    for register in _plugin_registrars():
        register(sub)
    teach(parser)
    return parser


def _plugin_registrars() -> list[Callable[[Any], None]]:
    """Subcommands that live beside their feature (emulator, backtest, report, monitor, cmd,
    kill, plan, dashboard, fleet, store)."""
    from bot.exchange.emulators.cli import add_subcommand as add_emulator
    from bot.fleet_status import add_subcommand as add_fleet
    from bot.killswitch import add_subcommand as add_kill
    from bot.planner_cli import add_subcommand as add_plan
    from bot.report import add_subcommand as add_report
    from bot.sim.backtest import add_subcommand as add_backtest
    from bot.store.compact import add_subcommand as add_store
    from bot.telemetry.dashboard.fleet_page import add_subcommand as add_dashboard
    from bot.telemetry.monitor import add_subcommands as add_monitor

    return [
        *(add_emulator, add_backtest, add_report, add_monitor, add_kill, add_plan),
        *(add_dashboard, add_fleet, add_store),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hedgebot`` console script."""
    restore_recursion_limit()
    parser = build_parser()
    args = parser.parse_args(argv)
    cli_args.check_namespace(args, parser.prog)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"config error:\n  {_config_text(exc, '  ')}", file=sys.stderr)
        return EXIT_CONFIG
    except HedgebotError as exc:  # one line, bounded and escaped: it may carry a peer's text
        print(f"hedgebot: {describe_exc(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
