"""A log stream that cannot be written never raises into the code that logs (issue 12 review:
``hedgebot run | head`` hung the daemon): it closes once, drops later lines and tells whoever
asked (the daemon stops)."""

from __future__ import annotations

import contextlib
import io
import os

import structlog

from bot.logging import LogStream, configure_logging


class _Broken(io.StringIO):
    """A stream whose reader went away: every write is EPIPE."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_closes_the_stream_once_and_logging_goes_on() -> None:
    broken = _Broken()
    stream = configure_logging("info", "json", file=broken)
    reasons: list[str] = []
    stream.on_closed(reasons.append)
    log = structlog.get_logger("test")
    log.info("first")  # raised BrokenPipeError into the caller before
    log.info("second")
    log.error("third", error="x")
    assert stream.closed_reason == "EPIPE: Broken pipe"
    assert reasons == ["EPIPE: Broken pipe"]  # told once
    assert broken.writes == 1  # later lines dropped, not retried
    late: list[str] = []
    stream.on_closed(late.append)  # asked after the close: told at once
    assert late == ["EPIPE: Broken pipe"]


def test_a_real_pipe_whose_reader_exited() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    writer = os.fdopen(write_end, "w")
    try:
        stream = configure_logging("info", "json", file=writer)
        structlog.get_logger("test").info("nobody reads this")
        assert stream.closed_reason == "EPIPE: Broken pipe"
        stream.flush()  # a flush after the close does not raise either
    finally:
        with contextlib.suppress(BrokenPipeError):  # the line still buffered in ``writer``
            writer.close()


def test_a_closed_file_closes_the_stream() -> None:
    closed = io.StringIO()
    closed.close()
    stream = configure_logging("info", "console", file=closed)
    structlog.get_logger("test").warning("into a closed file")
    assert stream.closed_reason is not None
    assert stream.closed_reason.startswith("ValueError: I/O operation on closed file")
    assert not stream.isatty()


def test_a_working_stream_writes_every_line() -> None:
    sink = io.StringIO()
    stream = LogStream(sink)
    called: list[str] = []
    stream.on_closed(called.append)
    assert stream.write("one\n") == 4
    stream.flush()
    assert sink.getvalue() == "one\n"
    assert stream.closed_reason is None
    assert called == []
