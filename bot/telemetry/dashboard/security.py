"""Who may do what on a dashboard: pure checks, no I/O.

``/metrics``, ``/healthz`` and ``/readyz`` are open to any ``Host`` (Prometheus scrapes by a
service name). Every other route answers only a ``Host`` we serve (loopback names and IP
literals on our port, the bind name, and the configured ``allowed_hosts``: DNS rebinding
needs a name we do not list). Reading is open on loopback; on any other bind it needs the
operator token (``Authorization: Bearer`` or the session cookie ``/login`` sets). A command
needs the operator token (``HEDGEBOT_DASHBOARD_TOKEN``, compared in constant time; or the
session cookie) and must come from the page itself: the ``Origin`` (``http`` or ``https``)
is a host we serve, the body is JSON (a cross-site form cannot send it without a CORS
preflight, which we never answer) and it carries the page's CSRF token (a value only a
same-origin page can read). A bind beyond loopback without a token refuses to start.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.errors import ConfigError

__all__ = [
    "DASHBOARD_TOKEN_ENV",
    "LOGIN_PATHS",
    "MIN_TOKEN_CHARS",
    "OPEN_PATHS",
    "SESSION_COOKIE",
    "CommandGate",
    "Refused",
    "allowed_host_entries",
    "check_bind",
    "is_loopback",
    "same_secret",
    "served_names",
    "token_from_env",
]

DASHBOARD_TOKEN_ENV = "HEDGEBOT_DASHBOARD_TOKEN"  # noqa: S105 - the variable's name
MIN_TOKEN_CHARS = 16
CSRF_HEADER = "X-CSRF-Token"
SESSION_COOKIE = "hedgebot_session"
# read-only, for scrapers and probes: no Host check, no login (nothing a page could misuse)
OPEN_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
# what a browser needs before it has logged in (the login form is one self-contained page)
LOGIN_PATHS = frozenset({"/login", "/favicon.ico", "/favicon.svg"})
_HOST_ENTRY = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)(:(\d{1,5}))?$")


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
    if not all("!" <= char <= "~" for char in token):  # a header cannot carry it intact
        raise ConfigError(
            f"{DASHBOARD_TOKEN_ENV} must be printable ASCII with no spaces (blank, a space or "
            "a control character in it: a shell quoting mistake?); generate one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(24))"'
        )
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


def allowed_host_entries(values: Iterable[str], what: str) -> frozenset[str]:
    """The extra ``Host`` values a dashboard accepts (``metrics.allowed_hosts``,
    ``--allowed-host``): ``name``, ``name:port``, ``ip:port`` or ``[v6]:port``, lower-cased.
    An entry with a port matches exactly; one without matches that name on any port (a
    proxy or a service name on port 80/443). Raises ``ConfigError`` naming ``what`` and the
    entry's index for anything else (a scheme, a path, a space, a port outside 1–65535)."""
    entries = set()
    for index, value in enumerate(values):
        entry = value.strip().lower()
        match = _HOST_ENTRY.match(entry)
        if match is None or (match.group(4) is not None and not 0 < int(match.group(4)) < 65536):
            raise ConfigError(
                f"{what}.{index}: {value[:80]!r} is not a host or host:port (e.g. "
                '"127.0.0.1:9111", "hedgebot-a.internal")'
            )
        entries.add(entry)
    return frozenset(entries)


