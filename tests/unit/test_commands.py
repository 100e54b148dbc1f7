"""Command schema and validation (bot/telemetry/commands.py)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.telemetry.auth import OperatorKey
from bot.telemetry.commands import (
    CommandValidator,
    Flatten,
    Pause,
    Redelivery,
    Refusal,
    Rejection,
    SetHedgeRatio,
    SetThreshold,
    parse_command,
)

pytestmark = pytest.mark.unit


KEY = OperatorKey("unit-test-operator-key-0123456789abcdef")
TOPIC = "hedgebot/bot1/cmd"


def _raw(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _signed(ts_offset_s: int = 0, **fields: Any) -> bytes:
    """A command as the operator sends it: with ``ts`` (now, plus ``ts_offset_s``: a resend
    signed later) and its signature for ``TOPIC``."""
    body = {**fields, "ts": int(time.time()) + ts_offset_s}
    return json.dumps(KEY.signed(TOPIC, body)).encode()


def _keyed(**kwargs: Any) -> CommandValidator:
    return CommandValidator(operator_key=KEY, **kwargs)


def test_valid_commands_parse_to_typed_models() -> None:
    """Each command name parses to its own model with typed params."""
    assert isinstance(parse_command(_raw(id="1", command="pause")), Pause)
    assert isinstance(parse_command(_raw(id="2", command="pause", params={})), Pause)
    flatten = parse_command(_raw(id="3", command="flatten", params={"confirm": True}))
    assert isinstance(flatten, Flatten)
    ratio = parse_command(b'{"id":"4","command":"set_hedge_ratio","params":{"value":0.8}}')
    assert isinstance(ratio, SetHedgeRatio)
    assert ratio.params.value == Decimal("0.8")
    band = parse_command(_raw(id="5", command="set_threshold", params={"fraction": 1}))
    assert isinstance(band, SetThreshold)
    assert band.params.fraction == 1
    assert band.params.base is None
    for name in ("resume", "rebalance_now"):
        assert parse_command(_raw(id="6", command=name)).command == name  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (_raw(command="pause"), "missing id"),
        (_raw(id="", command="pause"), "missing id"),
        (_raw(id=7, command="pause"), "id: must be a string"),
        (_raw(id="x" * 65, command="pause"), "id: longer than 64 characters"),
        (_raw(id="a"), "missing command"),
        (_raw(id="a", command="self_destruct"), "unknown command 'self_destruct'"),
        (_raw(id="a", command="pause", params={"now": True}), "params.now: unknown field"),
        (_raw(id="a", command="resume", extra=1), "extra: unknown field"),
        (_raw(id="a", command="flatten"), "params: required"),
        (_raw(id="a", command="flatten", params={}), "params.confirm: required"),
        (_raw(id="a", command="flatten", params={"confirm": False}), "confirm must be true"),
        (_raw(id="a", command="flatten", params={"confirm": 1}), "params.confirm"),
        (_raw(id="a", command="flatten", params={"confirm": "yes"}), "params.confirm"),
        (_raw(id="a", command="set_hedge_ratio", params={"value": 3.01}), "value: must be <= 3"),
        (_raw(id="a", command="set_hedge_ratio", params={"value": -0.1}), "value: must be >= 0"),
        (_raw(id="a", command="set_hedge_ratio", params={"value": True}), "must be a number"),
        (_raw(id="a", command="set_hedge_ratio", params={"value": "x"}), "must be a number"),
        (b'{"id":"a","command":"set_hedge_ratio","params":{"value":NaN}}', "finite"),
        (_raw(id="a", command="set_hedge_ratio", params={}), "params.value: required"),
        (_raw(id="a", command="set_threshold", params={}), "set base and/or fraction"),
        (_raw(id="a", command="set_threshold", params={"base": 0}), "params.base: must be > 0"),
        (_raw(id="a", command="set_threshold", params={"fraction": 1.5}), "must be <= 1"),
        (_raw(id="a", command="set_threshold", params={"fraction": 0}), "must be > 0"),
        # finer than 18 decimal places: no setting, and would print in exponent form
        (_raw(id="a", command="set_hedge_ratio", params={"value": "1e-999999999"}), "params.value"),
        (_raw(id="a", command="set_threshold", params={"base": "1e-999999999"}), "params.base"),
        (_raw(id="a", command="set_threshold", params={"fraction": "1e-19"}), "params.fraction"),
    ],
)
def test_invalid_commands_are_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    """Every malformed, unknown or out-of-range command is refused with a readable reason."""
    result = parse_command(raw)
    assert isinstance(result, Rejection)
    assert reason in result.reason


def test_rejection_carries_the_id_when_one_was_readable() -> None:
    """The ack of a refused command names its id so the sender can match it."""
    result = parse_command(_raw(id="abc", command="nope"))
    assert isinstance(result, Rejection)
    assert result.command_id == "abc"
    malformed = parse_command(b"{")
    assert isinstance(malformed, Rejection)
    assert malformed.command_id is None


def test_duplicate_ids_are_rejected_while_queued_and_after_applied() -> None:
    """An id is accepted once; a resend is refused whether queued or applied."""
    validator = _keyed()
    assert isinstance(validator.validate(_signed(id="c1", command="pause"), TOPIC), Pause)
    queued = validator.validate(_signed(1, id="c1", command="pause"), TOPIC)
    assert isinstance(queued, Rejection)
    assert "already queued" in queued.reason
    validator.mark_applied("c1")
    applied = validator.validate(_signed(2, id="c1", command="resume"), TOPIC)
    assert isinstance(applied, Rejection)
    assert "already applied" in applied.reason
    assert validator.is_applied("c1")


def test_id_refused_by_the_engine_is_never_accepted_again() -> None:
    """A command the engine refused keeps its id: a replay cannot apply it later (issue 12.4)."""
    validator = _keyed()
    assert not isinstance(validator.validate(_signed(id="r", command="pause"), TOPIC), Rejection)
    validator.mark_rejected("r")
    again = validator.validate(_signed(1, id="r", command="pause"), TOPIC)
    assert isinstance(again, Rejection)
    assert again.reason == "duplicate id 'r': command already rejected"


def test_marking_rejected_never_forgets_an_applied_id() -> None:
    """An applied id stays 'applied' whatever is reported after."""
    validator = CommandValidator(["done"], operator_key=KEY)
    validator.mark_rejected("done")
    assert validator.is_applied("done")
    assert isinstance(validator.validate(_signed(id="done", command="pause"), TOPIC), Rejection)


def test_preloaded_applied_ids_are_refused() -> None:
    """Ids loaded from the store at start-up are refused as duplicates."""
    validator = CommandValidator(["old-1", "old-2"], operator_key=KEY)
    result = validator.validate(_signed(id="old-2", command="rebalance_now"), TOPIC)
    assert isinstance(result, Rejection)
    assert "already applied" in result.reason


def test_preloaded_store_statuses_refuse_rejected_ids_too() -> None:
    """The store's ``ok`` and ``rejected`` rows are both refused after a restart, each named."""
    validator = CommandValidator({"a": "ok", "r": "rejected"}, operator_key=KEY)
    applied = validator.validate(_signed(id="a", command="pause"), TOPIC)
    rejected = validator.validate(_signed(id="r", command="pause"), TOPIC)
    assert isinstance(applied, Rejection)
    assert applied.reason == "duplicate id 'a': command already applied"
    assert isinstance(rejected, Rejection)
    assert rejected.reason == "duplicate id 'r': command already rejected"


