"""Command-line arguments validated like config: argparse ``type=`` checks and a final sweep.

Every bad argument is one line on stderr and exit 2 (``hedgebot run: error: argument
--metrics-port: must be a port 1-65535, got 99999``), never a traceback. The ``type=``
functions give precise messages where a parser declares them; :func:`check_namespace` sweeps
every parsed namespace for the kinds of value that must hold everywhere (finite numbers, ports
in range, URLs with a scheme and host), so subcommands declared elsewhere are covered too.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
import textwrap
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

__all__ = [
    "BROKER_SCHEMES",
    "MAX_SECONDS",
    "RPC_SCHEMES",
    "OneLineParser",
    "TeachingFormatter",
    "broker_url",
    "check_namespace",
    "command_problem",
    "config_path",
    "finite_float",
    "host",
    "non_negative_float",
    "non_negative_int",
    "port",
    "port_or_zero",
    "positive_decimal",
    "positive_float",
    "positive_int",
    "rate",
    "rpc_url",
    "url",
]

RPC_SCHEMES = ("http", "https", "ws", "wss")  # a node's JSON-RPC endpoint (--rpc-url)
BROKER_SCHEMES = ("mqtt", "mqtts")  # an MQTT broker (--mqtt-url; bot.telemetry.settings)
_URL_SCHEMES = RPC_SCHEMES + BROKER_SCHEMES
# arguments read as text and turned into Decimal by the command that declares them
_NUMERIC_TEXT_ARGS = ("mark_price", "funding_rate")
_DECIMAL_MAX = Decimal("1e15")  # larger than any price a command line sets
# durations declared with a bare ``type=float`` beside their feature: cmd --timeout and
# monitor --duration (an event loop timer: at most a week), fleet status --stale-after (a
# comparison only: any finite age); 0 or negative is refused
MAX_SECONDS = 7 * 86400.0
_POSITIVE_SECONDS: dict[str, float] = {
    "timeout": MAX_SECONDS,
    "duration": MAX_SECONDS,
    "stale_after": math.inf,
}


HELP_WIDTH_NOT_A_TTY = 80  # help piped or captured wraps at 80 columns at most


class TeachingFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows every option's default (``(default: 200)``; flags ``(default: off)``)
    unless its text already names it, and keeps descriptions and examples as written, except
    that a line wider than the help's width (the terminal's, 78 when not a terminal) is
    wrapped under its own indent (a ``name  text`` listing line under its text column)."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        if "width" not in kwargs and not sys.stdout.isatty():
            columns = shutil.get_terminal_size().columns
            kwargs["width"] = min(columns, HELP_WIDTH_NOT_A_TTY) - 2
        super().__init__(prog, **kwargs)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            wrapped for line in text.splitlines() for wrapped in _wrap_line(line, width, indent)
        )

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.help == argparse.SUPPRESS or not action.option_strings:
            return action.help
        if "default" in text.lower() or isinstance(action, argparse._HelpAction):
            return text
        if action.nargs == 0:  # a flag
            return f"{text} (default: off)".strip()
        if action.default is None:
            return f"{text} (default: not set)".strip()
        return f"{text} (default: %(default)s)".strip()


def _wrap_line(line: str, width: int, indent: str) -> list[str]:
    """``indent + line`` within ``width`` columns (a word longer than the width stays whole);
    continuation lines hang under the text of a ``  name   text`` line, else its indent."""
    if len(indent) + len(line) <= width or not line.strip():
        return [indent + line]
    listing = re.match(r"^(\s*\S+\s{2,})", line)
    lead = re.match(r"^\s*", line)
    hang = listing.group(1) if listing else (lead.group(0) if lead else "") + "  "
    return textwrap.wrap(
        line,
        width=max(width, len(indent) + len(hang) + 20),
        initial_indent=indent,
        subsequent_indent=indent + " " * len(hang),
        break_long_words=False,
        break_on_hyphens=False,
    )


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block) and exit 2, and whose
    help shows defaults (:class:`TeachingFormatter`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", TeachingFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and exit 2."""
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0] if message else message}\n")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def finite_float(text: str) -> float:
    """A float that is not NaN or infinite (``1e309`` overflows to infinity: refused)."""
    return _number(text)


