"""The test and operator handle of a running Binance emulator: its URL and venue, and one
method per admin switch (each goes through the same admin table as ``POST /_emulator/...``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from bot.exchange.emulators.base import RunningServer
from bot.exchange.emulators.binance_usdm.faults import EmulatorFaults
from bot.exchange.emulators.binance_usdm.wire import ccxt_urls
from bot.exchange.venue import SimVenue

if TYPE_CHECKING:
    from bot.exchange.emulators.binance_usdm.server import BinanceFuturesEmulator

__all__ = ["EmulatorHandle"]


@dataclass
class EmulatorHandle:
    """A running emulator: its URL, venue, fault switches and ``close()``."""

    host: str
    port: int
    emulator: BinanceFuturesEmulator
    server: RunningServer

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        return f"http://{self.host}:{self.port}"

    @property
    def runner(self) -> web.AppRunner:
        """The aiohttp runner serving the emulator."""
        return self.server.runner

    @property
    def venue(self) -> SimVenue:
        """The simulated venue behind the HTTP facade."""
        return self.emulator.venue

    @property
    def faults(self) -> EmulatorFaults:
        """The fault switches."""
        return self.emulator.faults

    def ccxt_urls(self) -> dict[str, str]:
        """The ``urls['api']`` entries that point ccxt ``binanceusdm`` here."""
        return ccxt_urls(self.url)

    def ccxt_ws_urls(self) -> dict[str, str]:
        """The ``urls['api']['ws']`` entry that points ccxt.pro ``binanceusdm`` here (it
        adds ``/market`` or ``/private`` before ``/ws`` itself)."""
        return {"linear": f"ws://{self.host}:{self.port}/ws"}

    async def drop_streams(self) -> int:
        """Close every open WebSocket now (user-data and market); how many were open."""
        return await self.emulator.streams.drop()

    def refuse_streams(self, refuse: bool = True) -> None:
        """Answer every WebSocket upgrade with HTTP 503 (``refuse``) or serve them again."""
        self.emulator.admin("refuse_streams", {"refuse": refuse})

    def drop_next_order_response(
        self, mode: Literal["reset", "delay"] = "reset", delay_s: float = 30.0
    ) -> None:
        """Accept the next order, then reset the connection or answer after ``delay_s``."""
        self.emulator.admin("drop_next_order", {"mode": mode, "delay_s": delay_s})

    def rate_limit_next(self, count: int, retry_after_s: int = 1, *, after: int = 0) -> None:
        """Answer HTTP 429 / -1003 with ``Retry-After`` to ``count`` requests, once ``after``
        more requests have been answered normally."""
        self.emulator.admin(
            "rate_limit", {"count": count, "retry_after_s": retry_after_s, "after": after}
        )

    def fail_next_order(self, status: int = 503, *, code: int | None = None) -> None:
        """Answer the next ``POST /fapi/v1/order`` with HTTP ``status`` and a Binance error
        body (503: -1007, execution status unknown) without creating the order."""
        self.emulator.admin("fail_next_order", {"status": status, "code": code})

    def fail_next_request(
        self, method: str, path: str, status: int = 503, *, code: int | None = None
    ) -> None:
        """Answer the next ``method`` request to ``path`` (e.g. ``GET /fapi/v1/income``) with
        HTTP ``status`` and a Binance error body, without acting on it."""
        self.emulator.admin(
            "fail_next_request", {"method": method, "path": path, "status": status, "code": code}
        )

    def corrupt_position_rows(
        self, fields: Mapping[str, Any] | None = None, drop: tuple[str, ...] = ()
    ) -> None:
        """From now until ``reset_faults``, position rows carry ``fields`` (None: JSON null)
        and lack the fields named in ``drop`` (e.g. ``positionAmt``)."""
        self.emulator.admin("corrupt_position", {"fields": dict(fields or {}), "drop": drop})

    def refuse_leverage(self, code: int = -2027) -> None:
        """Answer every leverage change with Binance ``code`` (-2027: position too large)."""
        self.emulator.admin("refuse_leverage", {"code": code})

    def set_host_clock_ahead(self, seconds: float) -> None:
        """Run the server clock (``/time`` and the timestamp check) ``seconds`` behind the
        venue clock, as if the host clock ran that far ahead: an unsynced client gets -1021."""
        self.emulator.admin("clock_skew", {"host_ahead_s": seconds})

    def answer_next_with_deep_json(self, depth: int = 80_000, path: str | None = None) -> None:
        """Answer the next request (to ``path``) with ``depth`` nested JSON arrays."""
        self.emulator.admin("hostile_next", {"kind": "deep", "size": depth, "path": path})

    def answer_next_with_huge_body(
        self, size_bytes: int, path: str | None = None, *, chunked: bool = False
    ) -> None:
        """Answer the next request (to ``path``) with a JSON object of ``size_bytes``."""
        self.emulator.admin(
            "hostile_next",
            {"kind": "huge", "size": size_bytes, "path": path, "chunked": chunked},
        )

    def set_latency(self, seconds: float) -> None:
        """Delay every response by ``seconds``."""
        self.emulator.admin("latency", {"seconds": seconds})

    def partial_fill_next_ioc(self, fraction: Decimal = Decimal("0.5")) -> None:
        """Fill only ``fraction`` of the next IOC order; the rest expires."""
        self.emulator.admin("partial_fill_next_ioc", {"fraction": str(fraction)})

    def set_mark(self, price: Decimal, index: Decimal | None = None) -> None:
        """Move the mark (and index) price."""
        self.emulator.admin("mark", {"price": str(price), "index": index})

    def set_funding_rate(self, rate: Decimal) -> None:
        """Set the funding rate per interval."""
        self.emulator.admin("funding_rate", {"rate": str(rate)})

    def advance_clock(self, seconds: float) -> None:
        """Move the venue clock (a ``ManualClock`` or ``OffsetClock``) and settle funding
        that fell due."""
        self.emulator.admin("advance", {"seconds": seconds})

    async def close(self) -> None:
        """Stop serving."""
        await self.server.close()