def test_no_id_is_ever_forgotten() -> None:
    """Past 10,000 ids the oldest is still refused (the old bounded memory forgot it)."""
    validator = _keyed()
    for n in range(10_001):
        validator.mark_applied(f"id-{n}")
    first = validator.validate(_signed(id="id-0", command="pause"), TOPIC)
    assert isinstance(first, Rejection)
    assert "already applied" in first.reason


def test_signed_invalid_command_uses_up_its_id() -> None:
    """Once its signature verifies, a command's id is used up even when the schema refuses it
    (issue 12.2, follow-up): a corrected resend needs a new id. (Before, the id stayed free.)"""
    validator = _keyed()
    bad = validator.validate(_signed(id="x", command="set_hedge_ratio", params={"value": 9}), TOPIC)
    assert isinstance(bad, Refusal)
    assert bad.command == "set_hedge_ratio"
    assert bad.reason == "params.value: must be <= 3"
    good = validator.validate(
        _signed(1, id="x", command="set_hedge_ratio", params={"value": 1}), TOPIC
    )
    assert isinstance(good, Rejection)
    assert good.reason == "duplicate id 'x': command already rejected"
    assert validator.status("x") == "rejected"


def test_same_signed_message_again_is_a_redelivery_not_a_rejection() -> None:
    """A byte-identical copy (QoS-1 redelivery or replay) of an accepted command is reported
    as a copy with the original's status, never queued twice nor refused as a duplicate."""
    validator = _keyed()
    raw = _signed(id="d1", command="pause")
    assert isinstance(validator.validate(raw, TOPIC), Pause)
    assert validator.validate(raw, TOPIC) == Redelivery("d1", "queued", None)
    validator.mark_applied("d1")
    assert validator.validate(raw, TOPIC) == Redelivery("d1", "applied", None)
    reformatted = json.dumps(json.loads(raw), indent=1).encode()  # same signature, other bytes
    assert validator.validate(reformatted, TOPIC) == Redelivery("d1", "applied", None)


