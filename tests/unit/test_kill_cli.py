"""``hedgebot kill --config F freeze|flatten|clear|status`` writes the flag beside the store."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from bot.killswitch import add_subcommand

pytestmark = pytest.mark.unit

ADDR = "0x" + "1" * 40
POOL, BASE, QUOTE = ("0x" + digit * 40 for digit in "abc")  # one address per role


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_subcommand(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_kill_cli_engages_and_clears(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """freeze then flatten then clear, persisted as a file next to the store."""
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "chain": {"rpc_urls": ["http://127.0.0.1:1"]},
                "positions": [{"id": "a", "kind": "v2", "pool": POOL, "owner": ADDR}],
                "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
                "store": {"path": str(tmp_path / "var" / "s.sqlite")},
            }
        )
    )
    flag = tmp_path / "var" / "kill-switch"
    assert run(["kill", "--config", str(config), "freeze"]) == 0
    assert '"freeze"' in flag.read_text()
    assert run(["kill", "--config", str(config), "flatten", "--reason", "drill"]) == 0
    assert run(["kill", "--config", str(config), "status"]) == 0
    assert "flatten" in capsys.readouterr().out
    assert run(["kill", "--config", str(config), "clear"]) == 0
    assert not flag.exists()


def test_kill_status_escapes_the_files_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flag file holding escape sequences is shown escaped (``\\x1b``), never raw."""
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "chain": {"rpc_urls": ["http://127.0.0.1:1"]},
                "positions": [{"id": "a", "kind": "v2", "pool": POOL, "owner": ADDR}],
                "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
                "store": {"path": str(tmp_path / "var" / "s.sqlite")},
            }
        )
    )
    flag = tmp_path / "var" / "kill-switch"
    flag.parent.mkdir()
    flag.write_text("freeze\n\x1b[2J\x1b]0;owned\x07 drill\r", encoding="utf-8")
    assert run(["kill", "--config", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("kill switch freeze (")
    for raw in ("\x1b", "\x07", "\r"):
        assert raw not in out
    assert "\\x1b[2J" in out


def test_kill_mode_has_help() -> None:
    """The positional mode says what each choice does."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_subcommand(sub)
    text = " ".join(sub.choices["kill"].format_help().split())
    assert "flatten: close the hedge reduce-only, then stay paused" in text
