"""Plain JSON forms of the domain records, and back: one codec for the store and the venue.

Decimals travel as strings (no precision lost), enums as their values, dataclasses as dicts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from bot.domain import (
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    Order,
    OrderIntent,
    OrderStatus,
    PositionExposure,
    Side,
)

__all__ = [
    "decision_from",
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


def intent_from(body: dict[str, Any]) -> OrderIntent:
    limit = body.get("limit_price")
    return OrderIntent(
        client_order_id=body["client_order_id"],
        symbol=body["symbol"],
        side=Side(body["side"]),
        amount_base=Decimal(body["amount_base"]),
        reduce_only=bool(body["reduce_only"]),
        limit_price=None if limit is None else Decimal(limit),
    )


def optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def snapshot_from(body: dict[str, Any]) -> ChainSnapshot:
    positions = tuple(
        PositionExposure(
            id=p["id"],
            kind=p["kind"],
            amount_base=Decimal(p["amount_base"]),
            amount_quote=Decimal(p["amount_quote"]),
            value_quote=Decimal(p["value_quote"]),
            delta_base=Decimal(p["delta_base"]),
            gamma=Decimal(p["gamma"]),
            price=Decimal(p["price"]),
            fees_base=Decimal(p.get("fees_base", "0")),
            fees_quote=Decimal(p.get("fees_quote", "0")),
            in_range=bool(p.get("in_range", True)),
            tick_lower=optional_int(p.get("tick_lower")),
            tick_upper=optional_int(p.get("tick_upper")),
            liquidity=optional_int(p.get("liquidity")),
        )
        for p in body["positions"]
    )
    return ChainSnapshot(
        block_number=int(body["block_number"]),
        block_timestamp=int(body["block_timestamp"]),
        block_hash=str(body["block_hash"]),
        price=Decimal(body["price"]),
        positions=positions,
        wallet_base=Decimal(body.get("wallet_base", "0")),
    )


def decision_from(body: dict[str, Any]) -> Decision:
    side = body.get("order_side")
    return Decision(
        action=body["action"],
        reason=body["reason"],
        delta_base=Decimal(body["delta_base"]),
        target_base=Decimal(body["target_base"]),
        hedge_base=Decimal(body["hedge_base"]),
        drift_base=Decimal(body["drift_base"]),
        band_base=Decimal(body["band_base"]),
        order_side=None if side is None else Side(side),
        order_amount_base=Decimal(body.get("order_amount_base", "0")),
        reduce_only=bool(body.get("reduce_only", False)),
        notes=tuple(body.get("notes", ())),
        mark_price=optional_decimal(body.get("mark_price")),
    )


def fill_from(body: dict[str, Any]) -> Fill:
    return Fill(
        trade_id=body["trade_id"],
        client_order_id=body["client_order_id"],
        exchange_order_id=body["exchange_order_id"],
        symbol=body["symbol"],
        side=Side(body["side"]),
        amount_base=Decimal(body["amount_base"]),
        price=Decimal(body["price"]),
        fee_quote=Decimal(body["fee_quote"]),
        realized_pnl=Decimal(body["realized_pnl"]),
        timestamp=int(body["timestamp"]),
    )


def funding_from(body: dict[str, Any]) -> FundingPayment:
    return FundingPayment(
        id=body["id"],
        symbol=body["symbol"],
        amount_quote=Decimal(body["amount_quote"]),
        rate=Decimal(body["rate"]),
        position_base=Decimal(body["position_base"]),
        mark_price=Decimal(body["mark_price"]),
        timestamp=int(body["timestamp"]),
    )


def order_from(raw: dict[str, Any]) -> Order:
    return Order(
        client_order_id=raw["client_order_id"],
        exchange_order_id=raw["exchange_order_id"],
        symbol=raw["symbol"],
        side=Side(raw["side"]),
        amount_base=Decimal(raw["amount_base"]),
        filled_base=Decimal(raw["filled_base"]),
        average_price=optional_decimal(raw["average_price"]),
        status=OrderStatus(raw["status"]),
        reduce_only=bool(raw["reduce_only"]),
        fee_quote=Decimal(raw["fee_quote"]),
        timestamp=int(raw["timestamp"]),
    )
