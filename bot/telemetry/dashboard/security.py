"""Who may do what on a dashboard: pure checks, no I/O.

Reading is open on loopback. A command needs the operator token (``HEDGEBOT_DASHBOARD_TOKEN``,
compared in constant time) and must come from the page itself: the ``Host`` is one we serve,
the ``Origin`` is that host, the body is JSON (a cross-site form cannot send it without a
CORS preflight, which we never answer) and it carries the page's CSRF token (a value only a
same-origin page can read). A bind beyond loopback without a token refuses to start.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.errors import ConfigError

__all__ = [
    "DASHBOARD_TOKEN_ENV",
    "MIN_TOKEN_CHARS",
    "CommandGate",
    "Refused",
    "check_bind",
    "is_loopback",
    "same_secret",
    "served_names",
    "token_from_env",
]

DASHBOARD_TOKEN_ENV = "HEDGEBOT_DASHBOARD_TOKEN"  # noqa: S105 - the variable's name
MIN_TOKEN_CHARS = 16
CSRF_HEADER = "X-CSRF-Token"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or a name) only reaches this machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def token_from_env(environ: Mapping[str, str]) -> str | None:
    """The operator token, or None when unset/empty. Raises ``ConfigError`` when it is shorter
    than ``MIN_TOKEN_CHARS`` (a guessable token is worse than none: it looks safe)."""
    token = environ.get(DASHBOARD_TOKEN_ENV, "")
    if not token:
        return None
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{DASHBOARD_TOKEN_ENV} must be at least {MIN_TOKEN_CHARS} characters; generate "
            'one with: python -c "import secrets; print(secrets.token_urlsafe(24))"'
        )
    return token


def check_bind(host: str, token: str | None, what: str = "dashboard") -> None:
    """Raises ``ConfigError`` for a bind beyond loopback without an operator token."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"{what}: refusing to listen on {host} without an operator token: set "
            f"{DASHBOARD_TOKEN_ENV}, or bind 127.0.0.1"
        )


def served_names(bind_host: str) -> frozenset[str]:
    """The names beyond loopback a ``Host`` header may carry for a server bound to
    ``bind_host``: the bind host itself (a name or an address; IPv6 in brackets), none for a
    loopback or wildcard bind (IP literals are accepted anyway, see ``host_allowed``)."""
    wildcard = bind_host in ("0.0.0.0", "::", "")  # noqa: S104 - compared, not bound
    if wildcard or is_loopback(bind_host):
        return frozenset()
    name = bind_host.lower()
    return frozenset({f"[{name}]" if ":" in name and not name.startswith("[") else name})


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a command request is refused: the HTTP status and a one-line reason."""

    status: int
    reason: str


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    return value if value is not None else ""


def same_secret(given: str, expected: str) -> bool:
    """Whether ``given`` (any text a peer sent: non-ASCII, a lone surrogate, empty, huge)
    equals ``expected``, in constant time. Compares UTF-8 bytes: ``hmac.compare_digest`` on
    ``str`` raises ``TypeError`` for non-ASCII text, which must be a refusal, never a 500."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


@dataclass(frozen=True)
class CommandGate:
    """The checks of a command request (token, Host, Origin, JSON, CSRF), in that order.

    ``token``: the operator token, None when commands are disabled. ``csrf_token``: a secret
    per process, written into the page. ``port``: the port served (Host must name it).
    """

    token: str | None
    port: int
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    extra_hosts: frozenset[str] = frozenset()

    def allowed_hosts(self) -> frozenset[str]:
        """``host:port`` values accepted in ``Host``: loopback names plus ``extra_hosts``."""
        names = {"127.0.0.1", "localhost", "[::1]", *self.extra_hosts}
        return frozenset(f"{name}:{self.port}" for name in names)

    def host_allowed(self, host: str) -> bool:
        """Whether ``host`` (a ``Host`` header, lower case) names this server: a loopback name
        or ``extra_hosts`` with our port, or any IP literal with our port (what Prometheus or a
        browser sends for a wildcard bind; DNS rebinding needs a name, never a literal)."""
        if host in self.allowed_hosts():
            return True
        name, sep, port = host.rpartition(":")
        if not sep or port != str(self.port):
            return False
        try:
            ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
        except ValueError:
            return False
        return name.startswith("[") or ":" not in name

    def read_refusal(self, headers: Mapping[str, str]) -> Refused | None:
        """None when any request (page, API, stream, static, ``/metrics``, ``/healthz``) may
        be answered, else why not: 421 for a ``Host`` we do not serve (DNS rebinding), 403
        for a browser's cross-site fetch (``Origin`` of another site, ``Sec-Fetch-Site`` other
        than same-origin/none, except a top-level navigation, which the other site cannot
        read)."""
        host = _header(headers, "Host").lower()
        if not self.host_allowed(host):
            return Refused(421, "unexpected Host header (DNS rebinding?)")
        origin = _header(headers, "Origin").lower()
        if origin and origin != f"http://{host}":
            return Refused(403, "cross-site request refused (Origin is not this dashboard)")
        site = _header(headers, "Sec-Fetch-Site")
        navigating = _header(headers, "Sec-Fetch-Mode") == "navigate"
        if site not in ("", "same-origin", "none") and not navigating:
            return Refused(403, "cross-site request refused (Sec-Fetch-Site)")
        return None

    def refusal(self, headers: Mapping[str, str]) -> Refused | None:
        """None when the request may run a command, else why not (401/403/415)."""
        host = _header(headers, "Host").lower()
        if not self.host_allowed(host):
            return Refused(403, "unexpected Host header (DNS rebinding?)")
        origin = _header(headers, "Origin").lower()
        if origin != f"http://{host}":
            return Refused(403, "cross-site request refused (Origin is not this dashboard)")
        if _header(headers, "Sec-Fetch-Site") not in ("", "same-origin"):
            return Refused(403, "cross-site request refused (Sec-Fetch-Site)")
        if not _header(headers, "Content-Type").startswith("application/json"):
            return Refused(415, "commands are JSON (Content-Type: application/json)")
        if not same_secret(_header(headers, CSRF_HEADER), self.csrf_token):
            return Refused(403, "missing or wrong CSRF token: reload the page")
        return self._token_refusal(_header(headers, "Authorization"))

    def _token_refusal(self, authorization: str) -> Refused | None:
        if self.token is None:
            return Refused(403, f"commands are disabled: start with {DASHBOARD_TOKEN_ENV} set")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return Refused(401, "operator token required")
        if not same_secret(given, self.token):
            return Refused(401, "wrong operator token")
        return None
