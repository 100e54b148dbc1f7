"""Range checks on what a node answers: every quantity, hash and byte string is bounded where
it is parsed, before anything converts, formats or stores it.

A JSON-RPC answer that parses but carries an impossible value (a block number of 200,000 hex
digits, a 1 MB block hash, a timestamp past 2**63) is a *bad answer* of that endpoint:
:func:`check_answer` raises ``AnswerRejected`` (a ``PayloadRejected``, so a ``ValueError``),
which the failover provider scores like a transport failure and moves on from, and which the
chain readers turn into ``ChainError``. Bounds: block numbers, timestamps, chain ids, log and
transaction indexes < 2**63; other quantities (gas, fees, balances) < 2**256; hashes exactly
32 bytes; addresses 20 bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.safety import PayloadRejected, safe_str

__all__ = [
    "MAX_SMALL_QUANTITY",
    "MAX_UINT256",
    "AnswerRejected",
    "check_answer",
    "hex_bytes",
    "quantity",
]

MAX_SMALL_QUANTITY = 2**63 - 1  # block numbers, timestamps, chain ids, indexes
MAX_UINT256 = 2**256 - 1  # gas, fees, balances, difficulty


class AnswerRejected(PayloadRejected):
    """A well-formed JSON-RPC answer whose content is out of range or of the wrong shape."""


def quantity(
    value: Any, what: str, *, bound: int = MAX_SMALL_QUANTITY, hex_only: bool = False
) -> int:
    """``value`` (a ``0x`` hex quantity, or, unless ``hex_only``, an int a web3 formatter
    already made) as an int in ``[0, bound]``. Raises ``AnswerRejected`` naming ``what``
    otherwise; the text is never converted when it is longer than ``bound`` can be, so a huge
    value costs nothing."""
    if isinstance(value, bool) or (hex_only and not isinstance(value, str)):
        raise AnswerRejected(f"{what}: not a quantity: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        digits = value[2:] if value[:2] in ("0x", "0X") else None
        significant = digits.lstrip("0") if digits else None  # leading zeros: tolerated
        if not digits or len(significant or "") > (bound.bit_length() + 3) // 4:
            raise AnswerRejected(
                f"{what}: not a quantity within 0..{bound:#x}: {safe_str(value, 80)}"
            )
        try:
            number = int(significant or "0", 16)
        except ValueError:
            raise AnswerRejected(f"{what}: not a hex quantity: {safe_str(value, 80)}") from None
    else:
        raise AnswerRejected(f"{what}: not a quantity: {type(value).__name__}")
    if not 0 <= number <= bound:
        raise AnswerRejected(f"{what}: {safe_str(number, 80)} is outside 0..{bound:#x}")
    return number


def hex_bytes(value: Any, what: str, *, length: int | None = None) -> bytes:
    """``value`` (``0x`` hex text, or bytes a web3 formatter made) as bytes, exactly ``length``
    long when given; ``AnswerRejected`` otherwise."""
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str) and value[:2] in ("0x", "0X"):
        if length is not None and len(value) != 2 + 2 * length:
            raise AnswerRejected(f"{what}: not {length} bytes of hex ({len(value)} characters)")
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raise AnswerRejected(f"{what}: not hex: {safe_str(value, 80)}") from None
    else:
        raise AnswerRejected(f"{what}: not hex data: {type(value).__name__}")
    if length is not None and len(raw) != length:
        raise AnswerRejected(f"{what}: {len(raw)} bytes, expected {length}")
    return raw


def _hash(value: Any, what: str) -> None:
    hex_bytes(value, what, length=32)


def _address(value: Any, what: str) -> None:
    hex_bytes(value, what, length=20)


def _small(value: Any, what: str) -> None:
    quantity(value, what, hex_only=True)


def _big(value: Any, what: str) -> None:
    quantity(value, what, bound=MAX_UINT256, hex_only=True)


def _data(value: Any, what: str) -> None:
    hex_bytes(value, what)


# field -> check, for the objects a node returns; fields not listed are left to web3
_BLOCK_FIELDS: dict[str, Callable[[Any, str], None]] = {
    "number": _small,
    "timestamp": _small,
    "hash": _hash,
    "parentHash": _hash,
    "gasLimit": _big,
    "gasUsed": _big,
    "baseFeePerGas": _big,
    "difficulty": _big,
    "size": _small,
}
_LOG_FIELDS: dict[str, Callable[[Any, str], None]] = {
    "address": _address,
    "blockNumber": _small,
    "blockHash": _hash,
    "transactionHash": _hash,
    "transactionIndex": _small,
    "logIndex": _small,
    "data": _data,
}


def _fields(value: Any, what: str, checks: Mapping[str, Callable[[Any, str], None]]) -> None:
    if not isinstance(value, dict):
        raise AnswerRejected(f"{what}: not an object: {type(value).__name__}")
    for name, check in checks.items():
        if value.get(name) is not None:
            check(value[name], f"{what}.{name}")


def _block(value: Any, what: str) -> None:
    if value is None:  # the node does not have the block: an answer, not a fault
        return
    _fields(value, what, _BLOCK_FIELDS)
    for name in ("number", "timestamp", "hash"):
        if value.get(name) is None:
            raise AnswerRejected(f"{what}: no {name}")


def _logs(value: Any, what: str) -> None:
    if not isinstance(value, list):
        raise AnswerRejected(f"{what}: not a list: {type(value).__name__}")
    for index, entry in enumerate(value):
        _fields(entry, f"{what}[{index}]", _LOG_FIELDS)
        topics = entry.get("topics", [])
        if not isinstance(topics, list) or len(topics) > 4:
            raise AnswerRejected(f"{what}[{index}].topics: not a list of at most 4")
        for position, topic in enumerate(topics):
            _hash(topic, f"{what}[{index}].topics[{position}]")


_RESULTS: dict[str, Callable[[Any, str], None]] = {
    "eth_blockNumber": _small,
    "eth_chainId": _small,
    "net_version": lambda value, what: None,
    "eth_gasPrice": _big,
    "eth_maxPriorityFeePerGas": _big,
    "eth_getBalance": _big,
    "eth_estimateGas": _big,
    "eth_getTransactionCount": _big,
    "eth_getBlockByNumber": _block,
    "eth_getBlockByHash": _block,
    "eth_call": _data,
    "eth_getCode": _data,
    "eth_getStorageAt": _data,
    "eth_getLogs": _logs,
}


def check_answer(method: str, response: Any) -> None:
    """Refuse a JSON-RPC ``response`` to ``method`` that is not an object with a ``result`` or
    an ``error``, or whose result is out of range for the method (see the module docstring).

    An ``error`` answer (a revert, an unknown block) passes: it is the node's answer, shown
    bounded and escaped by whoever reports it. Raises ``AnswerRejected``.
    """
    if not isinstance(response, dict):
        raise AnswerRejected(f"{method}: answer is not a JSON-RPC object")
    if "error" in response:
        return
    if "result" not in response:
        raise AnswerRejected(f"{method}: answer has neither result nor error")
    check = _RESULTS.get(method)
    if check is not None:
        check(response["result"], f"{method} result")
