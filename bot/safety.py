"""Defences against hostile bytes from any peer: bounded JSON, a sane recursion limit, masked URLs.

Every message from outside (MQTT, JSON-RPC, venue, files) is untrusted. The rules here are the
one place that says how big and how deep such a message may be and how a URL that may carry a
credential (``https://node/v2/<KEY>``, ``mqtt://user:pass@host``) is shown in logs, events,
errors and printouts.

Every JSON the bot parses from a file or a peer goes through :func:`loads_bounded`: MQTT
commands (``bot.telemetry.commands``), JSON-RPC answers (``bot.chain.transport``), the
kill-switch flag (``bot.core.killswitch``), the paper venue's state (``bot.exchange.paper``),
the instance lock's holder note (``bot.instance_lock``, read by ``bot.status_daemon`` too).
The ``json.loads`` calls left in ``bot/`` read trusted text or are bounded where they stand:
records of the bot's own store (written only by this bot through its serialisers, behind the
instance lock: ``bot.store``, ``bot.replay_store``, ``bot.core.operator``,
``bot.exchange.ledger_checks``), files shipped in the package or written by the simulator
(``bot.chain.rpc.load_abi``, ``bot.sim``), the operator's own command line and environment
(``bot.telemetry.operator_cmd`` ``--param``, checked first by ``bot.cli_args``;
``bot.config_env``), and the local emulators' requests (test doubles of a venue, not the
bot). The retained MQTT state read at start (``bot.telemetry.peers``) goes through
:func:`loads_bounded` (1 MiB).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_RECURSION_LIMIT",
    "MAX_COMMAND_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_LOG_TEXT",
    "MAX_LOG_TRACEBACK",
    "MAX_PEER_TEXT",
    "MAX_RESPONSE_BYTES",
    "PayloadRejected",
    "bounded_log_values",
    "describe_exc",
    "json_depth",
    "loads_bounded",
    "mask_url",
    "printable",
    "restore_recursion_limit",
    "safe_str",
]

# CPython's own default. py_ecc (imported by the web3 stack) raises the limit to 100,000 at
# import, which lets the C JSON decoder overflow the C stack (a segfault) on deeply nested input
# instead of raising RecursionError.
DEFAULT_RECURSION_LIMIT = 1000
MAX_COMMAND_BYTES = 4096
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64
# how much of a peer's text (an RPC or venue error message) reaches a terminal or a log line
MAX_PEER_TEXT = 500
# control characters (C0, DEL, C1), format characters that reorder or hide text (bidi
# overrides, zero-width), line/paragraph separators and lone surrogates: shown as escapes
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_UNPRINTABLE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


class PayloadRejected(ValueError):
    """A message was refused before or while parsing: too large, too deep, not JSON, not UTF-8."""


def restore_recursion_limit(limit: int = DEFAULT_RECURSION_LIMIT) -> None:
    """Import the package that raises the limit, then put the limit back to ``limit``.

    Called once at start (CLI entry, ``build_bot``); idempotent. py_ecc is imported first so
    that its import-time ``setrecursionlimit(100000)`` cannot run again later.
    """
    with contextlib.suppress(ImportError):  # web3 always brings it
        import py_ecc  # noqa: F401  (imported for its side effect, then undone)
    sys.setrecursionlimit(limit)


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), computed without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def loads_bounded(
    raw: bytes | str, *, max_bytes: int = MAX_RESPONSE_BYTES, max_depth: int | None = MAX_JSON_DEPTH
) -> Any:
    """Parse ``raw`` as JSON within ``max_bytes`` and ``max_depth``.

    Raises ``PayloadRejected`` (a ``ValueError``) naming the cause: oversized, not UTF-8,
    not JSON, or nested deeper than ``max_depth`` (``None``: only the interpreter's recursion
    limit, which this keeps at the default so the C decoder raises instead of overflowing the C
    stack; use ``None`` for large responses, where walking the parsed value costs time).
    ``NaN``/``Infinity`` literals, numbers that overflow a float (``1e400``) and integers past
    the interpreter's 4,300-digit limit are refused.
    """
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise PayloadRejected(f"message of {size} bytes exceeds the limit of {max_bytes}")
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadRejected(f"not UTF-8 at byte {exc.start}") from None
    if sys.getrecursionlimit() > DEFAULT_RECURSION_LIMIT:
        restore_recursion_limit()  # an import raised it again: the C decoder must stop early
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except PayloadRejected:
        raise
    except RecursionError:
        limit = max_depth if max_depth is not None else sys.getrecursionlimit()
        raise PayloadRejected(f"JSON nested deeper than {limit} levels") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"  # json's own msg may end in " at"
        raise PayloadRejected(f"not JSON: {exc.msg.removesuffix(' at')} at {where}") from None
    except ValueError as exc:  # an integer literal past the 4,300-digit conversion limit
        raise PayloadRejected(f"not usable JSON: {describe_exc(exc, 120)}") from None
    if max_depth is not None and json_depth(value) > max_depth:
        raise PayloadRejected(f"JSON nested deeper than {max_depth} levels")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise PayloadRejected(f"{text[:40]} overflows a float")
    return value


def _refuse_constant(name: str) -> Any:
    raise PayloadRejected(f"{name} is not a JSON number")


def mask_url(url: str) -> str:
    """``url`` reduced to scheme, host and port; ``…`` marks anything that was removed.

    Paths, queries, fragments and ``user:password@`` may all carry credentials (an RPC key in
    the path, a token in the query), so none of them is ever shown. A string that is not a URL
    is shown as ``<url>``.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "<url>"
    if not parts.scheme or not host:
        return "<url>"
    shown_host = f"[{host}]" if ":" in host else host
    shown = f"{parts.scheme}://{shown_host}" + (f":{port}" if port is not None else "")
    removed = bool(parts.username or parts.password or parts.query or parts.fragment) or (
        parts.path not in ("", "/")
    )
    return shown + ("/…" if removed else "")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, limit: int = MAX_PEER_TEXT, *, keep_lines: bool = False) -> str:
    """``text`` safe for a terminal or a log line: at most ``limit`` characters of it, every
    control character (ESC, CR, NUL, C1, ...), bidi/zero-width format character and lone
    surrogate written as ``\\xNN``/``\\uNNNN``; ``…(+N chars)`` says how much was cut.

    ``keep_lines`` leaves newlines and tabs alone (a traceback). Never raises.
    """
    cut = len(text) - limit if len(text) > limit else 0
    head = text[:limit] if cut else text
    pattern = _UNPRINTABLE_KEEP_LINES if keep_lines else _UNPRINTABLE
    shown = pattern.sub(_escape, head)
    return f"{shown}…(+{cut} chars)" if cut else shown


