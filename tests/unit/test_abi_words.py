"""The word-slicing ABI coders equal eth_abi: same bytes out, same values in, same refusals."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode, encode
from hypothesis import given
from hypothesis import strategies as st

from bot.chain.abi_words import decode_try_aggregate, encode_try_aggregate, static_decoder
from bot.chain.multicall import ContractCall
from bot.errors import ChainError

pytestmark = pytest.mark.unit

SELECTOR = bytes.fromhex("bce38bd7")  # tryAggregate(bool,(address,bytes)[])
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
calls = st.lists(st.tuples(addresses, st.binary(max_size=100)), max_size=8)
results = st.lists(st.tuples(st.booleans(), st.binary(max_size=100)), max_size=8)


def _eth_abi_results(raw: bytes) -> list[tuple[bool, bytes]] | None:
    try:
        (decoded,) = decode(["(bool,bytes)[]"], raw)
    except Exception:  # noqa: BLE001 - any refusal counts as one
        return None
    return [(bool(ok), bytes(data)) for ok, data in decoded]


def _ours(raw: bytes) -> list[tuple[bool, bytes]] | None:
    try:
        return decode_try_aggregate(raw)
    except ValueError:
        return None


@given(require=st.booleans(), payload=calls)
def test_try_aggregate_calldata_is_eth_abi_encoding(
    require: bool, payload: list[tuple[str, bytes]]
) -> None:
    expected = SELECTOR + encode(["bool", "(address,bytes)[]"], [require, payload])
    assert encode_try_aggregate(SELECTOR, require, payload) == expected


@given(answer=results)
def test_try_aggregate_answer_decodes_like_eth_abi(answer: list[tuple[bool, bytes]]) -> None:
    raw = encode(["(bool,bytes)[]"], [answer])
    assert decode_try_aggregate(raw) == answer == _eth_abi_results(raw)


@given(
    answer=results,
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    cut=st.integers(min_value=0, max_value=64),
    extra=st.binary(max_size=40),
)
def test_try_aggregate_mutated_answer_is_refused_or_read_exactly_like_eth_abi(
    answer: list[tuple[bool, bytes]], edits: list[tuple[int, int]], cut: int, extra: bytes
) -> None:
    """Flipped bytes (offsets, lengths, bools, padding), truncation and trailing bytes: our
    decoder accepts exactly what strict eth_abi accepts, with the same values."""
    raw = bytearray(encode(["(bool,bytes)[]"], [answer]))
    for at, value in edits:
        if raw:
            raw[at % len(raw)] = value
    mutated = bytes(raw[: max(0, len(raw) - cut)]) + extra
    assert _ours(mutated) == _eth_abi_results(mutated)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"", "short"),
        ((0).to_bytes(32, "big") * 2, "pointer"),  # offset into the head
        ((32).to_bytes(32, "big") + (2**200).to_bytes(32, "big"), "short"),  # huge count
    ],
)
def test_try_aggregate_refuses_malformed_answers(raw: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        decode_try_aggregate(raw)


STATIC_TYPES = st.lists(
    st.sampled_from(["uint256", "uint128", "uint8", "int24", "int256", "address", "bool"]),
    min_size=1,
    max_size=6,
)


@given(types=STATIC_TYPES, data=st.data())
def test_static_decoder_equals_eth_abi_on_any_words(types: list[str], data: Any) -> None:
    """Random words (in range or not, short or long): same values or both refuse."""
    words = [
        data.draw(
            st.one_of(
                st.binary(min_size=32, max_size=32),
                st.integers(0, 2**32).map(lambda v: v.to_bytes(32, "big")),
                st.integers(-(2**20), -1).map(lambda v: v.to_bytes(32, "big", signed=True)),
            )
        )
        for _ in types
    ]
    raw = b"".join(words)[: data.draw(st.integers(0, 32 * len(types) + 8))]
    try:
        expected: tuple[Any, ...] | None = tuple(decode(types, raw))
    except Exception:  # noqa: BLE001
        expected = None
    fast = static_decoder(tuple(types))
    assert fast is not None
    try:
        got: tuple[Any, ...] | None = fast(raw)
    except ValueError:
        got = None
    assert got == expected


def test_static_decoder_declines_dynamic_and_array_types() -> None:
    assert static_decoder(("string",)) is None
    assert static_decoder(("uint256[]",)) is None
    assert static_decoder(("bytes32",)) is None
    assert static_decoder(()) is None


def test_contract_call_decode_refuses_out_of_range_word_as_chain_error() -> None:
    call = ContractCall("pool.ticks", "0x" + "11" * 20, b"", ("uint128", "int24"))
    assert call.decode((5).to_bytes(32, "big") + (-3).to_bytes(32, "big", signed=True)) == (5, -3)
    with pytest.raises(ChainError, match=r"pool\.ticks: undecodable"):
        call.decode((2**128).to_bytes(32, "big") + bytes(32))
    with pytest.raises(ChainError, match=r"pool\.ticks: undecodable"):
        call.decode(bytes(40))
