"""Plain JSON forms of the domain records, and back: one codec for the store and the venue.

Decimals travel as strings (no precision lost), enums as their values, dataclasses as dicts.
Decoding is generic: ``decode(kind, body)`` validates a JSON body into any domain dataclass
with a pydantic ``TypeAdapter`` built once per class (lax mode: Decimal from its string, enums
from their values, lists into tuples; a missing field takes its dataclass default; unknown
keys are ignored). A missing required field, a wrong enum value or a non-finite or
non-numeric Decimal raises ``pydantic.ValidationError`` (a ``ValueError``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import TypeAdapter

from bot.domain import ChainSnapshot, Decision, Fill, FundingPayment, Order, OrderIntent

__all__ = [
    "decision_from",
    "decode",
    "fill_from",
    "funding_from",
    "intent_from",
    "optional_decimal",
    "order_from",
    "plain",
    "snapshot_from",
    "to_json",
]


def plain(value: Any) -> Any:
    """JSON-ready form of domain values: Decimal as string, enums as values."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Serialise a domain value for the store."""
    return json.dumps(plain(value), sort_keys=True)


_Record = TypeVar("_Record")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}  # one per record class, built on first use


def decode(kind: type[_Record], body: Mapping[str, Any]) -> _Record:
    """The ``kind`` record (a domain dataclass) from its ``plain`` JSON form.

    Raises ``pydantic.ValidationError`` (a ``ValueError``) naming the bad field."""
    adapter: TypeAdapter[_Record] | None = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter.validate_python(body)


def optional_decimal(value: Any) -> Decimal | None:
    """``None`` or the Decimal of ``value`` (a string or a number)."""
    return None if value is None else Decimal(value)


def intent_from(body: Mapping[str, Any]) -> OrderIntent:
    """An ``OrderIntent`` from its JSON form."""
    return decode(OrderIntent, body)


def order_from(body: Mapping[str, Any]) -> Order:
    """An ``Order`` from its JSON form."""
    return decode(Order, body)


def fill_from(body: Mapping[str, Any]) -> Fill:
    """A ``Fill`` from its JSON form."""
    return decode(Fill, body)


def funding_from(body: Mapping[str, Any]) -> FundingPayment:
    """A ``FundingPayment`` from its JSON form."""
    return decode(FundingPayment, body)


def decision_from(body: Mapping[str, Any]) -> Decision:
    """A ``Decision`` from its JSON form (fields added later take their defaults)."""
    return decode(Decision, body)


def snapshot_from(body: Mapping[str, Any]) -> ChainSnapshot:
    """A ``ChainSnapshot`` from its JSON form. Its notices and moves are not read back: each
    is raised once, on the snapshot that found it."""
    return decode(ChainSnapshot, {k: v for k, v in body.items() if k not in ("notices", "moves")})