def _split_host(host: str) -> tuple[str, str]:
    """``("name", "port")`` of a ``Host`` value (``port`` ``""`` when none)."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest[1:] if rest.startswith(":") else ""
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, ""


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
    """The checks of a request: Host and cross-site for every route but ``OPEN_PATHS``, the
    login for reading on a non-loopback bind, and a command's token, Origin, JSON and CSRF.

    ``token``: the operator token, None when commands are disabled. ``csrf_token``: a secret
    per process, written into the page. ``port``: the port served (a loopback name must come
    with it). ``extra_hosts``: the bind's own name (``served_names``). ``allowed``: the
    configured ``allowed_hosts`` (``allowed_host_entries``). ``login_required``: reading
    needs the token too (a bind beyond loopback). ``session``: the per-process value of the
    session cookie ``/login`` sets.
    """

    token: str | None
    port: int
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    extra_hosts: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()
    login_required: bool = False
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def allowed_hosts(self) -> frozenset[str]:
        """``host:port`` values accepted in ``Host``: loopback names plus ``extra_hosts`` on
        our port, plus every configured entry (see :meth:`host_allowed` for the rest)."""
        names = {"127.0.0.1", "localhost", "[::1]", *self.extra_hosts}
        return frozenset({f"{name}:{self.port}" for name in names} | self.allowed)

    def host_allowed(self, host: str) -> bool:
        """Whether ``host`` (a ``Host`` header, lower case) names this server: a loopback name
        or ``extra_hosts`` with our port, a configured entry (with its port, or any port for
        an entry without one), or any IP literal with our port (what Prometheus or a browser
        sends for a wildcard bind; DNS rebinding needs a name, never a literal)."""
        if host in self.allowed_hosts():
            return True
        name, port = _split_host(host)
        if name in self.allowed:  # configured without a port: the name is what matters
            return True
        if port != str(self.port):
            return False
        try:
            ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
        except ValueError:
            return False
        return name.startswith("[") or ":" not in name

    def origin_allowed(self, origin: str, host: str) -> bool:
        """Whether ``origin`` (an ``Origin`` header, lower case) is this dashboard: scheme
        ``http`` or ``https`` (behind a TLS proxy) and a host:port that is the request's
        ``Host`` or one we list (never merely any IP literal: that leniency is for ``Host``)."""
        scheme, sep, netloc = origin.partition("://")
        if not sep or scheme not in ("http", "https") or not netloc or "/" in netloc:
            return False
        if netloc == host or netloc in self.allowed_hosts():
            return True
        return _split_host(netloc)[0] in self.allowed

    def authenticated(self, headers: Mapping[str, str]) -> bool:
        """Whether the request carries the operator token (``Authorization: Bearer``) or the
        session cookie of a login; False when no token is configured."""
        if self.token is None:
            return False
        scheme, _, given = _header(headers, "Authorization").partition(" ")
        if scheme.lower() == "bearer" and given and same_secret(given, self.token):
            return True
        for part in _header(headers, "Cookie").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == SESSION_COOKIE and same_secret(value, self.session):
                return True
        return False

    def read_refusal(self, headers: Mapping[str, str], path: str = "/") -> Refused | None:
        """None when a request for ``path`` may be answered, else why not: nothing is refused
        for ``OPEN_PATHS``; 421 for a ``Host`` we do not serve (DNS rebinding), 403 for a
        browser's cross-site fetch (``Origin`` not this dashboard, ``Sec-Fetch-Site`` other
        than same-origin/none, except a top-level navigation, which the other site cannot
        read), 401 when ``login_required`` and the request is neither logged in nor carries
        the token (``LOGIN_PATHS`` excepted)."""
        if path in OPEN_PATHS:
            return None
        host = _header(headers, "Host").lower()
        if not self.host_allowed(host):
            return Refused(421, "unexpected Host header (DNS rebinding?)")
        origin = _header(headers, "Origin").lower()
        if origin and not self.origin_allowed(origin, host):
            return Refused(403, "cross-site request refused (Origin is not this dashboard)")
        site = _header(headers, "Sec-Fetch-Site")
        navigating = _header(headers, "Sec-Fetch-Mode") == "navigate"
        if site not in ("", "same-origin", "none") and not navigating:
            return Refused(403, "cross-site request refused (Sec-Fetch-Site)")
        if self.login_required and path not in LOGIN_PATHS and not self.authenticated(headers):
            return Refused(
                401, "log in with the operator token (this dashboard is not on loopback)"
            )
        return None

    def refusal(self, headers: Mapping[str, str]) -> Refused | None:
        """None when the request may run a command, else why not (401/403/415)."""
        host = _header(headers, "Host").lower()
        if not self.host_allowed(host):
            return Refused(403, "unexpected Host header (DNS rebinding?)")
        if not self.origin_allowed(_header(headers, "Origin").lower(), host):
            return Refused(403, "cross-site request refused (Origin is not this dashboard)")
        if _header(headers, "Sec-Fetch-Site") not in ("", "same-origin"):
            return Refused(403, "cross-site request refused (Sec-Fetch-Site)")
        if not _header(headers, "Content-Type").startswith("application/json"):
            return Refused(415, "commands are JSON (Content-Type: application/json)")
        if not same_secret(_header(headers, CSRF_HEADER), self.csrf_token):
            return Refused(403, "missing or wrong CSRF token: reload the page")
        return self._token_refusal(headers)

    def _token_refusal(self, headers: Mapping[str, str]) -> Refused | None:
        if self.token is None:
            return Refused(403, f"commands are disabled: start with {DASHBOARD_TOKEN_ENV} set")
        if self.authenticated(headers):
            return None
        scheme, _, given = _header(headers, "Authorization").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return Refused(401, "operator token required")
        return Refused(401, "wrong operator token")
