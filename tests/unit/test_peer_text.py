"""Peer text reaches a terminal or a log line bounded and escaped, and formatting never raises.

An RPC error message of 100 KB with ``ESC[31m`` was printed raw by `snapshot` and logged as one
100 KB line; an exception carrying a 5,000-digit int made the tick's crash handler raise.
"""

from __future__ import annotations

import json
import time

import pytest
import structlog

from bot.logging import configure_logging
from bot.safety import MAX_LOG_TEXT, MAX_PEER_TEXT, describe_exc, printable, safe_str

pytestmark = pytest.mark.unit

HOSTILE = "x" * 100_000 + "[/evil]\x1b[31m"


def test_printable_escapes_controls_and_bounds_length() -> None:
    """ESC, CR, NUL, C1, bidi override and a lone surrogate become escapes; the cut is said."""
    assert printable("a\x1b[31mb\r\x00\x9b\u202e\ud800c") == (
        "a\\x1b[31mb\\x0d\\x00\\x9b\\u202e\\ud800c"
    )
    assert printable("line\nnext\ttab", keep_lines=True) == "line\nnext\ttab"
    assert printable("line\nnext") == "line\\x0anext"
    cut = printable(HOSTILE)
    assert cut == "x" * MAX_PEER_TEXT + f"…(+{len(HOSTILE) - MAX_PEER_TEXT} chars)"


def test_describe_exc_never_raises() -> None:
    """An exception whose str() raises, a huge message, an empty one."""
    assert describe_exc(ValueError(10**5000)) == "ValueError: <unprintable message>"
    assert describe_exc(RuntimeError(HOSTILE)).startswith("RuntimeError: xxx")
    assert len(describe_exc(RuntimeError(HOSTILE))) < MAX_PEER_TEXT + 40
    assert describe_exc(KeyError()) == "KeyError"
    assert safe_str(2**300) == "<int of 301 bits>"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_log_lines_are_bounded_and_escaped(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    """With the real logging setup, a venue error with ESC, a 100 KB value, a huge int and an
    exception whose str() raises give bounded lines with no raw ESC."""
    saved = structlog.get_config()
    try:
        configure_logging("info", fmt)  # type: ignore[arg-type]
        log = structlog.get_logger("test")
        log.warning("order.rejected", error="venue says \x1b[2J\x1b[31mno", block=10**5000)
        started = time.monotonic()
        log.warning("tick.failed", error=HOSTILE, cause=ValueError(10**5000))
        seconds = time.monotonic() - started
    finally:
        structlog.configure(**saved)
    assert seconds < 1  # was 17 s: URL masking backtracked over the 100 KB of letters
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2
    assert "\x1b" not in err
    assert all(len(line) < MAX_LOG_TEXT + 500 for line in lines)
    assert "venue says \\" in lines[0]  # the renderer escapes the escape's backslash again
    assert "x1b[2J" in lines[0]
    assert "<int of" in lines[0]
    if fmt == "json":
        first, second = (json.loads(line) for line in lines)
        assert first["error"] == "venue says \\x1b[2J\\x1b[31mno"
        assert second["cause"] == "ValueError: <unprintable message>"
        assert second["error"].endswith(f"…(+{len(HOSTILE) - MAX_LOG_TEXT} chars)")
