"""The config's address type: ``0x`` + 40 hex digits, EIP-55 checked, stored checksummed.

Its own module so that position sections kept apart from ``bot/config.py`` (``bot/config_v4``)
share it without importing the whole config.
"""

from __future__ import annotations

from typing import Annotated

from eth_utils.address import is_checksum_address, to_checksum_address
from pydantic import AfterValidator, BeforeValidator, Field

__all__ = ["Address", "checksum_problem"]


def checksum_problem(address: str) -> str | None:
    """Why ``address`` (``0x`` + 40 hex) fails EIP-55, or None: mixed case must be the
    address's checksum; one-case hex carries none and passes."""
    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(address):
        return (
            "mixed-case address fails its EIP-55 checksum (a typo?): write it all lowercase "
            "or copy the checksummed form"
        )
    return None


def _checksummed(address: str) -> str:
    """EIP-55: mixed case must be the address's checksum; one-case hex is normalised to it."""
    problem = checksum_problem(address)
    if problem is not None:
        raise ValueError(problem)
    return str(to_checksum_address(address))


def _text_not_number(value: object) -> object:
    """An unquoted ``0x7099...`` in YAML is a hex integer, not the address: say so (its leading
    zeros are gone, so it is never turned back into an address)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            "an address must be text: quote it ('0x70997970...'): YAML reads an "
            "unquoted 0x... as a number"
        )
    return value


Address = Annotated[
    str,
    BeforeValidator(_text_not_number),
    Field(pattern=r"^0x[0-9a-fA-F]{40}$"),
    AfterValidator(_checksummed),
]
