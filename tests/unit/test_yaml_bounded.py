"""YAML from users is parsed within bounds (issue 12 review 2 item 3): ``chain:`` followed by
1,500 ``[`` was a RecursionError traceback from ``check-config``, ``status``, ``kill status``
and ``run``; now exit 2 naming the file, as for any config error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from bot import cli
from bot.errors import ConfigError
from bot.yaml_bounded import (
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    load_yaml_mapping,
    safe_load_bounded,
)

pytestmark = pytest.mark.unit

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def _nested(levels: int) -> str:
    """A mapping whose ``chain`` holds ``levels - 1`` nested flow lists (``levels`` deep)."""
    inner = levels - 1
    return "bot_id: x\nchain: " + "[" * inner + "]" * inner + "\n"


def test_a_config_at_the_depth_limit_loads() -> None:
    """64 levels (the top mapping and 63 lists) is read as yaml.safe_load reads it."""
    text = _nested(MAX_YAML_DEPTH)
    assert safe_load_bounded(text, "c.yaml") == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_nested(MAX_YAML_DEPTH + 1), f"YAML nested deeper than {MAX_YAML_DEPTH} levels (line 2"),
        (_nested(1_500), f"YAML nested deeper than {MAX_YAML_DEPTH} levels"),
        (_nested(80_000), f"YAML nested deeper than {MAX_YAML_DEPTH} levels"),
        (
            "a:\n" + "".join(" " * i + "-\n" for i in range(1, 200)),
            f"YAML nested deeper than {MAX_YAML_DEPTH} levels",
        ),
        (
            "".join(" " * i + "k:\n" for i in range(200)),
            f"YAML nested deeper than {MAX_YAML_DEPTH} levels",
        ),
        (  # an alias counts at the depth it expands to
            "a: &x " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*x" + "]" * 30 + "\n",
            f"YAML nested deeper than {MAX_YAML_DEPTH} levels (line 2",
        ),
        (LAUGHS, f"more than {MAX_YAML_NODES} values once its aliases are expanded"),
        ("a: " + "x" * MAX_YAML_BYTES, f"over the limit of {MAX_YAML_BYTES} for YAML"),
    ],
    ids=["65 deep", "1500 deep", "80000 deep", "block list", "block map", "alias", "laughs", "big"],
)
def test_hostile_yaml_is_a_config_error_naming_the_file(text: str, reason: str) -> None:
    """Too deep (directly or through an alias), too many values once aliases expand, or too
    large: one ConfigError line naming the file and why, whatever the recursion limit."""
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)  # what py_ecc sets at import: no C stack overflow either
    try:
        with pytest.raises(ConfigError) as refused:
            safe_load_bounded(text, Path("/etc/hb/c.yaml"))
    finally:
        sys.setrecursionlimit(saved)
    message = str(refused.value)
    assert message.startswith("/etc/hb/c.yaml: "), message
    assert reason in message
    assert "\n" not in message


def test_aliases_within_bounds_load_as_safe_load() -> None:
    """Anchors, aliases and merge keys a real config may use load unchanged."""
    text = "base: &b {fee_bps: 5, band: [1, 2]}\nx: *b\ny: {<<: *b, fee_bps: 6}\n"
    assert safe_load_bounded(text, "c.yaml") == yaml.safe_load(text)


def test_yaml_syntax_errors_stay_yaml_errors() -> None:
    """Text that is not YAML raises yaml.YAMLError, which the config loader names as before."""
    with pytest.raises(yaml.YAMLError):
        safe_load_bounded("a: [\n", "c.yaml")


@pytest.mark.parametrize(
    "argv",
    [
        ["check-config", "{cfg}"],
        ["status", "--config", "{cfg}"],
        ["kill", "--config", "{cfg}", "status"],
        ["run", "--config", "{cfg}"],
    ],
    ids=lambda argv: argv[0],
)
def test_commands_refuse_a_deeply_nested_config_with_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """``chain:`` then 1,500 ``[``: exit 2, the file named with the reason, no traceback."""
    monkeypatch.setenv("HEDGEBOT_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("MQTT_URL", raising=False)
    config = tmp_path / "deep.yaml"
    config.write_text(_nested(1_501))
    argv = [str(config) if a == "{cfg}" else a for a in argv]
    try:
        code = cli.main(argv)
    except SystemExit as exited:
        code = exited.code  # type: ignore[assignment]
    _out, err = capsys.readouterr()
    assert code == 2, err
    assert f"{config}: YAML nested deeper than {MAX_YAML_DEPTH} levels (line 2" in err
    assert "Traceback" not in err
    assert "RecursionError" not in err


def test_a_huge_config_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    """A 4 GiB (sparse) config file and an endless one are refused after reading 1 MiB + 1
    byte: a size over the limit is said, nothing is read past it."""
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:
        handle.truncate(4 << 30)
    for path in (huge, Path("/dev/zero")):
        with pytest.raises(ConfigError) as refused:
            load_yaml_mapping(path)
        assert str(refused.value) == f"{path}: over the limit of {MAX_YAML_BYTES} bytes for YAML"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"a: [1\n", "not valid YAML"),
        (b"- 1\n- 2\n", "top level must be a mapping"),
        (b"a: \xff\n", "not UTF-8 text (byte 3)"),
    ],
    ids=["syntax", "list", "bytes"],
)
def test_a_config_file_that_is_no_mapping_is_one_line_naming_it(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as refused:
        load_yaml_mapping(path)
    assert str(refused.value).startswith(f"{path}: {reason}")


def test_a_config_file_within_bounds_is_its_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("bot_id: x\nhedge: {ratio: '0.5'}\n")
    assert load_yaml_mapping(path) == {"bot_id": "x", "hedge": {"ratio": "0.5"}}
    path.write_text("")
    assert load_yaml_mapping(path) == {}
