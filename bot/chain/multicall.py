"""Batch read calls pinned to one block: one ``tryAggregate`` eth_call, or one eth_call each.

The Multicall ABI (``abi/multicall.json``) matches Multicall3's ``tryAggregate``, so the same
code works against the locally deployed ``Multicall`` and Multicall3 on public chains.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.abi import decode, encode
from eth_utils.abi import (
    filter_abi_by_name,
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)
from web3 import AsyncWeb3

from bot.chain.abi_words import decode_try_aggregate, encode_try_aggregate, static_decoder
from bot.chain.rpc import checksum, eth_call, load_abi
from bot.errors import ChainError
from bot.safety import safe_str

__all__ = ["BatchReader", "ContractCall", "encode_call"]


@dataclass(frozen=True, slots=True)
class ContractCall:
    """One read call: target, calldata and how to decode the answer."""

    label: str  # for error messages, e.g. "pair.getReserves"
    target: str
    data: bytes
    output_types: tuple[str, ...]  # empty: keep the answer as raw bytes

    def decode(self, raw: bytes) -> tuple[Any, ...]:
        """The decoded return values; ``ChainError`` when the answer does not decode."""
        if not self.output_types:
            return (raw,)
        try:
            fast = static_decoder(self.output_types)  # flat static words: exact, by slicing
            return fast(raw) if fast is not None else tuple(decode(list(self.output_types), raw))
        except Exception as exc:
            raise ChainError(f"{self.label}: undecodable answer 0x{raw.hex()[:80]}") from exc


@dataclass(frozen=True, slots=True)
class _Function:
    """What encoding a call of one ABI function needs, derived once per (ABI, name, arity)."""

    abi: list[dict[str, Any]]  # kept so the cache key's id() cannot be reused while cached
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]


_FUNCTIONS: dict[tuple[int, str, int], _Function] = {}
_FUNCTIONS_KEPT = 1024


def _function(abi: list[dict[str, Any]], fn_name: str, arity: int) -> _Function:
    """The selector and types of ``fn_name`` with ``arity`` inputs in ``abi`` (cached)."""
    key = (id(abi), fn_name, arity)
    known = _FUNCTIONS.get(key)
    if known is not None and known.abi is abi:
        return known
    candidates = [
        entry
        for entry in filter_abi_by_name(fn_name, cast(Any, abi))
        if entry["type"] == "function" and len(entry.get("inputs", [])) == arity
    ]
    if len(candidates) != 1:
        raise ValueError(f"{fn_name} with {arity} arguments is not unique in the ABI")
    fn_abi = cast(Any, candidates[0])
    function = _Function(
        abi=abi,
        selector=function_abi_to_4byte_selector(fn_abi),
        input_types=tuple(get_abi_input_types(fn_abi)),
        output_types=tuple(get_abi_output_types(fn_abi)),
    )
    if len(_FUNCTIONS) >= _FUNCTIONS_KEPT:
        _FUNCTIONS.clear()  # bounded: readers built over and over (tests) load fresh ABIs
    _FUNCTIONS[key] = function
    return function


def encode_call(
    label: str,
    target: str,
    abi: list[dict[str, Any]],
    fn_name: str,
    *args: Any,
    raw_output: bool = False,
) -> ContractCall:
    """Encode ``fn_name(*args)`` of the contract at ``target`` described by ``abi``.

    ``raw_output`` keeps the answer undecoded, for callers that decode leniently. Raises
    ``ValueError`` when ``fn_name`` with that many arguments is not unique in ``abi`` or an
    argument does not fit its type (eth_abi's checks).
    """
    function = _function(abi, fn_name, len(args))
    data = function.selector + encode(list(function.input_types), args)
    return ContractCall(
        label=label,
        target=checksum(target),
        data=data,
        output_types=() if raw_output else function.output_types,
    )


_TRY_AGGREGATE = "tryAggregate"
_ENCODED_KEPT = 16  # chunk encodings a reader keeps (a plan of 16,000 calls)


class BatchReader:
    """Runs ``ContractCall``s at one block, batched through Multicall when configured.

    Past ``max_calls_per_eth_call`` sub-calls the batch is split into concurrent eth_calls,
    all pinned to the same block (one call would exceed nodes' eth_call gas cap).
    """

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        *,
        multicall: str | None = None,
        request_timeout_s: float = 10.0,
        max_calls_per_eth_call: int = 1000,
    ) -> None:
        self._w3 = w3
        self._timeout_s = request_timeout_s
        self._multicall = checksum(multicall) if multicall is not None else None
        self._multicall_abi = load_abi("multicall")
        self._max_calls = max_calls_per_eth_call
        # calldata of recent chunks by the identity of their calls (a reader's per-block plan
        # is the same list of ContractCall objects every block); the calls are kept with it,
        # so an id cannot be reused while cached
        self._encoded: dict[tuple[int, ...], tuple[Sequence[ContractCall], bytes]] = {}

    @property
    def batched(self) -> bool:
        """True when reads go through one Multicall eth_call."""
        return self._multicall is not None

    async def run(self, calls: Sequence[ContractCall], block_number: int) -> list[tuple[Any, ...]]:
        """Decoded results of every call at ``block_number``; any failure raises ``ChainError``."""
        results = await self.try_run(calls, block_number)
        failed = [c.label for c, r in zip(calls, results, strict=True) if r is None]
        if failed:
            raise ChainError(f"{failed[0]} reverted at block {block_number}")
        return [r for r in results if r is not None]

    async def try_run(
        self,
        calls: Sequence[ContractCall],
        block_number: int,
        decode: Callable[[ContractCall, bytes], tuple[Any, ...]] | None = None,
    ) -> list[tuple[Any, ...] | None]:
        """Decoded results at ``block_number``, ``None`` where a call reverted.

        ``decode(call, raw)`` replaces ``call.decode`` (a faster decoder for static words).
        A transport failure or an undecodable answer raises ``ChainError``.
        """
        if not calls:
            return []
        if self._multicall is None:
            raws = await asyncio.gather(*(self._single(c, block_number) for c in calls))
        else:
            size = self._max_calls
            chunks = [calls[i : i + size] for i in range(0, len(calls), size)]
            parts = await asyncio.gather(
                *(self._batch(self._multicall, chunk, block_number) for chunk in chunks)
            )
            raws = [raw for part in parts for raw in part]
        decoder = decode or ContractCall.decode
        return [
            None if raw is None else decoder(call, raw)
            for call, raw in zip(calls, raws, strict=True)
        ]

    async def _single(self, call: ContractCall, block_number: int) -> bytes | None:
        try:
            return await eth_call(
                self._w3, call.target, call.data, block_number, timeout_s=self._timeout_s
            )
        except ChainError as exc:
            if "revert" in safe_str(exc).lower():
                return None
            raise ChainError(f"{call.label} at block {block_number}: {safe_str(exc)}") from exc

    def _calldata(self, calls: Sequence[ContractCall]) -> bytes:
        """``tryAggregate(false, calls)`` calldata, reused while the same calls come again."""
        key = tuple(map(id, calls))
        known = self._encoded.get(key)
        if known is not None:
            return known[1]
        selector = _function(self._multicall_abi, _TRY_AGGREGATE, 2).selector
        data = encode_try_aggregate(selector, False, [(c.target, c.data) for c in calls])
        if len(self._encoded) >= _ENCODED_KEPT:
            self._encoded.pop(next(iter(self._encoded)))  # the oldest
        self._encoded[key] = (tuple(calls), data)
        return data

    async def _batch(
        self, multicall: str, calls: Sequence[ContractCall], block_number: int
    ) -> list[bytes | None]:
        data = self._calldata(calls)
        try:
            raw = await eth_call(self._w3, multicall, data, block_number, timeout_s=self._timeout_s)
        except ChainError as exc:
            raise ChainError(f"multicall at block {block_number}: {safe_str(exc)}") from exc
        try:
            results = decode_try_aggregate(raw)
        except ValueError as exc:
            raise ChainError(
                f"multicall.tryAggregate: undecodable answer 0x{raw.hex()[:80]}: {exc}"
            ) from exc
        if len(results) != len(calls):
            raise ChainError(f"multicall returned {len(results)} results for {len(calls)} calls")
        return [data if success else None for success, data in results]