def safe_str(value: object, limit: int = MAX_PEER_TEXT) -> str:
    """``str(value)`` made :func:`printable`; a value whose ``str`` raises (an int past the
    interpreter's 4,300-digit limit, a broken ``__str__``) is described, never raised."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<int of {value.bit_length()} bits>"
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - hostile content: any failure to format is described
        return f"<unprintable {type(value).__name__}>"
    return printable(text, limit)


def describe_exc(exc: BaseException, limit: int = MAX_PEER_TEXT) -> str:
    """``"ClassName: message"`` of ``exc`` with the message bounded to ``limit`` characters
    and escaped (:func:`printable`); never raises, whatever the exception carries (a message
    of 100 KB with ESC bytes, an argument whose ``str`` raises)."""
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - str() of a hostile argument may raise anything
        message = "<unprintable message>"
    name = type(exc).__name__
    return f"{name}: {printable(message, limit)}" if message else name


MAX_LOG_TEXT = 2000  # one string value of a log event
MAX_LOG_TRACEBACK = 10_000  # the rendered traceback of a log event (``exception``)
_MAX_LOG_ITEMS = 100  # items shown of a list or dict value
_MAX_LOG_NESTING = 4


def bounded_log_values(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: every string value of the event bounded (``MAX_LOG_TEXT``; the
    traceback ``MAX_LOG_TRACEBACK``) and escaped (:func:`printable`), every int past 64 bits
    described, every exception :func:`describe_exc`-ed, so no peer text reaches a terminal raw
    and no value can make the renderer raise. Runs after URL masking (a cut URL is not
    recognised any more)."""
    for key in list(event_dict):
        event_dict[key] = _bounded(event_dict[key], traceback=key == "exception")
    return event_dict


def _bounded(value: Any, *, traceback: bool = False, depth: int = 0) -> Any:
    if isinstance(value, str):
        limit = MAX_LOG_TRACEBACK if traceback else MAX_LOG_TEXT
        return printable(value, limit, keep_lines=traceback)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value.bit_length() <= 64 else safe_str(value)
    if isinstance(value, BaseException):
        return describe_exc(value)
    if depth >= _MAX_LOG_NESTING:
        return value if isinstance(value, float | bool | None) else safe_str(value, 200)
    if isinstance(value, list | tuple):
        return [_bounded(item, depth=depth + 1) for item in value[:_MAX_LOG_ITEMS]]
    if isinstance(value, dict):
        items = list(value.items())[:_MAX_LOG_ITEMS]
        return {safe_str(k, 200): _bounded(v, depth=depth + 1) for k, v in items}
    return value
