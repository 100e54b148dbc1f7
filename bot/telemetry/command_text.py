"""Command text that goes back to peers and logs: bounded, escaped, readable.

Every string here may come from an untrusted peer: ``echo`` bounds and escapes it, and
``describe`` turns a pydantic error into one short line naming the field.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_ID_LENGTH", "MAX_REASON_CHARS", "describe", "echo"]

MAX_ID_LENGTH = 64
MAX_REASON_CHARS = 300


def echo(text: str, limit: int = MAX_ID_LENGTH) -> str:
    """``text`` safe to log, publish and print: at most ``limit`` characters (a final ``…``
    marks a cut), non-printable characters and lone surrogates escaped (``\\x1b``,
    ``\\ud800``). Looks at no more of ``text`` than it can show."""
    out: list[str] = []
    size = 0
    for ch in text[: limit + 1]:
        shown = ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode()
        out.append(shown)
        size += len(shown)
        if size > limit:
            break
    shown_text = "".join(out)
    return shown_text if size <= limit else shown_text[: limit - 1] + "…"


_READABLE = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "required",
    "extra_forbidden": "unknown field",
    "literal_error": "must be {expected}",
    "string_too_long": "longer than {max_length} characters",
    "string_too_short": "must not be empty",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "string_unicode": "must be printable characters only",  # a lone surrogate
}


def describe(error: Any) -> str:
    """One line for one pydantic error: ``<field path>: <what is wrong>`` (bounded)."""
    # loc starts with the union tag (the command name); drop it
    loc = [echo(str(part), 32) for part in error["loc"][1:]]
    where = ".".join(loc) or "(command)"
    template = _READABLE.get(error["type"])
    if template is not None:
        try:
            return f"{where}: {template.format(**(error.get('ctx') or {}))}"
        except KeyError:
            return f"{where}: {template}"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"
