"""``hedgebot cmd --help`` keeps its signing description as written (issue 12 review 2 item 8):
the help formatter re-wrapped its over-wide lines mid-sentence."""

from __future__ import annotations

import pytest

from bot import cli
from bot.telemetry.operator_cmd import CMD_DESCRIPTION

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("columns", ["80", "200"])
def test_cmd_help_shows_the_description_line_for_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: str
) -> None:
    """Every line of the description appears whole, in order, in an 80-column (or wider)
    help; none is cut, and the escaped newline of the signing formula is shown as \\n."""
    monkeypatch.setenv("COLUMNS", columns)
    with pytest.raises(SystemExit):
        cli.main(["cmd", "--help"])
    shown = capsys.readouterr().out.splitlines()
    wanted = [line for line in CMD_DESCRIPTION.splitlines() if line.strip()]
    start = shown.index(wanted[0])
    body = [line for line in shown[start : start + len(CMD_DESCRIPTION.splitlines())] if line]
    assert body == wanted
    assert '"<prefix>/<bot>/cmd" + "\\n" + canonical JSON' in CMD_DESCRIPTION
    assert all(len(line) <= 78 for line in wanted)
