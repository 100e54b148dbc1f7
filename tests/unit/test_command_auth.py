"""Command authentication and hostile commands (issue 12.1, 12.3, 12.4, 11.8)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.errors import ConfigError
from bot.safety import MAX_COMMAND_BYTES
from bot.telemetry.auth import OperatorKey, canonical_json, operator_key_from_env
from bot.telemetry.commands import (
    CommandValidator,
    Pause,
    Redelivery,
    Rejection,
    echo,
    parse_command,
)
from bot.telemetry.messages import CommandAck, EventMessage

pytestmark = pytest.mark.unit

KEY = OperatorKey("unit-test-operator-key-0123456789abcdef")
OTHER_KEY = OperatorKey("someone-else-s-key-0123456789abcdef-x")
TOPIC = "hedgebot/bot1/cmd"
NOW = 1_700_000_000


def _validator(**kwargs: Any) -> CommandValidator:
    return CommandValidator(operator_key=KEY, clock=ManualClock(float(NOW)), **kwargs)


def _wire(body: dict[str, Any], key: OperatorKey = KEY, topic: str = TOPIC) -> bytes:
    return json.dumps(key.signed(topic, body)).encode()


def _pause(command_id: str = "p1", ts: Any = NOW) -> dict[str, Any]:
    return {"id": command_id, "command": "pause", "ts": ts}


def _refusal(validator: CommandValidator, raw: bytes | str) -> Rejection:
    result = validator.validate(raw, TOPIC)
    assert isinstance(result, Rejection), result
    return result


def test_signed_fresh_command_is_accepted() -> None:
    """A command signed with the operator key for this bot's topic, ts now, is accepted."""
    assert isinstance(_validator().validate(_wire(_pause()), TOPIC), Pause)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (json.dumps(_pause()).encode(), "unsigned command: sign it with the operator key"),
        (_wire(_pause(), key=OTHER_KEY), "bad signature"),
        (_wire(_pause(), topic="hedgebot/other-bot/cmd"), "bad signature"),
        (json.dumps({**_pause(), "sig": "00" * 32}).encode(), "bad signature"),
        (json.dumps({**_pause(), "sig": 5}).encode(), "bad signature"),
        (_wire({"id": "p1", "command": "pause"}), "ts: required, unix seconds as an integer"),
        (_wire(_pause(ts=True)), "ts: required"),
        (_wire(_pause(ts=float(NOW))), "ts: required"),
        (_wire(_pause(ts=NOW - 61)), "stale command: ts is -61 s from the bot's clock (limit 60"),
        (_wire(_pause(ts=NOW + 61)), "stale command: ts is +61 s"),
        (_wire(_pause(ts=10**400)), "stale command"),
    ],
)
def test_unsigned_forged_and_stale_commands_are_refused(raw: bytes, reason: str) -> None:
    """Unsigned, signed with another key or for another bot, and stale commands are refused."""
    refused = _refusal(_validator(), raw)
    assert refused.reason.startswith(reason)
    assert refused.command_id == "p1"


def test_tampered_command_fails_its_signature() -> None:
    """Changing any signed field after signing (here the params) breaks the signature."""
    body = KEY.signed(TOPIC, {"id": "r", "command": "set_hedge_ratio", "params": {"value": 1}})
    body["params"] = {"value": 0}
    assert _refusal(_validator(), json.dumps({**body, "ts": NOW}).encode()).reason == (
        "bad signature"
    )


def test_freshness_window_is_configurable() -> None:
    """``max_age_s`` widens (or narrows) the accepted clock skew."""
    assert isinstance(_validator(max_age_s=120).validate(_wire(_pause(ts=NOW - 100)), TOPIC), Pause)
    assert "limit 5 s" in _refusal(_validator(max_age_s=5), _wire(_pause(ts=NOW - 6))).reason


def test_without_an_operator_key_every_command_is_refused() -> None:
    """Secure by default: a bot with no key refuses even a well-signed command, saying why."""
    validator = CommandValidator(clock=ManualClock(float(NOW)))
    refused = _refusal(validator, _wire(_pause()))
    assert refused.reason == (
        "commands are disabled: the bot has no operator key (HEDGEBOT_OPERATOR_KEY)"
    )


def test_operator_key_comes_from_the_environment_and_must_be_long() -> None:
    """Unset or empty: no key; shorter than 32 characters: a ConfigError saying how to make one."""
    assert operator_key_from_env({}) is None
    assert operator_key_from_env({"HEDGEBOT_OPERATOR_KEY": ""}) is None
    key = operator_key_from_env({"HEDGEBOT_OPERATOR_KEY": "k" * 32})
    assert key is not None
    assert "k" * 32 not in repr(key)
    with pytest.raises(ConfigError, match="at least 32 characters"):
        operator_key_from_env({"HEDGEBOT_OPERATOR_KEY": "short"})


def test_the_examples_placeholder_operator_key_is_refused() -> None:
    """deploy/k8s's committed value (``replace-with-...``, long enough) is public: refused with
    a ConfigError saying so, never used to verify commands."""
    placeholder = "replace-with-the-operator-key-64-hex-characters"
    assert len(placeholder) >= 32
    with pytest.raises(ConfigError, match="placeholder"):
        operator_key_from_env({"HEDGEBOT_OPERATOR_KEY": placeholder})


