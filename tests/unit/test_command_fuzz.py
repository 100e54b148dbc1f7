"""Fuzz: whatever arrives on the command topic becomes a Command or a Rejection (issue 12.3)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import ManualClock
from bot.safety import MAX_COMMAND_BYTES
from bot.telemetry.auth import OperatorKey
from bot.telemetry.commands import (
    MAX_ID_LENGTH,
    MAX_REASON_CHARS,
    CommandValidator,
    Rejection,
    parse_command,
)
from bot.telemetry.messages import CommandAck

pytestmark = pytest.mark.unit

KEY = OperatorKey("fuzz-operator-key-0123456789abcdef0123")
TOPIC = "hedgebot/fuzz/cmd"
NOW = 1_700_000_000

_text = st.text(alphabet=st.characters(codec=None), max_size=80)  # includes lone surrogates
_numbers = st.one_of(
    st.integers(min_value=-(10**80), max_value=10**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["NaN", "Infinity", "-1e309", "1e999999999", "9" * 5000]),
)
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), _numbers, _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=20,
)
_commands = st.fixed_dictionaries(
    {"id": st.one_of(_text, _numbers, st.none())},
    optional={
        "command": st.one_of(
            st.sampled_from(["pause", "set_hedge_ratio", "set_threshold", "flatten"]), _text
        ),
        "params": st.one_of(
            st.fixed_dictionaries({}, optional={"value": _values, "base": _values}),
            _values,
        ),
        "ts": st.one_of(st.just(NOW), _numbers),
        "extra": _values,
    },
)


def _nested(depth: int, opener: str) -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return '{"a":' * depth + "1" + closer * depth
    return opener * depth + closer * depth


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=True)
    except ValueError:  # an int past the digit limit
        return '{"id":"x","params":{"value":' + "9" * 5000 + "}}"


_payloads = st.one_of(
    st.binary(max_size=300),  # random bytes, invalid UTF-8
    st.builds(_json_text, _commands),
    st.builds(lambda v: _json_text(v).encode("utf-8", "surrogatepass"), _commands),
    st.builds(_nested, st.integers(1, 100_000), st.sampled_from(["[", "{"])),
    st.builds(lambda n: b'{"id":"big","command":"' + b"x" * n + b'"}', st.integers(0, 10**6)),
)


def _check(result: object) -> None:
    if isinstance(result, Rejection):
        assert result.command_id is None or len(result.command_id) <= MAX_ID_LENGTH
        assert len(result.reason) <= MAX_REASON_CHARS
        ack = CommandAck(id=result.command_id, status="rejected", reason=result.reason)
        assert len(ack.to_json()) < 2 * MAX_COMMAND_BYTES  # encodable and bounded
    else:
        assert type(result).__name__ in {
            "Pause",
            "Resume",
            "Flatten",
            "RebalanceNow",
            "SetHedgeRatio",
            "SetThreshold",
        }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_payloads)
def test_parser_never_raises(payload: bytes | str) -> None:
    """Random bytes, deep nesting, huge numbers, invalid UTF-8, oversized payloads and lone
    surrogates: always a Command or a bounded, encodable Rejection, with the recursion limit
    raised as py_ecc raises it."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        _check(parse_command(payload))
    finally:
        sys.setrecursionlimit(before)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_commands)
def test_validator_never_raises_on_signed_hostile_commands(command: dict[str, Any]) -> None:
    """Even signed with the real key, a hostile body is a Command or a Rejection."""
    validator = CommandValidator(operator_key=KEY, clock=ManualClock(float(NOW)))
    try:
        raw = json.dumps(KEY.signed(TOPIC, command), allow_nan=True).encode(
            "utf-8", "surrogatepass"
        )
    except ValueError:  # not expressible as JSON (digit limit): nothing to send
        return
    _check(validator.validate(raw, TOPIC))