def test_a_copy_with_a_bad_signature_uses_up_nothing() -> None:
    """A forged copy of a queued command (same id, wrong sig) is refused as such and leaves the
    original's status alone; a forged id never seen is not used up either."""
    validator = _keyed()
    raw = _signed(id="f1", command="pause")
    assert isinstance(validator.validate(raw, TOPIC), Pause)
    forged = json.dumps({**json.loads(raw), "sig": "0" * 64}).encode()
    refused = validator.validate(forged, TOPIC)
    assert isinstance(refused, Rejection)
    assert not isinstance(refused, Refusal)
    assert refused.reason == "bad signature"
    assert validator.status("f1") == "queued"
    fresh = json.dumps({**json.loads(_signed(id="f2", command="pause")), "sig": "1" * 64})
    assert validator.validate(fresh.encode(), TOPIC) == Rejection("f2", "bad signature")
    assert validator.status("f2") is None


@pytest.mark.parametrize("ts_offset_s", [75, -75, 3600])
def test_stale_or_future_command_uses_up_its_id_for_good(ts_offset_s: int) -> None:
    """A signed command refused for its ``ts`` (now+75 s, now-75 s, an hour on) can never be
    applied later, however it is re-sent (issue 12.2 follow-up: it was a delayed trigger)."""
    now = int(time.time())  # the bot's clock pinned to the second the command is signed at
    validator = _keyed(max_age_s=60, clock=ManualClock(t=float(now)))
    raw = json.dumps(KEY.signed(TOPIC, {"id": "late", "command": "pause", "ts": now + ts_offset_s}))
    raw = raw.encode()
    refused = validator.validate(raw, TOPIC)
    assert isinstance(refused, Refusal)
    assert refused.reason.startswith(f"stale command: ts is {ts_offset_s:+d} s from the bot")
    again = validator.validate(raw, TOPIC)  # the same bytes, later (or now)
    assert again == Redelivery("late", "rejected", refused.reason)
    assert not isinstance(validator.validate(_signed(id="late", command="pause"), TOPIC), Pause)
    restarted = CommandValidator({"late": "rejected"}, operator_key=KEY)  # store after restart
    assert restarted.validate(raw, TOPIC) == Rejection(
        "late", "duplicate id 'late': command already rejected"
    )


def test_max_age_must_be_positive() -> None:
    """A validator whose freshness window is empty is a configuration error."""
    with pytest.raises(ValueError, match="max_age_s"):
        CommandValidator(max_age_s=0)


def test_set_hedge_ratio_takes_every_ratio_the_config_allows() -> None:
    """One bound for the config's ``hedge.ratio`` and the command (the command capped at 2
    while the config allowed 3): the bound itself passes, just past it is refused naming it."""
    from bot.policy_config import MAX_HEDGE_RATIO, HedgeConfig

    assert HedgeConfig(ratio=MAX_HEDGE_RATIO).ratio == Decimal(3)
    validator = _keyed()
    ok = validator.validate(
        _signed(id="r3", command="set_hedge_ratio", params={"value": "3"}), TOPIC
    )
    assert isinstance(ok, SetHedgeRatio)
    assert ok.params.value == MAX_HEDGE_RATIO
    over = validator.validate(
        _signed(id="r4", command="set_hedge_ratio", params={"value": "3.0001"}), TOPIC
    )
    assert isinstance(over, Refusal)
    assert over.reason == "params.value: must be <= 3"


def test_settings_to_18_decimal_places_are_taken() -> None:
    """The finest a ratio or band may be is 18 decimal places (a wei of an 18-decimal token)."""
    ratio = parse_command(_raw(id="r", command="set_hedge_ratio", params={"value": "1e-18"}))
    band = parse_command(
        _raw(id="b", command="set_threshold", params={"base": "0.000000000000000001"})
    )
    assert not isinstance(ratio, Rejection)
    assert not isinstance(band, Rejection)


@pytest.mark.parametrize(
    ("field", "value"),
    [("ratio", "1e-999999999"), ("threshold_base", "1e-30"), ("threshold_fraction", "1e-19")],
)
def test_config_settings_finer_than_18_decimals_are_refused_by_name(field: str, value: str) -> None:
    from pydantic import ValidationError

    from bot.config import HedgeConfig

    with pytest.raises(ValidationError, match=field):
        HedgeConfig.model_validate({field: value})
