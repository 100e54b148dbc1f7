"""structlog setup: JSON lines in production, pretty in a terminal; secrets never logged."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, MutableMapping
from decimal import Decimal
from typing import Any, Literal, TextIO, cast

import structlog

from bot.display import fmt_for_key
from bot.errors import HedgebotError
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


class LogStreamClosed(HedgebotError):
    """The log stream could not be written (its reader went away: EPIPE, or any ``OSError``
    of the stream); the daemon stopped after its current tick instead of running unlogged."""


class LogStream:
    """Where log lines go: ``file``, or whatever ``sys.stderr`` is at the time of each write
    (a test's capture, a daemon's redirect, never a closed stream left behind).

    A write never raises into the code that logs. The first write or flush that fails
    (``BrokenPipeError`` when the reader of a pipe exited, any other ``OSError``, or
    ``ValueError`` for a closed file) closes the stream for good: later lines are dropped,
    ``closed_reason`` says why (e.g. ``"EPIPE: Broken pipe"``) and every callback given to
    :meth:`on_closed` runs once, from the thread that logged. A broken ``stderr``/``stdout``
    is pointed at ``/dev/null`` so the interpreter's own flush at exit cannot fail again.
    """

    def __init__(self, file: TextIO | None = None) -> None:
        self._file = file
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[str], None]] = []
        self.closed_reason: str | None = None

    def _target(self) -> TextIO:
        target = sys.stderr if self._file is None else self._file
        if target is None:  # started with descriptor 2 closed (``2>&-``)
            raise ValueError("stderr is closed")
        return target

    def write(self, text: str) -> int:
        """Write ``text`` (characters written); after a failure, drop it."""
        if self.closed_reason is None:
            try:
                self._target().write(text)
            except (OSError, ValueError) as exc:
                self._close(exc)
        return len(text)

    def flush(self) -> None:
        """Flush the target; a failure closes the stream (never raises)."""
        if self.closed_reason is None:
            try:
                self._target().flush()
            except (OSError, ValueError) as exc:
                self._close(exc)

    def isatty(self) -> bool:
        """Whether the target is a terminal (False once closed or unreadable)."""
        try:
            return self.closed_reason is None and self._target().isatty()
        except (OSError, ValueError):
            return False

    def on_closed(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` when the stream closes; at once if it already has."""
        with self._lock:
            reason = self.closed_reason
            if reason is None:
                self._callbacks.append(callback)
        if reason is not None:
            callback(reason)

    def _close(self, exc: BaseException) -> None:
        with self._lock:
            if self.closed_reason is not None:
                return
            self.closed_reason = _stream_error(exc)
            callbacks, self._callbacks = self._callbacks, []
        target = sys.stderr if self._file is None else self._file
        _silence_broken_std_stream(target)
        _tell_stderr(f"hedgebot: log stream closed ({self.closed_reason}): stopping\n", target)
        for callback in callbacks:
            callback(self.closed_reason)


def _stream_error(exc: BaseException) -> str:
    """``"EPIPE: Broken pipe"`` for an ``OSError`` with an errno, else the exception described."""
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        return f"{name}: {exc.strerror or describe_exc(exc)}"
    return describe_exc(exc)


def _silence_broken_std_stream(target: Any) -> None:
    """Point the descriptor of a broken ``sys.stderr``/``sys.stdout`` at ``/dev/null``: the
    reader is gone, and the interpreter flushes both at exit (a second ``BrokenPipeError``,
    exit code 120, and a traceback nobody can read)."""
    if target not in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__):
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, target.fileno())
        finally:
            os.close(devnull)


def _tell_stderr(line: str, broken: Any) -> None:
    """One line on ``sys.stderr`` when it is not the stream that broke (else nowhere)."""
    if broken is sys.stderr:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):  # AttributeError: None
        sys.stderr.write(line)
        sys.stderr.flush()


def configure_logging(
    level: str = "info",
    fmt: Literal["json", "console", "auto"] = "auto",
    secret_urls: Iterable[str] = (),
    file: TextIO | None = None,
) -> LogStream:
    """Route structlog to stderr (or ``file``, e.g. the demo's ``demo.log``), one event per
    line; ``secret_urls`` are masked wherever they appear in an event (see
    :class:`UrlMasker`). The console format rounds numbers for display (:func:`display_numbers`).

    Returns the :class:`LogStream`: logging never raises when it cannot be written (a closed
    pipe), and ``on_closed`` tells the caller (the daemon stops, exit 1)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    set_console_base_step(None)  # the market is not known yet
    stream = LogStream(file)
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
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", stream)),
        cache_logger_on_first_use=False,
    )
    return stream
