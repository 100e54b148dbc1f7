"""Help that teaches: ``hedgebot --help`` lists the commands in groups, and each command's
help ends with one example (applied after every subcommand is registered, wherever it lives).
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli_args import TeachingFormatter

__all__ = ["COMMAND_GROUPS", "EXAMPLES", "teach"]

COMMAND_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("run and operate", ("run", "monitor", "cmd", "kill", "dashboard", "store")),
    ("inspect", ("status", "check-config", "snapshot", "report", "plan", "fleet")),
    ("simulate", ("demo", "localnet", "backtest", "emulator")),
)

EXAMPLES: dict[str, str] = {
    "run": "hedgebot run --config config/paper.yaml --metrics-port 9108",
    "monitor": "hedgebot monitor --once   # MQTT_URL from the env, else 127.0.0.1:1883",
    "cmd": "HEDGEBOT_OPERATOR_KEY=... hedgebot cmd local-3f9a1c pause",
    "kill": "hedgebot kill --config config/paper.yaml freeze",
    "dashboard": "hedgebot dashboard --mqtt-url mqtt://127.0.0.1:1883 --port 9200",
    "status": "hedgebot status --config var/localnet/config.yaml",
    "check-config": "hedgebot check-config config/paper.yaml --online",
    "snapshot": "hedgebot snapshot --config var/localnet/config.yaml",
    "report": "hedgebot report --config var/demo/config.yaml --out pnl.png",
    "plan": "hedgebot plan --config config/paper.yaml --days 30",
    "fleet": "hedgebot fleet status --store-url postgresql://db/fleet --mqtt-url mqtt://mq",
    "store": "hedgebot store compact --config config/paper.yaml --dry-run",
    "demo": "hedgebot demo --config config/demo.yaml --blocks 400 --workdir var/demo",
    "localnet": "hedgebot localnet --out var/localnet --pool-kind v3",
    "backtest": "hedgebot backtest --gbm-sigma 0.8 --steps 20160 --policy band --fee-apr 0.1",
    "emulator": "hedgebot emulator --port 8090 --api-key k --api-secret s",
}


# help for options their modules declare without one (to move beside them when next edited)
FALLBACK_HELP: dict[tuple[str, str], str] = {
    ("report", "config"): "the YAML config whose store is reported (required)",
    ("kill", "config"): "the YAML config of the bot (its store locates the flag file)",
    ("kill", "reason"): "why, recorded with the switch and shown by status",
    ("plan", "config"): "the YAML config of the bot to plan for (required)",
    ("emulator", "host"): "address to listen on",
    ("emulator", "port"): "TCP port to listen on",
    ("backtest", "step_seconds"): "seconds of market time per step",
    ("backtest", "seed"): "price path seed (integer)",
    ("backtest", "start_price"): "first price of the GBM path (quote per base)",
    ("backtest", "pool_kind"): "the LP position modelled",
    ("backtest", "value_quote"): "LP position value at the start (quote)",
    ("backtest", "policy"): "hedge policy: threshold, interval or cost-aware band",
    ("backtest", "interval_s"): "interval policy: seconds between rebalances",
    ("backtest", "persistence_s"): "act only when the drift stays outside the band (seconds)",
    ("backtest", "backstop_s"): "rebalance at least this often (seconds)",
    ("backtest", "hedge_ratio"): "hedge = -ratio x delta (1 = delta neutral)",
    ("backtest", "taker_fee_bps"): "venue taker fee (basis points of notional)",
    ("backtest", "slippage_bps"): "slippage per order (basis points)",
    ("backtest", "plot"): "write a PNG chart of the run to this path",
}


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise ValueError("parser has no subcommands")


def _grouped_listing(sub: argparse._SubParsersAction[Any]) -> str:
    """The commands by group, one line each with its one-line help."""
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    placed: set[str] = set()
    blocks = []
    for title, names in COMMAND_GROUPS:
        lines = [f"  {n:<13} {helps[n]}" for n in names if n in sub.choices]
        placed.update(names)
        if lines:
            blocks.append(f"{title}:\n" + "\n".join(lines))
    rest = [f"  {n:<13} {helps.get(n, '')}" for n in sub.choices if n not in placed]
    if rest:
        blocks.append("other:\n" + "\n".join(rest))
    return "\n\n".join(blocks)


COMMAND_PROG = "command_prog"  # the parsed command's prog ("hedgebot store compact"), for errors


def name_commands(parser: argparse.ArgumentParser) -> None:
    """Give every (sub)command's namespace its ``prog`` as ``COMMAND_PROG``, so a refusal made
    after parsing (``cli_args.check_namespace``) names the command as argparse's own do
    (``hedgebot monitor: error: argument --duration: …``). A nested command's wins."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.set_defaults(**{COMMAND_PROG: command.prog})
                name_commands(command)


def teach(parser: argparse.ArgumentParser) -> None:
    """Group the commands in ``parser``'s help and end each command's help with its example;
    name each command (:func:`name_commands`)."""
    name_commands(parser)
    sub = _subparsers(parser)
    listing = _grouped_listing(sub)
    sub._choices_actions = []  # listed in groups in the epilog instead
    sub.help = argparse.SUPPRESS
    parser.usage = f"{parser.prog} [-h] COMMAND ..."
    parser.formatter_class = TeachingFormatter  # the grouped listing wraps at the width
    parser.epilog = f"{listing}\n\n`hedgebot COMMAND --help` shows a command's options."
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.help is None and action.option_strings:
                action.help = FALLBACK_HELP.get((name, action.dest))
        if command.formatter_class in (
            argparse.HelpFormatter,
            argparse.RawDescriptionHelpFormatter,
        ):
            command.formatter_class = TeachingFormatter
        example = EXAMPLES.get(name)
        if example and not (command.epilog or "").rstrip().endswith(example):
            command.epilog = f"{command.epilog}\n\n" if command.epilog else ""
            command.epilog += f"example:\n  {example}"