def positive_float(text: str) -> float:
    """A finite float > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite float >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1 (a count)."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (a seed)."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    value = _integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port 1-65535, got {text!r}")
    return value


def port_or_zero(text: str) -> int:
    """A TCP port, or 0 for any free port."""
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port 1-65535 (or 0: a free one), got {text!r}")
    return value


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    if not value.is_finite() or abs(value) > _DECIMAL_MAX:
        raise argparse.ArgumentTypeError(f"must be a finite number up to 1e15, got {text[:40]!r}")
    return value


def positive_decimal(text: str) -> Decimal:
    """A finite Decimal > 0 and <= 1e15 (a price)."""
    value = _decimal(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text[:40]!r}")
    return value


def rate(text: str) -> Decimal:
    """A fraction strictly between -1 and 1 (a funding rate per interval)."""
    value = _decimal(text)
    if not -1 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (-1, 1), got {text[:40]!r}")
    return value


def host(text: str) -> str:
    """A host name or address to listen on: non-empty, no scheme, credentials or path."""
    if not text.strip() or any(c in text for c in "/@") or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"must be a host name or address, got {text[:40]!r}")
    return text


def config_path(text: str) -> str:
    """A config file path: non-empty, not a directory. Whether it exists is said by the config
    loader when the command runs (one line, exit 2), so that parsing a command line written
    for another machine (a container's ``/data/...``) still works."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a config file")
    return text


def _url_of(text: str, schemes: tuple[str, ...] | None, kind: str) -> str:
    """``text`` when it is a URL with a host and one of ``schemes`` (None: any scheme)."""
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        raise argparse.ArgumentTypeError("not a valid URL (bad host or port)") from None
    if not parts.scheme or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be {kind} like scheme://host:port")
    if schemes is not None and parts.scheme not in schemes:
        raise argparse.ArgumentTypeError(
            f"must be {kind} like scheme://host:port (scheme one of {', '.join(schemes)})"
        )
    return text


def url(text: str) -> str:
    """A URL with a scheme and a host; which schemes fit a flag is checked by
    :func:`check_namespace` (``--rpc-url``: :func:`rpc_url`, ``--mqtt-url``:
    :func:`broker_url`, any other ``--*-url``: an RPC or broker scheme), each flag with its own
    message. The URL itself is never echoed: it may hold a key."""
    return _url_of(text, None, "a URL")


def _known_url(text: str) -> str:
    return _url_of(text, _URL_SCHEMES, "a URL")


def rpc_url(text: str) -> str:
    """A node's JSON-RPC URL: http, https, ws or wss and a host."""
    return _url_of(text, RPC_SCHEMES, "an RPC URL")


def broker_url(text: str) -> str:
    """An MQTT broker URL as the config's ``mqtt.url`` takes it: mqtt or mqtts, a host, no
    ``user:password@``; refused with the URL masked and
    ``bot.telemetry.settings.broker_url_problem``'s message."""
    from bot.safety import mask_url
    from bot.telemetry.settings import broker_url_problem

    problem = broker_url_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{mask_url(text)}: {problem}")
    return text


# URL flags whose scheme is known: each refused with its own check
_URL_FLAGS = {"rpc_url": rpc_url, "mqtt_url": broker_url}


def _seconds_problem(value: object, most: float) -> str | None:
    """Why a duration argument (``--timeout``, ``--duration``, ``--stale-after``) is unusable."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if not math.isfinite(value) or not 0 < value <= most:
        bound = f" and at most {most:g}" if math.isfinite(most) else ", finite"
        return f"must be seconds > 0{bound}, got {value:g}"
    return None


def _sweep_problem(dest: str, value: object) -> str | None:
    """Why one parsed value is unusable, or None."""
    if dest in _POSITIVE_SECONDS and value is not None:
        return _seconds_problem(value, _POSITIVE_SECONDS[dest])
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if dest == "host" and isinstance(value, str):
        try:
            host(value)
        except argparse.ArgumentTypeError as exc:
            return str(exc)

    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and dest.endswith("port") and not 0 <= value <= 65535:  # type: ignore[operator]
        return f"must be a port 0-65535, got {value}"
    if isinstance(value, str) and dest.endswith("url"):
        try:
            _URL_FLAGS.get(dest, _known_url)(value)
        except argparse.ArgumentTypeError as exc:
            return str(exc)
    if isinstance(value, str) and dest in _NUMERIC_TEXT_ARGS:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return f"not a number: {value!r}"
        if not number.is_finite() or not math.isfinite(float(number)):
            return f"must be a finite number, got {value!r}"
    return None


def check_namespace(args: argparse.Namespace, prog: str = "hedgebot") -> None:
    """Exit 2 with one line (``<command's prog>: error: argument --flag: why``, ``prog`` when
    the namespace names no command) when any parsed argument is of a kind that can never be
    right, or is given to a command that would ignore it.

    Runs before the command: nothing is published, written or connected to first."""
    from bot.cli_help import COMMAND_PROG

    found: tuple[str, str] | None = None
    for dest, value in sorted(vars(args).items()):
        if dest in ("func", COMMAND_PROG):
            continue
        problem = _sweep_problem(dest, value)
        if problem is not None:
            found = ("--" + dest.replace("_", "-"), problem)
            break
    if found is None:
        found = command_problem(args)
    if found is not None:
        flag, problem = found
        prog = str(getattr(args, COMMAND_PROG, prog))
        sys.stderr.write(f"{prog}: error: argument {flag}: {problem}\n")
        raise SystemExit(2)


def command_problem(args: argparse.Namespace) -> tuple[str, str] | None:
    """``(flag, why)`` for an argument the parsed command would reject or silently ignore
    (``bot.cli_commands``), or None."""
    from bot.cli_commands import command_problem as problem

    return problem(args)
