"""Hostile bytes in the files the bot parses (kill-switch flag, paper venue state, instance lock
note) never raise out of the reader: deep nesting, oversized content, wrong JSON shapes, huge
numbers, a FIFO or a directory at the path (issue 12 review 1)."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.core.killswitch import parse_flag
from bot.errors import ExchangeUnavailable
from bot.exchange.paper import PaperExchange
from bot.exchange.venue import SimVenue, VenueParams
from bot.instance_lock import InstanceLock, InstanceLocked, lock_path_for
from bot.killswitch import FileKillSwitch
from bot.status_daemon import probe_lock

pytestmark = pytest.mark.unit

DEEP_LIST = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
# deep enough for the C decoder to overflow the C stack when a web3 import has raised the
# recursion limit to 100,000 (the reviewer's 'segfault' input)
VERY_DEEP = "[" * 80_000 + "]" * 80_000


@pytest.mark.parametrize("text", [DEEP_LIST, DEEP_OBJECT, VERY_DEEP], ids=["list", "obj", "80k"])
def test_deep_flag_file_is_freeze_with_the_cause(text: str) -> None:
    """A flag file of deeply nested JSON means freeze, saying why it was not read."""
    state = parse_flag(text, 5.0)
    assert state.mode == "freeze"
    assert state.source == "file"
    assert state.set_at_s == 5.0
    assert "kill switch file unreadable" in state.reason
    assert "nested deeper than" in state.reason or "bytes exceeds" in state.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"mode": "flatten", "set_at_s": 10**400}, ""),  # float(10**400) overflows
        ({"mode": "x" * 40_000}, "has mode 'xxx"),
        ({"mode": True, "reason": ["a"] * 3}, "has mode True"),
    ],
    ids=["huge-time", "huge-mode", "odd-types"],
)
def test_flag_object_with_hostile_values_never_raises(body: dict[str, object], reason: str) -> None:
    """Huge integers and strings in a flag object are kept bounded; the time falls back to
    the file's mtime when it is not a plausible unix time."""
    state = parse_flag(json.dumps(body), 7.0)
    assert state.engaged
    assert state.set_at_s == 7.0
    assert len(state.reason) <= 500
    assert reason in state.reason


def _deep_file(path: Path) -> None:
    path.write_text(DEEP_LIST)


def _huge_file(path: Path) -> None:
    path.write_text('{"mode": "flatten", "reason": "' + "x" * 70_000 + '"}')


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(
    ("plant", "reason"),
    [
        (_deep_file, "nested deeper than"),
        (_huge_file, "larger than"),
        (_fifo, "not a regular file"),
        (_directory, "not a regular file"),
    ],
    ids=["deep", "huge", "fifo", "directory"],
)
def test_flag_file_read_is_freeze_whatever_is_at_the_path(
    tmp_path: Path, plant: Callable[[Path], None], reason: str
) -> None:
    """FileKillSwitch.read (what the engine calls every tick) freezes, never raises or blocks."""
    path = tmp_path / "kill-switch"
    plant(path)
    state = FileKillSwitch(path, ManualClock(1.0)).read()
    assert state.mode == "freeze"
    assert reason in state.reason


@pytest.mark.parametrize(
    "note",
    [DEEP_LIST, DEEP_OBJECT, "[1, 2]", '{"pid": 1}', "\xff\xfe not utf-8"],
    ids=["deep-list", "deep-obj", "list", "partial", "bytes"],
)
def test_lock_note_unreadable_still_refuses_start_with_a_clean_message(
    tmp_path: Path, note: str
) -> None:
    """A held lock whose note is hostile: the second start is still refused, the holder
    'not recorded'; status sees a running daemon with no pid."""
    store = tmp_path / "s.sqlite"
    lock = lock_path_for(store)
    lock.write_bytes(note.encode("utf-8", "surrogateescape"))
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(InstanceLocked) as refused:
            InstanceLock.acquire(lock, "bot-a", f"store {store}")
        assert "another process (holder not recorded)" in str(refused.value)
        holder = probe_lock(lock)
        assert holder is not None  # running, whatever the note says
        assert holder["host"] is None
    finally:
        os.close(fd)


def test_lock_note_with_huge_values_is_named_bounded(tmp_path: Path) -> None:
    """A note whose fields are huge (a 1,500-digit pid, a 2,000-character host) is shown
    bounded."""
    lock = tmp_path / "x.lock"
    note = {"pid": 10**1500, "host": "h" * 2000, "started": "t", "bot_id": "b", "config": None}
    lock.write_text(json.dumps(note))
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(InstanceLocked) as refused:
            InstanceLock.acquire(lock, "bot-a", "store")
        assert "pid <int of" in str(refused.value)
        assert len(str(refused.value)) < 1000
        assert probe_lock(lock) == {"pid": None, "host": "h" * 64, "started": "t"}
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (DEEP_OBJECT, "nested deeper than"),
        (VERY_DEEP, "nested deeper than"),
        ("[1, 2]", "not a JSON object"),
        ('{"version": 1, "mark": "abc"}', "InvalidOperation"),
        ('{"version": 1, "mark": null}', "TypeError"),
        ('{"version": 1}', "KeyError"),
        (b"\xff\xfe", "not UTF-8"),
    ],
    ids=["deep", "80k", "list", "bad-decimal", "null", "missing", "bytes"],
)
def test_paper_state_unreadable_is_one_clean_error(
    tmp_path: Path, content: str | bytes, reason: str
) -> None:
    """A paper venue state file that is not a state this venue wrote: ExchangeUnavailable
    naming the file and the cause on one line, for start and read-only start alike."""
    path = tmp_path / "venue.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for read_only in (False, True):
        paper = PaperExchange(SimVenue(VenueParams(), ManualClock(1.0)), path)
        start = paper.start_read_only() if read_only else paper.start()
        with pytest.raises(ExchangeUnavailable) as refused:
            asyncio.run(start)
        message = str(refused.value)
        assert message.startswith(f"paper venue state {path} is unreadable: ")
        assert reason in message
        assert "\n" not in message
        assert len(message) < 400


def test_paper_state_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A FIFO at the state path is refused at once (an open would block the start)."""
    path = tmp_path / "venue.json"
    os.mkfifo(path)
    paper = PaperExchange(SimVenue(VenueParams(), ManualClock(1.0)), path)
    with pytest.raises(ExchangeUnavailable, match="not a regular file"):
        asyncio.run(paper.start_read_only())