def test_signature_is_hmac_sha256_over_topic_and_canonical_json() -> None:
    """The documented scheme (docs/mqtt.md): hex HMAC-SHA256 of topic, newline, canonical JSON."""
    import hashlib
    import hmac

    body = {"ts": 1, "id": "x", "command": "pause", "params": {"b": 1, "a": "é"}}
    canonical = b'{"command":"pause","id":"x","params":{"a":"\\u00e9","b":1},"ts":1}'
    assert canonical_json({**body, "sig": "ignored"}) == canonical
    secret = b"unit-test-operator-key-0123456789abcdef"
    expected = hmac.new(secret, TOPIC.encode() + b"\n" + canonical, hashlib.sha256).hexdigest()
    assert KEY.sign(TOPIC, body) == expected


def test_replay_of_an_accepted_command_is_refused() -> None:
    """The very same signed message twice: the second is a copy of the first, never queued
    again; a resend signed anew with the same id is a duplicate. (Before the acks were bound
    to their message, the byte-identical copy was itself answered "duplicate id", which the
    operator's ``cmd`` read as its own command refused: issue 12 follow-up, item 1.)"""
    validator = _validator()
    raw = _wire(_pause("once"))
    assert isinstance(validator.validate(raw, TOPIC), Pause)
    assert validator.validate(raw, TOPIC) == Redelivery("once", "queued", None)
    assert "duplicate id 'once'" in _refusal(validator, _wire(_pause("once", NOW + 1))).reason


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309", "-1e309"])
@pytest.mark.parametrize(
    ("command", "field"),
    [("set_hedge_ratio", "value"), ("set_threshold", "base"), ("set_threshold", "fraction")],
)
def test_non_finite_numbers_are_refused_naming_the_field(
    literal: str, command: str, field: str
) -> None:
    """NaN, ±Infinity and 1e309 (literal or string) are refused with the field named (11.8)."""
    for value in (literal, json.dumps(literal)):
        raw = f'{{"id":"n","command":"{command}","params":{{"{field}":{value}}}}}'
        refused = parse_command(raw)
        assert isinstance(refused, Rejection), raw
        if value.startswith('"') and literal.endswith("e309"):  # a string: finite, out of range
            assert refused.reason.startswith(f"params.{field}: must be ")
        else:
            assert refused.reason == f"params.{field}: must be a finite number"


def test_oversized_and_deep_messages_are_refused_before_parsing() -> None:
    """80,000 levels or 20 MB: refused by size; 2,000 levels in 4 KB: refused by depth, even
    with the recursion limit raised the way py_ecc raises it."""
    deep = "[" * 80_000 + "]" * 80_000
    assert parse_command(deep) == Rejection(None, "too large: 160000 bytes (limit 4096)")
    huge = b'{"id":"h","command":"' + b"x" * (20 * 1024 * 1024) + b'"}'
    refused = parse_command(huge)
    assert isinstance(refused, Rejection)
    assert refused.reason == f"too large: {len(huge)} bytes (limit {MAX_COMMAND_BYTES})"
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        nested = parse_command("[" * 2000 + "]" * 2000)
    finally:
        sys.setrecursionlimit(before)
    assert isinstance(nested, Rejection)
    assert nested.reason == "malformed JSON: JSON nested deeper than 64 levels"


def test_hostile_ids_are_echoed_escaped_and_bounded() -> None:
    """A lone surrogate or control characters in an id: refused, echoed escaped; the ack and
    the event encode (12.3)."""
    surrogate = parse_command('{"id":"\\ud800","command":"pause"}')
    assert surrogate == Rejection("\\ud800", "id: must be printable characters only")
    control = parse_command('{"id":"a\\u001b[2Jb","command":"pause"}')
    assert isinstance(control, Rejection)
    assert control.command_id == "a\\x1b[2Jb"
    long_id = parse_command(json.dumps({"id": "i" * 1000, "command": "pause"}))
    assert isinstance(long_id, Rejection)
    assert long_id.command_id == "i" * 63 + "…"
    for rejection in (surrogate, control, long_id):
        ack = CommandAck(id=rejection.command_id, status="rejected", reason=rejection.reason)
        assert json.loads(ack.to_json())["id"] == rejection.command_id


def test_unknown_command_name_is_echoed_bounded() -> None:
    """A 4 KB command name comes back as at most 32 characters."""
    refused = parse_command(json.dumps({"id": "u", "command": "x" * 4000}))
    assert isinstance(refused, Rejection)
    assert refused.reason.startswith("unknown command 'xxxxxxxx")
    assert len(refused.reason) < 200


def test_echo_escapes_and_truncates() -> None:
    """Printable text passes; control characters and surrogates are escaped; ``…`` marks a cut."""
    assert echo("pause-1") == "pause-1"
    assert echo("[/evil]") == "[/evil]"
    assert echo("a\nb\x00\ud800") == "a\\nb\\x00\\ud800"
    assert echo("x" * 10, limit=4) == "xxx…"
    assert echo("abcd", limit=4) == "abcd"


def test_any_payload_with_a_surrogate_still_encodes() -> None:
    """An event carrying peer text UTF-8 cannot hold is published escaped, not dropped."""
    event = EventMessage(type="error", ts=1.0, data={"msg": "bad \ud800 text"})
    assert json.loads(event.to_json())["data"]["msg"] == "bad \ud800 text"


def test_a_stale_skew_is_shown_rounded_away_from_zero() -> None:
    """60.4 s past a 60 s limit reads +61, never "+60 s (limit 60 s)", which looks fresh."""
    validator = CommandValidator(operator_key=KEY, clock=ManualClock(NOW + 0.6))
    refused = _refusal(validator, _wire(_pause(ts=NOW + 61)))
    assert "ts is +61 s from the bot's clock (limit 60 s)" in refused.reason
    late = _refusal(validator, _wire(_pause("p2", ts=NOW - 60)))  # 60.6 s behind
    assert "ts is -61 s" in late.reason
