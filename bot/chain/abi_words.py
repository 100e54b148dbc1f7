"""Exact ABI coding of the few shapes the readers use per block, by slicing 32-byte words.

eth_abi's generic coders validate and dispatch per value; at 1,000 positions a block's batch
(``tryAggregate(bool,(address,bytes)[])`` with ~4,000 sub-calls, and as many answers) spent
most of its time there. These functions produce and accept exactly what eth_abi does (the
unit tests compare them on generated and mutated payloads), with the same checks:

* :func:`encode_try_aggregate` — the calldata of ``tryAggregate(require, calls)``;
* :func:`decode_try_aggregate` — its ``(bool success, bytes returnData)[]`` answer, following
  offsets like eth_abi and refusing what its strict mode refuses (pointers into the head or
  past the end, non-zero padding, a bool other than 0/1, short data);
* :func:`static_decoder` — a decoder for a flat list of static words (``uintN``, ``intN``,
  ``address``, ``bool``) that refuses values out of their type's range, as eth_abi does.

Every refusal raises ``ValueError`` naming what is wrong; callers wrap it in ``ChainError``.
The ABI layout is the Solidity ABI specification's head/tail encoding ("Contract ABI
Specification", docs.soliditylang.org).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

__all__ = [
    "decode_try_aggregate",
    "encode_try_aggregate",
    "static_decoder",
]

_WORD = 32
_ZERO_WORD = bytes(32)
_TRUE_WORD = (1).to_bytes(32, "big")
_OFFSET_64 = (64).to_bytes(32, "big")


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def encode_try_aggregate(
    selector: bytes, require_success: bool, calls: Sequence[tuple[str, bytes]]
) -> bytes:
    """Calldata of ``tryAggregate(bool, (address target, bytes callData)[])``.

    ``calls`` holds ``(0x-hex address, calldata)`` pairs; byte-for-byte what
    ``selector + eth_abi.encode(["bool", "(address,bytes)[]"], ...)`` gives. Raises
    ``ValueError`` for an address that is not 20 bytes of hex.
    """
    elements: list[bytes] = []
    offsets: list[bytes] = []
    at = _WORD * len(calls)  # element offsets are relative to the first offset word
    for target, data in calls:
        address = bytes.fromhex(target[2:] if target[:2] in ("0x", "0X") else target)
        if len(address) != 20:
            raise ValueError(f"not a 20-byte address: {target!r}")
        pad = -len(data) % _WORD
        element = b"".join((bytes(12), address, _OFFSET_64, _word(len(data)), data, bytes(pad)))
        offsets.append(_word(at))
        elements.append(element)
        at += len(element)
    head = (_TRUE_WORD if require_success else _ZERO_WORD) + _OFFSET_64 + _word(len(calls))
    return selector + head + b"".join(offsets) + b"".join(elements)


def _read_word(raw: bytes, at: int) -> int:
    if at < 0 or at + _WORD > len(raw):
        raise ValueError(f"short answer: no word at byte {at} of {len(raw)}")
    return int.from_bytes(raw[at : at + _WORD], "big")


def _pointer(raw: bytes, frame: int, head_end: int, at: int) -> int:
    """The absolute position an offset word at ``at`` points to, relative to ``frame``;
    eth_abi's ``InvalidPointer`` rule: not inside the head, not at or past the end."""
    target = frame + _read_word(raw, at)
    if target < head_end or target >= len(raw):
        raise ValueError(f"invalid pointer at byte {at}")
    return target


def _bytes_at(raw: bytes, at: int) -> bytes:
    length = _read_word(raw, at)
    start = at + _WORD
    padded = length + (-length % _WORD)
    if start + padded > len(raw):
        raise ValueError(f"short answer: {padded} bytes of data at byte {start}")
    if raw[start + length : start + padded].strip(b"\0"):
        raise ValueError(f"non-zero padding after the bytes at byte {start}")
    return raw[start : start + length]


def _bool_at(raw: bytes, at: int) -> bool:
    word = raw[at : at + _WORD]
    if len(word) != _WORD:
        raise ValueError(f"short answer: no word at byte {at} of {len(raw)}")
    if word == _ZERO_WORD:
        return False
    if word == _TRUE_WORD:
        return True
    raise ValueError(f"bool at byte {at} is neither 0 nor 1")


def decode_try_aggregate(raw: bytes) -> list[tuple[bool, bytes]]:
    """``tryAggregate``'s answer ``(bool success, bytes returnData)[]`` as a list of pairs.

    Accepts and refuses exactly what ``eth_abi.decode(["(bool,bytes)[]"], raw)`` does
    (strict mode); raises ``ValueError`` otherwise.
    """
    array = _pointer(raw, 0, _WORD, 0)
    count = _read_word(raw, array)
    frame = array + _WORD
    head_end = frame + _WORD * count
    if head_end > len(raw):
        raise ValueError(f"short answer: {count} results do not fit in {len(raw)} bytes")
    out: list[tuple[bool, bytes]] = []
    for i in range(count):
        element = _pointer(raw, frame, head_end, frame + _WORD * i)
        # the element's own head: the bool word, then the offset of its bytes
        data = _pointer(raw, element, element + 2 * _WORD, element + _WORD)
        out.append((_bool_at(raw, element), _bytes_at(raw, data)))
    return out


_UINT, _INT, _ADDRESS, _BOOL = range(4)


def _word_kind(kind: str) -> tuple[int, int] | None:
    """(code, bits) of a static word type, ``None`` for anything else."""
    if kind == "address":
        return _ADDRESS, 160
    if kind == "bool":
        return _BOOL, 8
    for prefix, code in (("uint", _UINT), ("int", _INT)):
        if kind.startswith(prefix):
            size = kind[len(prefix) :] or "256"
            if size.isdigit() and int(size) % 8 == 0 and 8 <= int(size) <= 256:
                return code, int(size)
    return None


def _decode_words(raw: bytes, kinds: Sequence[tuple[int, int]]) -> tuple[Any, ...]:
    out: list[Any] = []
    for i, (code, bits) in enumerate(kinds):
        word = raw[_WORD * i : _WORD * i + _WORD]
        if code == _INT:
            value = int.from_bytes(word, "big", signed=True)
            if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
                raise ValueError(f"word {i}: out of range for int{bits}")
            out.append(value)
            continue
        value = int.from_bytes(word, "big")
        if value >> bits:
            raise ValueError(f"word {i}: out of range for its {bits}-bit type")
        if code == _UINT:
            out.append(value)
        elif code == _ADDRESS:
            out.append("0x" + word[12:].hex())
        elif value > 1:
            raise ValueError(f"word {i}: bool is neither 0 nor 1")
        else:
            out.append(value == 1)
    return tuple(out)


@lru_cache(maxsize=256)
def static_decoder(types: tuple[str, ...]) -> Callable[[bytes], tuple[Any, ...]] | None:
    """A decoder of answers made of ``types`` when each is a static word type (``uintN``,
    ``intN``, ``address``, ``bool``), else ``None`` (use eth_abi).

    The decoder returns the values (addresses lower-case ``0x`` hex) and raises
    ``ValueError`` for a short answer or a value outside its type, like eth_abi's strict
    mode; trailing bytes are ignored, as eth_abi ignores them.
    """
    found = [_word_kind(kind) for kind in types]
    kinds = [k for k in found if k is not None]
    if not types or len(kinds) != len(types):
        return None
    size = _WORD * len(types)

    def decode(raw: bytes) -> tuple[Any, ...]:
        if len(raw) < size:
            raise ValueError(f"short answer: {len(raw)} bytes for {len(types)} words")
        return _decode_words(raw, kinds)

    return decode
