"""One rule for numbers a user types as text: ASCII decimal notation.

Python and pydantic read more than that: ``Decimal("0.2_5")`` is 0.25, ``"٠.٥"`` (Arabic-Indic
digits) 0.5, ``"１"`` (full width) 1, ``" 1 "`` 1. A typo or a pasted character would then set
a hedge ratio nobody wrote. Text for a number is accepted only as an optional sign, ASCII
digits with an optional point, and an optional exponent (``0.25``, ``-1``, ``1e-3``, ``.5``):
no underscores, no whitespace, no other scripts. Numbers that are not text (YAML ``0.25``,
JSON ``0.25``) are not text and keep their meaning.

Used by the config (``Settings``: every numeric field of every section, from the YAML file or
an environment variable), the operator commands (MQTT params, ``hedgebot cmd --param``) and
the backtest CSV reader (``bot.sim.pricepaths``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "ASCII_NUMBER",
    "NOT_ASCII_NUMBER",
    "check_number_text",
    "is_ascii_number",
    "loose_number_fields",
    "refuse_loose_number_text",
]

ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
NOT_ASCII_NUMBER = "not a number in ASCII decimal notation"
_SHOWN_CHARS = 40

Loc = tuple[str | int, ...]
_Model = TypeVar("_Model", bound=BaseModel)


def is_ascii_number(text: str) -> bool:
    """``text`` is a number in ASCII decimal notation (see the module doc)."""
    return ASCII_NUMBER.fullmatch(text) is not None


def _refusal(text: str) -> str:
    return (
        f"{NOT_ASCII_NUMBER} (sign, digits, point, exponent; no spaces, underscores or other"
        f" digits): {text[:_SHOWN_CHARS]!r}"
    )


def check_number_text(value: object) -> object:
    """A pydantic ``BeforeValidator`` for one numeric field: text must be an ASCII number;
    anything else passes unchanged to the field's own validation. Raises ``ValueError``."""
    if isinstance(value, str) and not is_ascii_number(value):
        raise ValueError(_refusal(value))
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, Decimal | int | float) and not isinstance(value, bool)


def loose_number_fields(model: BaseModel, raw: object, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """``(location, text)`` of every field of ``model`` (a validated model, nested models,
    lists and mappings included) that holds a number read from text ``raw`` gave that is not
    an ASCII number. ``raw`` is the input ``model`` was validated from."""
    if not isinstance(raw, Mapping):
        return []
    found: list[tuple[Loc, str]] = []
    for name, field in type(model).model_fields.items():
        key = field.alias if field.alias is not None and field.alias in raw else name
        if key in raw:
            found += _walk(getattr(model, name), raw[key], (*loc, key))
    return found


def _walk(value: object, raw: object, loc: Loc) -> list[tuple[Loc, str]]:
    if isinstance(raw, str):
        return [(loc, raw)] if _is_number(value) and not is_ascii_number(raw) else []
    if isinstance(value, BaseModel):
        return loose_number_fields(value, raw, loc)
    if isinstance(value, list | tuple) and isinstance(raw, list | tuple):
        return [
            hit
            for index, (item, raw_item) in enumerate(zip(value, raw, strict=False))
            for hit in _walk(item, raw_item, (*loc, index))
        ]
    if isinstance(value, Mapping) and isinstance(raw, Mapping):
        return [
            hit for key in value if key in raw for hit in _walk(value[key], raw[key], (*loc, key))
        ]
    return []


def refuse_loose_number_text(
    model_name: str, data: Any, handler: Callable[[Any], _Model]
) -> _Model:
    """The body of a ``model_validator(mode="wrap")``: validate ``data``, then refuse every
    numeric field that was given as text not in ASCII decimal notation, each named by its
    location (one ``ValidationError`` of type ``ascii_number``)."""
    model = handler(data)
    found = loose_number_fields(model, data)
    if found:
        raise ValidationError.from_exception_data(
            model_name,
            [
                InitErrorDetails(
                    type=PydanticCustomError(
                        "ascii_number", "{reason}", {"reason": _refusal(text)}
                    ),
                    loc=loc,
                    input=text,
                )
                for loc, text in found
            ],
        )
    return model
