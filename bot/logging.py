"""structlog setup: JSON lines in production, pretty in a terminal; secrets never logged."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from decimal import Decimal
from typing import Any, Literal, TextIO

import structlog

from bot.display import fmt_for_key
from bot.safety import bounded_log_values, describe_exc, mask_url

_SECRET_KEYS = ("secret", "password", "api_key", "private_key", "apikey", "signature")
# ``scheme://user:password@`` anywhere in a text: the credentials are never shown. Repeats are
# bounded: an unbounded scheme made a 100 KB run of letters cost 17 s (quadratic backtracking)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,31}://)[^/@\s]{1,1024}@")


def redact_secrets(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace values of secret-looking keys with ``**********``."""
    for key in list(event_dict):
        if any(part in key.lower() for part in _SECRET_KEYS):
            event_dict[key] = "**********"
    return event_dict


class UrlMasker:
    """Replace every configured secret-bearing URL in any text with its masked form.

    The last line of defence: adapters should log ``mask_url(url)`` themselves, but an
    exception text or a library message may still carry the full URL (an RPC key in its
    path). ``urls`` are the exact configured URLs (RPC, MQTT, venue overrides); URLs without
    anything to hide are left alone. Any ``user:password@`` in a URL is also removed.
    """

    def __init__(self, urls: Iterable[str]) -> None:
        secret = {u.strip() for u in urls if u.strip() and mask_url(u) != u.strip()}
        # also the form without a trailing slash, as libraries often print it
        secret |= {u.rstrip("/") for u in secret if u.rstrip("/")}
        self._urls = sorted(secret, key=len, reverse=True)

    def text(self, value: str) -> str:
        """``value`` with every secret URL masked."""
        for url in self._urls:
            if url in value:
                value = value.replace(url, mask_url(url))
        return _USERINFO.sub(r"\g<scheme>…@", value)

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list | tuple):
            return type(value)(self._value(item) for item in value)
        if isinstance(value, dict):
            return {key: self._value(item) for key, item in value.items()}
        if isinstance(value, BaseException):
            return self.text(describe_exc(value, limit=1_000_000))  # bounded after masking
        return value

    def __call__(
        self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """structlog processor: mask every value of the event (after exceptions are text)."""
        for key in list(event_dict):
            event_dict[key] = self._value(event_dict[key])
        return event_dict


class _ConsoleDisplay:
    """What the console format knows of the market: the venue's amount step once read."""

    base_step: Decimal | None = None


def set_console_base_step(step: Decimal | None) -> None:
    """Round base amounts in console log lines to the venue's amount ``step`` (``0.001``:
    3 decimals, as ``status`` and ``snapshot`` show them); None: ``DEFAULT_BASE_STEP`` (4
    decimals) until the market is known. Set by ``bot.app`` once the venue has started;
    :func:`configure_logging` resets it. JSON lines are never rounded."""
    _ConsoleDisplay.base_step = step


def display_numbers(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Console format only: ``*_base``, ``*_quote`` and price values rounded for display as
    in ``snapshot`` and ``report`` (``bot.display``; base to the venue step given to
    :func:`set_console_base_step`); JSON lines keep exact values."""
    step = _ConsoleDisplay.base_step
    for key in list(event_dict):
        event_dict[key] = fmt_for_key(key, event_dict[key], step)
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write, so a replaced stderr
    (a test's capture, a daemon's redirect) never leaves the logger on a closed stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(
    level: str = "info",
    fmt: Literal["json", "console", "auto"] = "auto",
    secret_urls: Iterable[str] = (),
    file: TextIO | None = None,
) -> None:
    """Route structlog to stderr (or ``file``, e.g. the demo's ``demo.log``), one event per
    line; ``secret_urls`` are masked wherever they appear in an event (see
    :class:`UrlMasker`). The console format rounds numbers for display (:func:`display_numbers`)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    set_console_base_step(None)  # the market is not known yet
    stream: Any = _CurrentStderr() if file is None else file
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    display: list[Any] = [] if use_json else [display_numbers]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            UrlMasker(secret_urls),
            bounded_log_values,
            *display,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
