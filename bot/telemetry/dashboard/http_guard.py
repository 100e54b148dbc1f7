"""The dashboards' aiohttp middleware: every route of the app (the pages, ``/api/*``, the
event stream, static files, ``/metrics`` and ``/healthz``) answers only requests whose ``Host``
is this server and that no other site's page sent (``CommandGate.read_refusal``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from bot.telemetry.command_text import echo
from bot.telemetry.dashboard.assets import security_headers
from bot.telemetry.dashboard.security import CommandGate

__all__ = ["host_guard"]

_log = structlog.get_logger("hedgebot.telemetry.dashboard")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_guard(gate_of: Callable[[], CommandGate]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware refusing what ``gate_of().read_refusal`` refuses (421/403, JSON reason).

    ``gate_of`` is read per request: the gate learns its port once the server is bound.
    """

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = gate_of().read_refusal(request.headers)
        if refused is None:
            return await handler(request)
        _log.warning(
            "dashboard.request_refused",
            status=refused.status,
            path=echo(request.path, 64),
            host=echo(request.headers.get("Host", ""), 64),
        )
        return web.json_response(
            {"status": "refused", "reason": refused.reason, "error": refused.reason},
            status=refused.status,
            headers=security_headers(),
        )

    return guard
