"""Fault switches of the Binance emulator: what they are, how an admin body sets them (a typed
table of ``AdminAction``s), and the answers they give instead of the route (429s, 5xx
failures, deeply nested or oversized JSON bodies).

``EmulatorFaults`` is mutable state the emulator consults on every request; one-shot switches
clear themselves when used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import structlog
from aiohttp import web

from bot.exchange.binance_codes import binance_code
from bot.exchange.emulators.admin import (
    AdminAction,
    AdminBody,
    admin_drop_mode,
    admin_int,
    admin_number,
)
from bot.exchange.emulators.binance_usdm.wire import BinanceError, error_response

__all__ = [
    "LEVERAGE_REFUSALS",
    "EmulatorFaults",
    "HostileAnswer",
    "RequestFailure",
    "fault_actions",
    "hostile_answer",
    "hostile_response",
    "request_failure",
    "request_fault",
]

_log = structlog.get_logger("hedgebot.exchange.emulator")


# Binance's 5xx bodies: 503 is "execution status unknown", anything else an internal error
_FAILURE_CODES = {503: -1007}
_INTERNAL_ERROR = -1001


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


LEVERAGE_REFUSALS = {code: binance_code(code).msg for code in (-2027, -2028)}


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


def hostile_answer(body: AdminBody) -> HostileAnswer:
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


def request_failure(action: str, body: AdminBody) -> RequestFailure:
    """The failure an admin ``fail_next_order`` / ``fail_next_request`` body asks for."""
    if action == "fail_next_order":
        method, path = "POST", "/fapi/v1/order"
    else:
        method, path = str(body["method"]).upper(), str(body["path"])
    status = admin_int(body, "status", default=503)
    if not 500 <= status <= 599:
        raise ValueError(f"status {status}: use a 5xx status (4xx refusals have their own codes)")
    entry = binance_code(_FAILURE_CODES.get(status, _INTERNAL_ERROR))
    code, msg = entry.code, entry.msg
    if body.get("code") is not None:
        code = admin_int(body, "code")
    return RequestFailure(method, path, status, code, str(body.get("msg") or msg))


def _drop_next_order(faults: EmulatorFaults, body: AdminBody) -> None:
    faults.drop_next_order, faults.drop_delay_s = admin_drop_mode(body, faults.drop_delay_s)


def _rate_limit(faults: EmulatorFaults, body: AdminBody) -> None:
    faults.rate_limit_requests = admin_int(body, "count", low=0)
    faults.rate_limit_after = admin_int(body, "after", low=0, default=0)
    faults.retry_after_s = admin_int(body, "retry_after_s", low=0, default=faults.retry_after_s)


def _partial_fill(faults: EmulatorFaults, body: AdminBody) -> None:
    fraction = admin_number(body, "fraction", low=0, high=1, above_low=True, default="0.5")
    if fraction == 1:
        raise ValueError("fraction must be in (0, 1)")
    faults.partial_fill_next_ioc = fraction


def _corrupt_position(faults: EmulatorFaults, body: AdminBody) -> None:
    faults.position_row_overrides.update(dict(body.get("fields") or {}))
    faults.position_row_drops.update(str(name) for name in body.get("drop") or ())


def _set_latency(faults: EmulatorFaults, body: AdminBody) -> None:
    faults.latency_s = float(admin_number(body, "seconds", low=0, high=3600))


def _refuse_leverage(faults: EmulatorFaults, body: AdminBody) -> None:
    faults.leverage_refusal = admin_int(body, "code", default=-2027)


def _clock_skew(faults: EmulatorFaults, body: AdminBody) -> None:
    faults.host_clock_ahead_s = float(admin_number(body, "host_ahead_s", low=-86400, high=86400))


def fault_actions(faults: EmulatorFaults) -> tuple[AdminAction, ...]:
    """The fault switches as admin actions on ``faults`` (the admin API's typed table)."""

    def on(setter: Callable[[EmulatorFaults, AdminBody], None]) -> Callable[[AdminBody], None]:
        return lambda body: setter(faults, body)

    def fail_next(action: str) -> Callable[[AdminBody], None]:
        return lambda body: faults.fail_next.append(request_failure(action, body))

    return (
        AdminAction(
            "drop_next_order", on(_drop_next_order), "accept the next order, drop its answer"
        ),
        AdminAction("rate_limit", on(_rate_limit), "429 / -1003 to count requests after after"),
        AdminAction("fail_next_order", fail_next("fail_next_order"), "5xx the next order"),
        AdminAction("fail_next_request", fail_next("fail_next_request"), "5xx one endpoint"),
        AdminAction("latency", on(_set_latency), "delay every answer"),
        AdminAction("partial_fill_next_ioc", on(_partial_fill), "fill part of the next IOC"),
        AdminAction("corrupt_position", on(_corrupt_position), "null or drop position fields"),
        AdminAction("refuse_leverage", on(_refuse_leverage), "refuse leverage changes"),
        AdminAction("clock_skew", on(_clock_skew), "server time behind the host clock"),
        AdminAction(
            "hostile_next",
            lambda body: faults.hostile_next.append(hostile_answer(body)),
            "a deep or huge JSON answer",
        ),
        AdminAction("reset_faults", lambda _body: faults.reset(), "clear every switch"),
    )


async def request_fault(faults: EmulatorFaults, request: web.Request) -> web.StreamResponse | None:
    """The answer a request-level switch gives ``request`` instead of the route (latency is
    waited here), or None to serve it: a 429, a 5xx failure, a hostile body."""
    if faults.latency_s > 0:
        await asyncio.sleep(faults.latency_s)
    if faults.rate_limit_requests > 0 and faults.rate_limit_after > 0:
        faults.rate_limit_after -= 1
    elif faults.rate_limit_requests > 0:
        faults.rate_limit_requests -= 1
        headers = {"Retry-After": str(faults.retry_after_s)}
        return error_response(BinanceError(-1003), headers=headers)
    failure = next(
        (f for f in faults.fail_next if f.method == request.method and f.path == request.path),
        None,
    )
    if failure is not None:
        faults.fail_next.remove(failure)
        _log.info("emulator.request_failed", path=request.path, status=failure.status)
        return error_response(BinanceError(failure.code, failure.msg, status=failure.status))
    hostile = next((h for h in faults.hostile_next if h.path in (None, request.path)), None)
    if hostile is not None:
        faults.hostile_next.remove(hostile)
        _log.info("emulator.hostile_answer", path=request.path, kind=hostile.kind)
        return await hostile_response(request, hostile)
    return None
