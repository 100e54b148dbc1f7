"""Defences against hostile bytes from any peer: bounded JSON, a sane recursion limit, masked URLs.

Every message from outside (MQTT, JSON-RPC, venue, files) is untrusted. The rules here are the
one place that says how big and how deep such a message may be and how a URL that may carry a
credential (``https://node/v2/<KEY>``, ``mqtt://user:pass@host``) is shown in logs, events,
errors and printouts.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_RECURSION_LIMIT",
    "MAX_COMMAND_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_RESPONSE_BYTES",
    "PayloadRejected",
    "json_depth",
    "loads_bounded",
    "mask_url",
    "restore_recursion_limit",
]

# CPython's own default. py_ecc (imported by the web3 stack) raises the limit to 100,000 at
# import, which lets the C JSON decoder overflow the C stack (a segfault) on deeply nested input
# instead of raising RecursionError.
DEFAULT_RECURSION_LIMIT = 1000
MAX_COMMAND_BYTES = 4096
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64


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
    ``NaN``/``Infinity`` literals are refused.
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
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        limit = max_depth if max_depth is not None else sys.getrecursionlimit()
        raise PayloadRejected(f"JSON nested deeper than {limit} levels") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise PayloadRejected(f"not JSON: {exc.msg} at {where}") from None
    if max_depth is not None and json_depth(value) > max_depth:
        raise PayloadRejected(f"JSON nested deeper than {max_depth} levels")
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
