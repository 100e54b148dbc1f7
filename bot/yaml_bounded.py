"""YAML from users, parsed within bounds: size, nesting depth and aliases expanded.

PyYAML composes and constructs nodes recursively, so ``chain:`` followed by 1,500 ``[`` was a
``RecursionError`` traceback (issue 12 review 2 item 3), and a few anchors that alias each
other nine times over ("billion laughs") stand for 9**9 values that validation would walk.
:func:`safe_load_bounded` first walks the event stream (PyYAML's parser is iterative) counting
depth and the nodes aliases expand to, and only then loads the document with ``SafeLoader``.
Every YAML the bot reads from a user goes through it (the config: ``bot.config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError

__all__ = [
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "load_yaml_mapping",
    "safe_load_bounded",
]

MAX_YAML_BYTES = 1 << 20  # a config of a hundred chains and positions is under 100 KB
MAX_YAML_DEPTH = 64  # the deepest real config section is about 6 levels
MAX_YAML_NODES = 100_000  # values, with every alias counted as the values it stands for


@dataclass
class _Open:
    """A collection being read: its anchor, the node count when it opened, its height so far
    (1: empty; a scalar child adds nothing, a collection child of height h makes it h + 1)."""

    anchor: str | None
    nodes_at_start: int
    height: int = 1


@dataclass
class _Walk:
    """What the event walk has seen: open collections, values counted (aliases expanded),
    each anchor's (values, height)."""

    source: Path | str
    stack: list[_Open] = field(default_factory=list)
    anchors: dict[str, tuple[int, int]] = field(default_factory=dict)
    nodes: int = 0

    def open(self, event: yaml.CollectionStartEvent) -> None:
        self.stack.append(_Open(event.anchor, self.nodes))
        self.count(1, len(self.stack), event)

    def close(self) -> None:
        done = self.stack.pop()
        if self.stack:
            self.stack[-1].height = max(self.stack[-1].height, done.height + 1)
        if done.anchor is not None:
            self.anchors[done.anchor] = (self.nodes - done.nodes_at_start, done.height)

    def value(self, nodes: int, height: int, event: yaml.Event, anchor: str | None = None) -> None:
        """A scalar (1 value, height 0) or an alias (its anchor's values and height)."""
        if self.stack:
            self.stack[-1].height = max(self.stack[-1].height, height + 1)
        self.count(nodes, len(self.stack) + height, event)
        if anchor is not None:
            self.anchors[anchor] = (nodes, height)

    def count(self, nodes: int, depth: int, event: yaml.Event) -> None:
        """Add ``nodes`` values reaching nesting level ``depth`` (top-level collection: 1)."""
        self.nodes += nodes
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(
                f"{self.source}: YAML nested deeper than {MAX_YAML_DEPTH} levels{_where(event)}"
            )
        if self.nodes > MAX_YAML_NODES:
            raise ConfigError(
                f"{self.source}: YAML stands for more than {MAX_YAML_NODES} values once its "
                f"aliases are expanded{_where(event)}"
            )


def safe_load_bounded(text: str, source: Path | str) -> Any:
    """``yaml.safe_load(text)`` for text read from ``source`` (named in errors).

    Raises ``ConfigError`` (one line naming ``source``) when ``text`` is over
    ``MAX_YAML_BYTES`` UTF-8 bytes, nests deeper than ``MAX_YAML_DEPTH`` (aliases count at the
    depth they expand to) or stands for more than ``MAX_YAML_NODES`` values once aliases are
    expanded; ``yaml.YAMLError`` for text that is not YAML (as ``yaml.safe_load``).
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"{source}: {size} bytes, over the limit of {MAX_YAML_BYTES} for YAML")
    try:
        _check_shape(text, source)
        return yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply to read") from None


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """The mapping at the top of the YAML file ``path`` (an empty file: ``{}``).

    At most ``MAX_YAML_BYTES`` + 1 bytes are read, so a huge file (or an endless one such as
    ``/dev/zero``) is refused without reading it whole. Raises ``ConfigError`` (one line naming
    ``path``) when the file cannot be read, is not UTF-8, is over the size, depth or expanded
    size bounds of :func:`safe_load_bounded`, is not YAML, or its top level is not a mapping.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: over the limit of {MAX_YAML_BYTES} bytes for YAML")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        data = safe_load_bounded(text, path) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def _check_shape(text: str, source: Path | str) -> None:
    """Walk the events (no recursion): depth and expanded size within bounds, or
    ``ConfigError``."""
    walk = _Walk(source)
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            walk.open(event)
        elif isinstance(event, yaml.CollectionEndEvent):
            walk.close()
        elif isinstance(event, yaml.AliasEvent):
            nodes, height = walk.anchors.get(event.anchor or "", (1, 0))
            walk.value(nodes, height, event)
        elif isinstance(event, yaml.ScalarEvent):
            walk.value(1, 0, event, event.anchor)


def _where(event: yaml.Event) -> str:
    mark = event.start_mark
    return "" if mark is None else f" (line {mark.line + 1}, column {mark.column + 1})"
