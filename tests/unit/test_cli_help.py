"""Help that teaches: every option of every command says what it is and its default, every
command's help ends with an example, and the top-level help groups the commands."""

from __future__ import annotations

import argparse

import pytest

from bot.cli import build_parser
from bot.cli_help import COMMAND_GROUPS

pytestmark = pytest.mark.unit


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_has_help_with_its_default() -> None:
    """Each option of each subcommand has a description and its help names its default."""
    missing: list[str] = []
    for name, command in _commands(build_parser()).items():
        formatter = command._get_formatter()
        for action in command._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            flag = f"{name} {action.option_strings[-1]}"
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{flag}: no help")
                continue
            shown = formatter._get_help_string(action) or ""
            if "default" not in shown.lower():
                missing.append(f"{flag}: no default in {shown!r}")
    assert missing == []


def test_every_command_ends_with_an_example() -> None:
    """``hedgebot X --help`` ends with ``example:`` and a ``hedgebot X ...`` line."""
    for name, command in _commands(build_parser()).items():
        lines = command.format_help().rstrip().splitlines()
        assert lines[-2].strip() == "example:", name
        assert lines[-1].strip().split()[:2] in (["hedgebot", name],) or (
            f"hedgebot {name}" in lines[-1]
        ), name


def test_top_level_help_groups_the_commands() -> None:
    """``hedgebot --help`` lists run/operate, inspect and simulate commands under headings."""
    text = build_parser().format_help()
    assert "usage: hedgebot [-h] COMMAND ..." in text
    positions = [text.index(f"{title}:\n") for title, _ in COMMAND_GROUPS[:3]]
    assert positions == sorted(positions)
    simulate = text[text.index("simulate:\n") :]
    for name in ("demo", "localnet", "backtest", "emulator"):
        assert f"\n  {name} " in simulate
    inspect = text[text.index("inspect:\n") : text.index("simulate:\n")]
    for name in ("snapshot", "report", "check-config"):
        assert f"\n  {name} " in inspect


@pytest.mark.parametrize("columns", ["200", "80"])
def test_help_wraps_at_80_columns_when_not_a_terminal(
    columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Piped help (not a tty) is at most 80 columns even in a wide COLUMNS, for the grouped
    listing and every command's description and example (was 135 and 92)."""
    monkeypatch.setenv("COLUMNS", columns)
    parser = build_parser()
    texts = {"hedgebot": parser.format_help()}
    texts.update({name: command.format_help() for name, command in _commands(parser).items()})
    for name, text in texts.items():
        wide = [line for line in text.splitlines() if len(line) > 80]
        assert not wide, (name, wide)
    assert (
        "kill          kill switch: freeze (no new orders), flatten (close the hedge\n"
        in (texts["hedgebot"])
    )
