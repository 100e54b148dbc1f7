"""The dashboards' aiohttp middleware and login: every route of the app but ``/metrics``,
``/healthz`` and ``/readyz`` (the pages, ``/api/*``, the event stream, static files) answers
only requests whose ``Host`` is this server and that no other site's page sent, and on a
bind beyond loopback only a logged-in browser or a request carrying the operator token
(``CommandGate.read_refusal``). ``POST /login`` takes the token once and sets an ``HttpOnly``,
``SameSite=Strict`` session cookie (``Secure`` behind HTTPS)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import structlog
from aiohttp import web

from bot.telemetry.command_text import echo
from bot.telemetry.dashboard.assets import render_page, security_headers
from bot.telemetry.dashboard.security import SESSION_COOKIE, CommandGate, same_secret

__all__ = ["add_login_routes", "host_guard"]

_log = structlog.get_logger("hedgebot.telemetry.dashboard")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_LOGIN_BYTES = 4096


def _login_page(problem: str, status: int) -> web.Response:
    response = render_page("login.html", {"PROBLEM": problem})
    response.set_status(status)
    return response


def host_guard(gate_of: Callable[[], CommandGate]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware refusing what ``gate_of().read_refusal`` refuses (421/403/401, JSON
    reason; the login form instead for a page that needs a login).

    ``gate_of`` is read per request: the gate learns its port once the server is bound.
    """

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = gate_of().read_refusal(request.headers, request.path)
        if refused is None:
            return await handler(request)
        _log.warning(
            "dashboard.request_refused",
            status=refused.status,
            path=echo(request.path, 64),
            host=echo(request.headers.get("Host", ""), 64),
        )
        if refused.status == 401 and request.method == "GET" and request.path == "/":
            return _login_page("", 401)
        return web.json_response(
            {"status": "refused", "reason": refused.reason, "error": refused.reason},
            status=refused.status,
            headers=security_headers(),
        )

    return guard


def add_login_routes(app: web.Application, gate_of: Callable[[], CommandGate]) -> None:
    """``GET /login`` (the form) and ``POST /login`` (``token=…``, form-encoded): the right
    token sets the session cookie and redirects to ``/`` (303); a wrong one is 401 with the
    form again. The Host and Origin checks of the guard apply first."""

    async def form(_request: web.Request) -> web.Response:
        return _login_page("", 200)

    async def login(request: web.Request) -> web.StreamResponse:
        gate = gate_of()
        raw = await request.content.read(MAX_LOGIN_BYTES + 1)
        fields = parse_qs(raw[:MAX_LOGIN_BYTES].decode("utf-8", "replace"))
        given = (fields.get("token") or [""])[0]
        if gate.token is None or not same_secret(given, gate.token):
            _log.warning("dashboard.login_refused", host=echo(request.headers.get("Host", ""), 64))
            problem = "no operator token is configured" if gate.token is None else "wrong token"
            return _login_page(problem, 401)
        secure = request.headers.get("Origin", "").lower().startswith("https://") or (
            request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        )
        response = web.Response(status=303, headers={**security_headers(), "Location": "/"})
        response.set_cookie(
            SESSION_COOKIE, gate.session, httponly=True, samesite="Strict", path="/", secure=secure
        )
        _log.info("dashboard.login", host=echo(request.headers.get("Host", ""), 64))
        return response

    app.router.add_get("/login", form)
    app.router.add_post("/login", login)
