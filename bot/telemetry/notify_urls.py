"""Notification URLs as configuration: masked for logs (:func:`mask_notify_url`) and checked
before anything starts (:func:`alert_url_problems`, :func:`check_alerts`): an entry that is
blank, repeated, holds two URLs, names a port outside 1–65535, has nothing after
``scheme://`` or lacks what its service needs (an ntfy topic), or that apprise cannot parse,
is a config error naming the entry, never an alert lost later."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from bot.errors import ConfigError
from bot.safety import mask_url
from bot.telemetry.notify_settings import AlertsSettings, ResolvedTarget

__all__ = [
    "alert_url_problems",
    "check_alerts",
    "mask_notify_url",
    "mute_apprise",
    "url_problem",
]

# schemes whose host is a server, not a credential: shown as mask_url shows any URL
_HOSTED = frozenset(
    {"json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys", "http", "https"}
)
# schemes whose host is the server only when a path follows: ``ntfy://TOPIC`` (ntfy.sh) names
# the topic, the secret, where ``ntfy://server/TOPIC`` names the server
_HOST_IS_SECRET_WITHOUT_PATH = frozenset({"ntfy", "ntfys"})


def mask_notify_url(url: str) -> str:
    """A notification URL as logs may show it: scheme + host + port for webhook-style schemes
    (``json://host:port/…``, ``https://hooks.slack.com/…``, ``ntfy://server/…``:
    ``bot.safety.mask_url``, never user, password, path or query), only ``scheme://…`` for
    services whose host part is a token or a topic (``tgram://TOKEN/…``,
    ``discord://ID/TOKEN``, ``slack://A/B/C``, ``ntfy://TOPIC``, ``mailto://user:pw@host``),
    ``<url>`` for what is not a URL."""
    scheme = url.strip().split("://", 1)[0].lower() if "://" in url else ""
    if scheme in _HOST_IS_SECRET_WITHOUT_PATH:
        try:
            path = urlsplit(url.strip()).path
        except ValueError:
            return "<url>"
        if path in ("", "/"):
            return f"{scheme}://…"
    if scheme in _HOSTED:
        return mask_url(url)
    return f"{scheme}://…" if scheme.isalnum() else "<url>"


def mute_apprise() -> None:
    """apprise (and urllib3 under it) log URLs with their paths: none of it reaches our
    output; our own lines say what happened, masked."""
    for name in ("apprise", "urllib3"):
        logger = logging.getLogger(name)
        logger.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


def _apprise_problem(url: str) -> str | None:
    """What apprise says of ``url``: None when it makes exactly one target of it with what
    that target needs (an ntfy topic), else why not. No I/O."""
    import apprise

    mute_apprise()
    target = apprise.Apprise.instantiate(url)
    if target is None:
        return "is not a URL apprise can send to"
    client = apprise.Apprise()
    client.add(url)
    if len(client) != 1:
        return f"is {len(client)} URLs in one entry (give each its own entry)"
    if hasattr(target, "topics") and not target.topics:
        return "names no topic (ntfy://TOPIC or ntfy://server/TOPIC)"
    return None


def url_problem(url: str) -> str | None:
    """Why the notification URL ``url`` (stripped) can never send, or None: blank, holding
    whitespace (two URLs?), a port outside 1–65535, what apprise says
    (:func:`_apprise_problem`), or nothing after ``scheme://``. The text never shows the URL."""
    if not url:
        return "is blank (an unset shell variable?)"
    if any(char.isspace() for char in url):
        return "holds whitespace (two URLs in one entry? give each its own entry)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "has a port outside 1-65535 or a malformed host"
    if "://" not in url:
        return "is not a URL apprise can send to"
    if port is not None and not 0 < port < 65536:
        return "has a port outside 1-65535"
    problem = _apprise_problem(url)
    if problem is None and not parts.netloc:
        return "has nothing after scheme:// (no host, token or topic)"
    return problem


def alert_url_problems(settings: AlertsSettings, environ: Mapping[str, str]) -> list[str]:
    """One line per configured notification URL that can never send (:func:`url_problem`:
    ``tgram:/typo``, ``bogus://foo/bar``, ``ntfy://``, ``json://h/x json://h/y``) and per
    URL given twice (each alert would go out twice: both entries named), naming its entry
    (``alerts.urls.1``, from ``HEDGEBOT_ALERTS__URLS``; ``alerts.targets.0.url_env`` and the
    variable) and the URL masked (:func:`mask_notify_url`). Blank entries and unset
    ``url_env`` variables are ``AlertsSettings.resolve``'s to say."""
    problems = []
    named: list[tuple[str, str]] = []  # (entry, url) of every usable one
    for index, secret in enumerate(settings.urls):
        url = secret.get_secret_value().strip()
        if not url:
            continue  # blank: ``resolve`` names it, as an unset ``url_env``
        entry = f"alerts.urls.{index}"
        problem = url_problem(url)
        if problem is not None:
            shown = mask_notify_url(url)
            problems.append(f"{entry}: {shown} {problem} (entry {index} of HEDGEBOT_ALERTS__URLS)")
        else:
            named.append((entry, url))
    for index, target in enumerate(settings.targets):
        url = environ.get(target.url_env, "").strip()
        if not url:
            continue
        entry = f"alerts.targets.{index}.url_env"
        problem = url_problem(url)
        if problem is not None:
            problems.append(
                f"{entry}: {target.url_env} holds {mask_notify_url(url)}, which {problem}"
            )
        else:
            named.append((f"{entry} ({target.url_env})", url))
    first: dict[str, str] = {}
    for entry, url in named:
        if url in first:
            problems.append(
                f"{entry}: the same URL as {first[url]} ({mask_notify_url(url)}): every alert "
                "would be sent twice; give it once"
            )
        else:
            first[url] = entry
    return problems


def check_alerts(settings: AlertsSettings, environ: Mapping[str, str]) -> list[ResolvedTarget]:
    """Every configured notification target, checked: ``ConfigError`` naming each entry
    whose ``url_env`` is unset or whose URL can never send or repeats another
    (:func:`alert_url_problems`), so a typo is refused at ``check-config`` and at start, not
    lost with the first alert."""
    problems = alert_url_problems(settings, environ)
    targets: list[ResolvedTarget] = []
    try:
        targets = settings.resolve(environ)
    except ConfigError as exc:
        problems = [*str(exc).splitlines(), *problems]
    if problems:
        raise ConfigError("\n".join(problems))
    return targets
