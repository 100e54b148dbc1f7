"""Fault switches of the Binance emulator: what they are, how an admin body sets them, and the
hostile answers they produce (deep or oversized JSON bodies).

``EmulatorFaults`` is mutable state the emulator consults on every request; one-shot switches
clear themselves when used. ``apply_fault`` is the one place an admin action name and its JSON
body become a switch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import structlog
from aiohttp import web

__all__ = [
    "LEVERAGE_REFUSALS",
    "EmulatorFaults",
    "HostileAnswer",
    "RequestFailure",
    "admin_int",
    "admin_number",
    "apply_fault",
    "hostile_answer",
    "hostile_response",
    "request_failure",
]

_log = structlog.get_logger("bot.exchange.emulator")


# Binance's 5xx bodies: 503 is "execution status unknown", anything else an internal error
_FAILURE_BODIES = {
    503: (
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; "
        "execution status unknown.",
    ),
}
_INTERNAL_ERROR = (-1001, "Internal error; unable to process your request. Please try again.")


@dataclass(frozen=True, slots=True)
class RequestFailure:
    """One request (``method`` + ``path``) answered with a Binance error before it has any
    effect: an order is not created, a read returns nothing."""

    method: str
    path: str
    status: int
    code: int
    msg: str


@dataclass(frozen=True, slots=True)
class HostileAnswer:
    """The next request (to ``path``, or any when None) answered with a hostile JSON body:
    ``deep`` nests ``size`` arrays; ``huge`` is an object of ``size`` bytes, streamed without
    a Content-Length when ``chunked``."""

    kind: Literal["deep", "huge"]
    size: int
    path: str | None = None
    chunked: bool = False


LEVERAGE_REFUSALS = {
    -2027: "Exceeded the maximum allowable position at current leverage.",
    -2028: "Leverage is smaller than permitted: insufficient margin balance.",
}


@dataclass
class EmulatorFaults:
    """Mutable fault switches; each one-shot switch clears itself when used."""

    drop_next_order: Literal["reset", "delay"] | None = None
    drop_delay_s: float = 30.0
    rate_limit_requests: int = 0
    rate_limit_after: int = 0  # requests answered normally before the 429s start
    retry_after_s: int = 1
    latency_s: float = 0.0
    partial_fill_next_ioc: Decimal | None = None  # fraction of the order to fill
    fail_next: list[RequestFailure] = field(default_factory=list)  # each used once, in order
    # position rows: fields set to these values (None: JSON null) / removed, until reset
    position_row_overrides: dict[str, Any] = field(default_factory=dict)
    position_row_drops: set[str] = field(default_factory=set)
    leverage_refusal: int | None = None  # Binance code answered to every leverage change
    host_clock_ahead_s: float = 0.0  # how far the client's (host) clock runs ahead of ours
    hostile_next: list[HostileAnswer] = field(default_factory=list)  # each used once

    def reset(self) -> None:
        """Clear every switch."""
        self.position_row_overrides.clear()
        self.position_row_drops.clear()
        self.leverage_refusal = None
        self.host_clock_ahead_s = 0.0
        self.hostile_next.clear()
        self.drop_next_order = None
        self.fail_next.clear()
        self.rate_limit_requests = 0
        self.rate_limit_after = 0
        self.latency_s = 0.0
        self.partial_fill_next_ioc = None


def hostile_answer(body: Mapping[str, Any]) -> HostileAnswer:
    kind = body.get("kind")
    if kind not in ("deep", "huge"):
        raise ValueError(f"kind {kind!r}: use deep or huge")
    default = 80_000 if kind == "deep" else 32 * 1024 * 1024
    size = admin_int(body, "size", low=1, high=256 * 1024 * 1024, default=default)
    path = body.get("path")
    return HostileAnswer(kind, size, str(path) if path else None, bool(body.get("chunked")))


async def hostile_response(request: web.Request, hostile: HostileAnswer) -> web.StreamResponse:
    """A 200 answer with a deeply nested or an oversized JSON body."""
    if hostile.kind == "deep":
        return web.Response(
            text="[" * hostile.size + "]" * hostile.size, content_type="application/json"
        )
    head, tail = b'{"pad":"', b'"}'
    filler = hostile.size - len(head) - len(tail)
    if not hostile.chunked:
        body = head + b"x" * max(filler, 0) + tail
        return web.Response(body=body, content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(head)
    chunk = b"x" * 65536
    try:
        while filler > 0:
            await response.write(chunk[: min(filler, len(chunk))])
            filler -= len(chunk)
        await response.write(tail)
        await response.write_eof()
    except (ConnectionError, RuntimeError):  # the client stopped reading: that is the point
        _log.info("emulator.hostile_answer_cut", path=request.path)
    return response


def request_failure(action: str, body: Mapping[str, Any]) -> RequestFailure:
    """The failure an admin ``fail_next_order`` / ``fail_next_request`` body asks for."""
    if action == "fail_next_order":
        method, path = "POST", "/fapi/v1/order"
    else:
        method, path = str(body["method"]).upper(), str(body["path"])
    status = admin_int(body, "status", default=503)
    if not 500 <= status <= 599:
        raise ValueError(f"status {status}: use a 5xx status (4xx refusals have their own codes)")
    code, msg = _FAILURE_BODIES.get(status, _INTERNAL_ERROR)
    if body.get("code") is not None:
        code = admin_int(body, "code")
    return RequestFailure(method, path, status, code, str(body.get("msg") or msg))


_NO_DEFAULT: Any = object()
_ADMIN_MAX = Decimal("1e15")  # larger than any price, rate, count or duration an admin sets


def admin_number(
    body: Mapping[str, Any],
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
    body: Mapping[str, Any],
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


def _drop_next_order(faults: EmulatorFaults, body: Mapping[str, Any]) -> None:
    mode = body.get("mode", "reset")
    if mode not in ("reset", "delay"):
        raise ValueError(f"mode {mode!r}: use reset or delay")
    faults.drop_next_order = mode
    faults.drop_delay_s = float(
        admin_number(body, "delay_s", low=0, high=3600, default=faults.drop_delay_s)
    )


def _rate_limit(faults: EmulatorFaults, body: Mapping[str, Any]) -> None:
    faults.rate_limit_requests = admin_int(body, "count", low=0)
    faults.rate_limit_after = admin_int(body, "after", low=0, default=0)
    faults.retry_after_s = admin_int(body, "retry_after_s", low=0, default=faults.retry_after_s)


def _partial_fill(faults: EmulatorFaults, body: Mapping[str, Any]) -> None:
    fraction = admin_number(body, "fraction", low=0, high=1, above_low=True, default="0.5")
    if fraction == 1:
        raise ValueError("fraction must be in (0, 1)")
    faults.partial_fill_next_ioc = fraction


def _corrupt_position(faults: EmulatorFaults, body: Mapping[str, Any]) -> None:
    faults.position_row_overrides.update(dict(body.get("fields") or {}))
    faults.position_row_drops.update(str(name) for name in body.get("drop") or ())


def _set_latency(faults: EmulatorFaults, body: Mapping[str, Any]) -> None:
    faults.latency_s = float(admin_number(body, "seconds", low=0, high=3600))


def _refuse_leverage(faults: EmulatorFaults, body: Mapping[str, Any]) -> None:
    faults.leverage_refusal = admin_int(body, "code", default=-2027)


def _clock_skew(faults: EmulatorFaults, body: Mapping[str, Any]) -> None:
    faults.host_clock_ahead_s = float(admin_number(body, "host_ahead_s", low=-86400, high=86400))


_FAULT_ACTIONS: dict[str, Callable[[EmulatorFaults, Mapping[str, Any]], None]] = {
    "drop_next_order": _drop_next_order,
    "rate_limit": _rate_limit,
    "fail_next_order": lambda f, b: f.fail_next.append(request_failure("fail_next_order", b)),
    "fail_next_request": lambda f, b: f.fail_next.append(request_failure("fail_next_request", b)),
    "latency": _set_latency,
    "partial_fill_next_ioc": _partial_fill,
    "corrupt_position": _corrupt_position,
    "refuse_leverage": _refuse_leverage,
    "clock_skew": _clock_skew,
    "hostile_next": lambda f, b: f.hostile_next.append(hostile_answer(b)),
    "reset_faults": lambda f, _b: f.reset(),
}


def apply_fault(faults: EmulatorFaults, action: str, body: Mapping[str, Any]) -> bool:
    """Set the switch an admin ``action`` names from its ``body``; False for no such fault.

    Raises ``ValueError``/``KeyError``/``TypeError`` for a malformed body (the admin API
    answers 400)."""
    handler = _FAULT_ACTIONS.get(action)
    if handler is None:
        return False
    handler(faults, body)
    return True
