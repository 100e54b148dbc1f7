"""Who may reach a dashboard (issue 18 review 2 items 3, 7, 8): extra allowed Host values
(a port mapping, a service name), /metrics and /healthz open to any Host, reading behind a
login beyond loopback, commands from an https:// origin, and tokens a header cannot carry."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.errors import ConfigError
from bot.telemetry.dashboard.security import (
    SESSION_COOKIE,
    CommandGate,
    allowed_host_entries,
    token_from_env,
)
from bot.telemetry.settings import MetricsSettings

pytestmark = pytest.mark.unit

TOKEN = "t" * 24
ALLOWED = frozenset({"127.0.0.1:9111", "hedgebot-a.internal"})


def _command(host: str, origin: str, **extra: str) -> dict[str, str]:
    return {
        "Host": host,
        "Origin": origin,
        "Content-Type": "application/json",
        "X-CSRF-Token": "csrf-1",
        "Authorization": f"Bearer {TOKEN}",
        **extra,
    }


def test_a_mapped_port_is_refused_by_default_and_served_when_allowed() -> None:
    """docker-compose publishes 127.0.0.1:9111 -> 9108: refused (421) unless listed; a name
    listed without a port is served on any port; names not listed stay refused."""
    default = CommandGate(token=TOKEN, port=9108)
    listed = CommandGate(token=TOKEN, port=9108, allowed=ALLOWED)
    refused = default.read_refusal({"Host": "127.0.0.1:9111"}, "/")
    assert refused is not None
    assert refused.status == 421
    for host in ("127.0.0.1:9111", "hedgebot-a.internal", "hedgebot-a.internal:8080"):
        assert listed.read_refusal({"Host": host}, "/api/state") is None, host
    for host in ("127.0.0.1:9112", "hedgebot-b.internal", "evil.hedgebot-a.internal"):
        answer = listed.read_refusal({"Host": host}, "/")
        assert answer is not None, host
        assert answer.status == 421


@pytest.mark.parametrize("path", ["/metrics", "/healthz"])
def test_metrics_and_healthz_answer_any_host(path: str) -> None:
    """Prometheus scrapes by service name: nothing is refused for the read-only routes, not
    even behind the login; every other route still is."""
    gate = CommandGate(token=TOKEN, port=9108, login_required=True)
    for host in ("hedgebot-a.monitoring.svc:9108", "evil.example", ""):
        assert gate.read_refusal({"Host": host}, path) is None
    refused = gate.read_refusal({"Host": "evil.example"}, "/api/state")
    assert refused is not None
    assert refused.status == 421


def test_allowed_host_entries_are_checked_and_named() -> None:
    """host, host:port, ip:port and [v6]:port pass (lower-cased); a scheme, a path, a space
    or a port out of range is a config error naming the entry."""
    assert allowed_host_entries(["Dash.Example", "[fd00::5]:9108"], "x") == frozenset(
        {"dash.example", "[fd00::5]:9108"}
    )
    for index, bad in enumerate(["http://a", "a/b", "a b", "a:0", "a:65536", "", ":9"]):
        with pytest.raises(ConfigError, match=rf"^metrics.allowed_hosts.{index}: "):
            allowed_host_entries(["ok.example"] * index + [bad], "metrics.allowed_hosts")
    with pytest.raises(ValueError, match="allowed_hosts"):
        MetricsSettings(allowed_hosts=["http://127.0.0.1:9111"])
    assert MetricsSettings(allowed_hosts=["127.0.0.1:9111"]).allowed_hosts == ["127.0.0.1:9111"]


def test_reading_beyond_loopback_needs_the_token_or_the_session() -> None:
    """login_required: no token -> 401 on the page and the API; the bearer token or the
    session cookie passes; /login itself is reachable; on loopback reading stays open."""
    gate = CommandGate(token=TOKEN, port=9108, login_required=True, session="s-1")
    host = {"Host": "10.0.0.5:9108"}
    for path in ("/", "/api/state", "/api/fleet", "/api/stream", "/static/bot.js"):
        refused = gate.read_refusal(host, path)
        assert refused is not None
        assert refused.status == 401
    assert gate.read_refusal(host, "/login") is None
    assert gate.read_refusal({**host, "Authorization": f"Bearer {TOKEN}"}, "/") is None
    cookie = {**host, "Cookie": f"other=1; {SESSION_COOKIE}=s-1"}
    assert gate.read_refusal(cookie, "/api/state") is None
    wrong = gate.read_refusal({**host, "Cookie": f"{SESSION_COOKIE}=s-2"}, "/")
    assert wrong is not None
    assert wrong.status == 401
    assert CommandGate(token=TOKEN, port=9108).read_refusal(host, "/") is None


def test_a_logged_in_page_commands_without_retyping_the_token() -> None:
    """The session cookie stands for the token on a command (CSRF and Origin still
    checked)."""
    gate = CommandGate(token=TOKEN, port=9108, csrf_token="csrf-1", session="s-1")
    headers = _command("127.0.0.1:9108", "http://127.0.0.1:9108", Authorization="")
    refused = gate.refusal(headers)
    assert refused is not None
    assert refused.status == 401
    assert gate.refusal({**headers, "Cookie": f"{SESSION_COOKIE}=s-1"}) is None
    no_csrf = gate.refusal({**headers, "Cookie": f"{SESSION_COOKIE}=s-1", "X-CSRF-Token": ""})
    assert no_csrf is not None
    assert no_csrf.status == 403


def test_commands_from_an_https_origin_of_an_allowed_host_pass() -> None:
    """Behind a TLS proxy the Origin is https://name: allowed when the name is served; a
    foreign or non-http(s) origin is refused; the IP-literal leniency of Host is not Origin's."""
    gate = CommandGate(token=TOKEN, port=9108, csrf_token="csrf-1", allowed=ALLOWED)
    ok = [
        ("hedgebot-a.internal", "https://hedgebot-a.internal"),
        ("127.0.0.1:9108", "https://hedgebot-a.internal"),  # a proxy rewriting Host
        ("127.0.0.1:9111", "https://127.0.0.1:9111"),
        ("127.0.0.1:9108", "https://127.0.0.1:9108"),
        ("127.0.0.1:9108", "http://127.0.0.1:9108"),
    ]
    for host, origin in ok:
        assert gate.refusal(_command(host, origin)) is None, (host, origin)
    bad = [
        ("hedgebot-a.internal", "https://evil.example"),
        ("hedgebot-a.internal", "ftp://hedgebot-a.internal"),
        ("hedgebot-a.internal", "null"),
        ("10.0.0.5:9108", "https://10.0.0.6:9108"),
        ("hedgebot-a.internal", "https://hedgebot-a.internal/x"),
    ]
    for host, origin in bad:
        refused = gate.refusal(_command(host, origin))
        assert refused is not None, (host, origin)
        assert refused.status == 403


@pytest.mark.parametrize(
    "token",
    [" " * 16, "\t" * 20, " " + "k" * 20, "k" * 20 + " ", "k" * 10 + " " + "k" * 10, "é" * 20],
)
def test_a_token_no_header_can_carry_is_refused(token: str) -> None:
    """Blank, whitespace anywhere or non-ASCII: a config error at start (exit 2), never a
    token that looks set but can never match."""
    with pytest.raises(ConfigError, match="printable ASCII with no spaces"):
        token_from_env({"HEDGEBOT_DASHBOARD_TOKEN": token})
    assert token_from_env({"HEDGEBOT_DASHBOARD_TOKEN": "k" * 20}) == "k" * 20


def test_the_fleet_dashboard_with_a_blank_token_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``hedgebot dashboard`` with ``HEDGEBOT_DASHBOARD_TOKEN`` of 16 spaces stops before
    binding anything (it started before), naming the variable."""
    monkeypatch.setenv("HEDGEBOT_DASHBOARD_TOKEN", " " * 16)
    assert main(["dashboard", "--mqtt-url", "mqtt://127.0.0.1:1", "--port", "0"]) == 2
    assert "HEDGEBOT_DASHBOARD_TOKEN must be printable ASCII" in capsys.readouterr().err
