"""One rule for numbers typed as text (issue 11 item 8, second review): ASCII decimal notation
in the config (YAML text and environment variables), MQTT command params and ``hedgebot cmd
--param``, as the backtest CSV already had. pydantic read ``"0.2_5"`` as 0.25, ``"٠.٥"``
(Arabic-Indic digits) as 0.5, ``"１"`` (full width) as 1 and ``" 1 "`` as 1."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import EXIT_CONFIG, main
from bot.config import load_config
from bot.errors import ConfigError
from bot.number_text import is_ascii_number
from bot.telemetry.commands import Rejection, SetHedgeRatio, SetThreshold, parse_command

pytestmark = pytest.mark.unit

PAPER = Path(__file__).parents[2] / "config" / "paper.yaml"
LOOSE = ["0.2_5", "٠.٥", "１", " 1 ", "1 ", "\t0.5", "0.5\n", "1_000", "⁵", "0,5", "1e_3"]
DECIMAL_TOOK = ["0.2_5", "٠.٥", "１", " 1 ", "1 ", "\t0.5", "0.5\n", "0.00_1"]  # pydantic's reads
ASCII = ["0.25", "1e-3", "-1", "+0.5", ".5", "1.", "2E+1", "0"]
REFUSED = "not a number in ASCII decimal notation"


def test_the_rule() -> None:
    """Sign, ASCII digits, optional point, optional exponent; nothing else."""
    assert all(is_ascii_number(text) for text in ASCII)
    assert not any(is_ascii_number(text) for text in [*LOOSE, "", ".", "e3", "nan", "inf"])


def config_with(tmp_path: Path, section: str, field: str, value: Any) -> Path:
    data = yaml.safe_load(PAPER.read_text())
    data[section] = {**(data.get(section) or {}), field: value}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


# text pydantic alone reads as a number, per field type: a Decimal (hedge.ratio, risk), a
# float (chain) and an int (exchange) field of the config
PYDANTIC_TOOK = [
    *[("hedge", "ratio", text) for text in ("0.2_5", "٠.٥", "１", " 1 ", "\t0.5", "0.5\n")],
    *[("risk", "liquidation_critical_distance_pct", t) for t in ("1_0", " 10 ", "١٠")],
    *[("chain", "poll_interval_s", text) for text in ("2_0", " 2 ", "2.0\n")],
    *[("exchange", "leverage", text) for text in (" 3 ", "1_0", "3\t")],
]


@pytest.mark.parametrize(("section", "field", "text"), PYDANTIC_TOOK)
def test_loose_text_in_the_config_file_is_refused_naming_the_field(
    tmp_path: Path, section: str, field: str, text: str
) -> None:
    """Text pydantic read as a number (underscores, other digits, spaces), in a Decimal,
    float or int field: ConfigError naming the field and the rule."""
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(tmp_path, section, field, text), require_secrets=False)
    assert f"{section}.{field}: {REFUSED}" in str(caught.value)


@pytest.mark.parametrize("text", LOOSE)
def test_every_loose_spelling_is_refused_naming_the_field(tmp_path: Path, text: str) -> None:
    """Each loose spelling in hedge.ratio is refused naming it (by the rule, or by the
    field's range when it reads past it: "1_000")."""
    with pytest.raises(ConfigError, match=r"hedge\.ratio: "):
        load_config(config_with(tmp_path, "hedge", "ratio", text), require_secrets=False)


@pytest.mark.parametrize(
    ("value", "expected"), [("0.25", "0.25"), ("1e-3", "0.001"), (0.25, "0.25"), (1, "1")]
)
def test_ascii_text_and_yaml_numbers_still_load(tmp_path: Path, value: Any, expected: str) -> None:
    """Plain text and YAML numbers (not text) load as before."""
    settings = load_config(config_with(tmp_path, "hedge", "ratio", value), require_secrets=False)
    assert str(settings.hedge.ratio) == expected


def test_signed_text_loads_where_the_field_allows_it(tmp_path: Path) -> None:
    """ "-1" where a negative value is allowed (the paper venue's basis, a section deeper) is
    taken; "-1_0" there is refused naming exchange.paper.basis_bps."""
    paper = {"basis_bps": "-1", "funding_rate": "-0.0001"}
    settings = load_config(config_with(tmp_path, "exchange", "paper", paper), require_secrets=False)
    assert (settings.exchange.paper.basis_bps, settings.exchange.paper.funding_rate) == (
        Decimal(-1),
        Decimal("-0.0001"),
    )
    path = config_with(tmp_path, "exchange", "paper", {"basis_bps": "-1_0"})
    with pytest.raises(ConfigError, match=rf"exchange\.paper\.basis_bps: {REFUSED}"):
        load_config(path, require_secrets=False)


@pytest.mark.parametrize("text", DECIMAL_TOOK)
def test_loose_text_in_an_env_var_is_exit_2_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """HEDGEBOT_HEDGE__RATIO with a loose spelling: check-config exits 2 naming hedge.ratio."""
    monkeypatch.setenv("HEDGEBOT_HEDGE__RATIO", text)
    assert main(["check-config", str(PAPER)]) == EXIT_CONFIG
    assert f"hedge.ratio: {REFUSED}" in " ".join(capsys.readouterr().err.split())


def test_ascii_text_in_an_env_var_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """HEDGEBOT_HEDGE__RATIO=0.25 is the ratio 0.25."""
    monkeypatch.setenv("HEDGEBOT_HEDGE__RATIO", "0.25")
    assert str(load_config(PAPER, require_secrets=False).hedge.ratio) == "0.25"


def command(name: str, params: dict[str, Any]) -> Any:
    return parse_command(json.dumps({"id": "n-1", "command": name, "params": params}))


@pytest.mark.parametrize("text", DECIMAL_TOOK)
def test_loose_text_in_an_mqtt_command_is_refused_naming_the_param(text: str) -> None:
    """set_hedge_ratio value / set_threshold base and fraction as loose text: refused, named."""
    for name, field in (
        ("set_hedge_ratio", "value"),
        ("set_threshold", "base"),
        ("set_threshold", "fraction"),
    ):
        verdict = command(name, {field: text})
        assert isinstance(verdict, Rejection), (name, field, text)
        assert f"params.{field}: {REFUSED}" in verdict.reason


def test_ascii_text_and_json_numbers_in_an_mqtt_command_are_taken() -> None:
    """ "0.25", 0.25 and "1e-3" are the values they say."""
    for value, expected in (("0.25", "0.25"), (0.25, "0.25"), ("1e-3", "0.001")):
        verdict = command("set_hedge_ratio", {"value": value})
        assert isinstance(verdict, SetHedgeRatio)
        assert str(verdict.params.value) == expected
    verdict = command("set_threshold", {"base": "1e-3"})
    assert isinstance(verdict, SetThreshold)
    assert str(verdict.params.base) == "0.001"


@pytest.mark.parametrize("text", DECIMAL_TOOK)
def test_loose_text_in_cmd_param_is_exit_2_naming_the_param(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """hedgebot cmd --param value=<loose>: exit 2 naming params.value, nothing sent (the
    broker is unreachable: reaching it would be exit 3)."""
    monkeypatch.setenv("HEDGEBOT_OPERATOR_KEY", "k" * 40)
    argv = ["cmd", "b1", "set_hedge_ratio", "--param", f"value={text}"]
    code = main([*argv, "--mqtt-url", "mqtt://127.0.0.1:1", "--timeout", "1"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"params.value: {REFUSED}" in err
    assert err.endswith("(not sent)")


@pytest.mark.parametrize("text", ["0.25", "1e-3", ".5"])
def test_ascii_text_in_cmd_param_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """value=0.25 (and 1e-3, .5) passes the local check and goes on to the broker."""
    monkeypatch.setenv("HEDGEBOT_OPERATOR_KEY", "k" * 40)
    argv = ["cmd", "b1", "set_hedge_ratio", "--param", f"value={text}"]
    assert main([*argv, "--mqtt-url", "mqtt://127.0.0.1:1", "--timeout", "1"]) == 3
    assert "cannot reach MQTT broker" in capsys.readouterr().err
