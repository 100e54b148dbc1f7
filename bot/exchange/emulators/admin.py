"""The admin API every emulator shares: a typed table of switches served over HTTP.

An ``AdminTable`` maps an action name to an ``AdminAction`` (its handler and a one-line
help). ``POST /_emulator/{action}`` with a JSON object body runs it; ``GET /_emulator/state``
answers the emulator's state; ``GET /_emulator`` answers ``{"actions": {name: help}, "state":
...}``, the switches there are and the state. A malformed body (``KeyError``/``ValueError``/
``TypeError``/``InvalidOperation`` from the handler or the number parsers below) is HTTP 400
``{"ok": false, "error": ...}``; success is ``{"ok": true, **result}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from aiohttp import web

from bot.safety import MAX_COMMAND_BYTES, describe_exc, loads_bounded

__all__ = [
    "ADMIN_PREFIX",
    "AdminAction",
    "AdminBody",
    "AdminTable",
    "add_admin_routes",
    "admin_drop_mode",
    "admin_int",
    "admin_number",
    "admin_text",
]

ADMIN_PREFIX = "/_emulator/"
AdminBody = Mapping[str, Any]
_BAD_BODY = (KeyError, ValueError, InvalidOperation, TypeError)


@dataclass(frozen=True, slots=True)
class AdminAction:
    """One admin switch: ``apply(body)`` sets it (raises on a malformed body)."""

    name: str
    apply: Callable[[AdminBody], None]
    help: str = ""


class AdminTable:
    """Admin actions by name; ``result()`` is merged into every successful answer."""

    def __init__(
        self,
        actions: Iterable[AdminAction],
        result: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        self._actions = {action.name: action for action in actions}
        self._result = result

    def help_of(self, name: str) -> str:
        """The one-line help of action ``name`` (``KeyError`` for an unknown name)."""
        return self._actions[name].help

    @property
    def names(self) -> tuple[str, ...]:
        """The action names, sorted."""
        return tuple(sorted(self._actions))

    def add(self, *actions: AdminAction) -> None:
        """Register more actions (a later one replaces an earlier one of the same name)."""
        self._actions.update((action.name, action) for action in actions)

    def run(self, name: str, body: AdminBody) -> dict[str, Any]:
        """Apply action ``name``; raises ``KeyError`` for an unknown name."""
        action = self._actions.get(name)
        if action is None:
            raise KeyError(f"unknown action {name!r}")
        action.apply(body)
        return dict(self._result())


def add_admin_routes(
    app: web.Application, table: AdminTable, state: Callable[[], Mapping[str, Any]]
) -> None:
    """Serve ``table`` at ``POST /_emulator/{action}`` and ``state()`` at
    ``GET /_emulator/state``."""

    async def post(request: web.Request) -> web.StreamResponse:
        try:
            raw = await request.read() if request.can_read_body else b"{}"
            body = loads_bounded(raw, max_bytes=MAX_COMMAND_BYTES)
            if not isinstance(body, dict):
                raise TypeError("the body must be a JSON object")
            result = table.run(request.match_info["action"], body)
        except _BAD_BODY as exc:
            error = str(exc) if isinstance(exc, KeyError) else describe_exc(exc, 300)
            return web.json_response({"ok": False, "error": error}, status=400)
        return web.json_response({"ok": True, **result})

    async def get_state(_request: web.Request) -> web.StreamResponse:
        return web.json_response(dict(state()))

    async def get_index(_request: web.Request) -> web.StreamResponse:
        actions = {name: table.help_of(name) for name in table.names}
        return web.json_response({"actions": actions, "state": dict(state())})

    app.router.add_post(ADMIN_PREFIX + "{action}", post)
    app.router.add_get(ADMIN_PREFIX + "state", get_state)
    app.router.add_get(ADMIN_PREFIX.rstrip("/"), get_index)
    app.router.add_get(ADMIN_PREFIX, get_index)


_NO_DEFAULT: Any = object()
_ADMIN_MAX = Decimal("1e15")  # larger than any price, rate, count or duration an admin sets


def admin_number(
    body: AdminBody,
    name: str,
    *,
    low: Decimal | int = -_ADMIN_MAX,
    high: Decimal | int = _ADMIN_MAX,
    above_low: bool = False,
    default: Any = _NO_DEFAULT,
) -> Decimal:
    """The one parser of the admin API's numbers: ``body[name]`` (a JSON number or numeric
    text) as a finite Decimal in ``[low, high]`` (``(low, high]`` with ``above_low``).

    Raises ``KeyError`` when it is missing without a ``default``, ``ValueError`` naming
    ``name`` for ``nan``, ``1e400``, ``true``, text or a value out of range (the API answers
    400 with the message)."""
    if name not in body or body[name] is None:
        if default is _NO_DEFAULT:
            raise KeyError(f"{name} is required")
        return Decimal(str(default))
    raw = body[name]
    try:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise InvalidOperation
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{name} must be a number, got {str(raw)[:40]!r}") from None
    finite = value.is_finite()  # compare only finite values: NaN comparisons raise
    if not finite or not ((value > low if above_low else value >= low) and value <= high):
        bracket = "(" if above_low else "["
        raise ValueError(
            f"{name} must be a finite number in {bracket}{low}, {high}], got {str(raw)[:40]!r}"
        )
    return value


def admin_int(
    body: AdminBody,
    name: str,
    *,
    low: int = -(2**31),
    high: int = 2**31,
    default: Any = _NO_DEFAULT,
) -> int:
    """``admin_number`` for a whole number (a count, a code, a status)."""
    value = admin_number(body, name, low=low, high=high, default=default)
    if value != value.to_integral_value():
        raise ValueError(f"{name} must be a whole number, got {value}")
    return int(value)


def admin_text(body: AdminBody, name: str, choices: tuple[str, ...], default: str) -> str:
    """``body[name]`` when it is one of ``choices`` (``default`` when absent);
    ``ValueError`` naming the choices otherwise."""
    value = body.get(name, default)
    if value not in choices:
        raise ValueError(f"{name} {value!r}: use {' or '.join(choices)}")
    return str(value)


DropMode = Literal["reset", "delay"]


def admin_drop_mode(body: AdminBody, default_delay_s: float) -> tuple[DropMode, float]:
    """The ``drop_next_order`` switch every dialect has: ``(mode, delay_s)`` from ``body``
    (``mode`` reset|delay, default reset; ``delay_s`` in [0, 3600] s, default
    ``default_delay_s``). Raises ``ValueError`` for another mode or a bad delay."""
    mode: DropMode = (
        "delay" if admin_text(body, "mode", ("reset", "delay"), "reset") == "delay" else "reset"
    )
    delay_s = admin_number(body, "delay_s", low=0, high=3600, default=default_delay_s)
    return mode, float(delay_s)
