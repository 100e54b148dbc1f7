"""The store's meta keys: one enum, and a typed field (codec + default) per key.

``MetaKey`` names every key the ``meta`` table may hold; the store refuses any other
(``ValueError``). ``Meta.<FIELD>`` carries the value's type, so ``await store.get(Meta.PAUSED)``
is a ``bool`` and ``await store.set(Meta.HEDGE_RATIO, Decimal("0.8"))`` stores ``"0.8"``.
The text forms are the ones schema 1 always stored, so old stores read the same.

A component with its own value type may define its field next to the type, e.g. the
operator state as one record (``bot.engine.control`` stores it under this key with these
two methods)::

    OPERATOR = MetaField(MetaKey.OPERATOR_STATE, OperatorState.from_record,
                         OperatorState.to_record, OperatorState())
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

__all__ = ["Meta", "MetaField", "MetaKey", "Threshold", "json_record"]

T = TypeVar("T")


class MetaKey(StrEnum):
    """Every key of the store's ``meta`` table."""

    SCHEMA_VERSION = "schema_version"  # kept for readers older than the schema_version table
    LAST_WRITE_CHECK = "last_write_check"
    PAUSED = "paused"
    FLATTENING = "flattening"
    HEDGE_RATIO = "hedge_ratio"  # operator override of the configured ratio
    THRESHOLD = "threshold"  # operator override of the threshold band: "<base>|<fraction>"
    OPERATOR_STATE = "operator_state"  # the operator state as one JSON record
    KILL_SWITCH = "kill_switch"  # JSON record of an engaged switch, absent when off
    RISK_DAY = "risk_day"  # UTC day of the day-PnL baseline, "YYYY-MM-DD"
    RISK_DAY_START_NET = "risk_day_start_net"  # net PnL (quote) at the start of that day
    POSITION_BASELINE = "position_baseline_base"  # position not explained by own fills
    POSITION_BASELINE_AFTER_MS = "position_baseline_after_ms"  # fills counted from here on
    POSITION_BASELINE_TRADE_IDS = "position_baseline_trade_ids"  # in it at that very ms
    POSITION_BASELINE_SEQ = "position_baseline_seq"  # own orders up to this seq are in it
    POSITION_CHECKED_MS = "position_checked_ms"  # fills before this were checked
    POSITION_CHECKED_TRADE_IDS = "position_checked_trade_ids"  # and these from it on
    FILLS_SINCE_MS = "fills_since_ms"  # venue fill cursor
    FUNDING_SINCE_MS = "funding_since_ms"  # venue funding cursor
    PNL_CHECKPOINT = "pnl_checkpoint"  # the PnL replay folded so far (bot.replay_store)


@dataclass(frozen=True, slots=True)
class MetaField(Generic[T]):
    """A meta key with the type of its value: ``decode(text)``, ``encode(value)``, and the
    ``default`` a missing key reads as. A value encoded as ``""`` deletes the key."""

    key: MetaKey
    decode: Callable[[str], T]
    encode: Callable[[T], str]
    default: T


@dataclass(frozen=True, slots=True)
class Threshold:
    """The operator's threshold override (base units, fraction of delta); None: not set."""

    base: Decimal | None
    fraction: Decimal | None


def _flag(text: str) -> bool:
    return text == "1"


def _flag_text(value: bool) -> str:
    return "1" if value else "0"


def _decimal_or_none(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def _text_or_empty(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _threshold(text: str) -> Threshold | None:
    base, _, fraction = text.partition("|")
    return Threshold(_decimal_or_none(base), _decimal_or_none(fraction))


def _threshold_text(value: Threshold | None) -> str:
    if value is None:
        return ""
    return f"{value.base or ''}|{value.fraction or ''}"


def json_record(text: str) -> dict[str, object] | None:
    """A JSON object stored as text (None when empty); ``ValueError`` when not an object."""
    if not text:
        return None
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("meta record is not a JSON object")
    return value


def _json_text(value: dict[str, object] | None) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True)


def _optional_int(text: str) -> int | None:
    return int(text) if text else None


def _optional_int_text(value: int | None) -> str:
    return "" if value is None else str(value)


def _optional_text(text: str) -> str | None:
    return text or None


def _text_or_none(value: str | None) -> str:
    return value or ""


class Meta:
    """The typed fields of :class:`MetaKey` (a namespace, not instantiated)."""

    SCHEMA_VERSION = MetaField(MetaKey.SCHEMA_VERSION, int, str, 0)
    PAUSED = MetaField(MetaKey.PAUSED, _flag, _flag_text, False)
    FLATTENING = MetaField(MetaKey.FLATTENING, _flag, _flag_text, False)
    HEDGE_RATIO = MetaField(MetaKey.HEDGE_RATIO, _decimal_or_none, _text_or_empty, None)
    THRESHOLD = MetaField(MetaKey.THRESHOLD, _threshold, _threshold_text, None)
    OPERATOR_STATE = MetaField(MetaKey.OPERATOR_STATE, json_record, _json_text, None)
    KILL_SWITCH = MetaField(MetaKey.KILL_SWITCH, json_record, _json_text, None)
    RISK_DAY = MetaField(MetaKey.RISK_DAY, _optional_text, _text_or_none, None)
    RISK_DAY_START_NET = MetaField(MetaKey.RISK_DAY_START_NET, Decimal, str, Decimal(0))
    POSITION_BASELINE = MetaField(MetaKey.POSITION_BASELINE, Decimal, str, Decimal(0))
    POSITION_BASELINE_AFTER_MS = MetaField(
        MetaKey.POSITION_BASELINE_AFTER_MS, _optional_int, _optional_int_text, None
    )
    POSITION_CHECKED_MS = MetaField(
        MetaKey.POSITION_CHECKED_MS, _optional_int, _optional_int_text, None
    )
    FILLS_SINCE_MS = MetaField(MetaKey.FILLS_SINCE_MS, _optional_int, _optional_int_text, None)
    FUNDING_SINCE_MS = MetaField(MetaKey.FUNDING_SINCE_MS, _optional_int, _optional_int_text, None)
