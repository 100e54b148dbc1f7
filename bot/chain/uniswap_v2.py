"""Uniswap V2 pair reader: everything ``burn`` reads, and LP balances, pinned to one block.

After the first read (which also loads token0/token1, their decimals/symbols and the pair's
factory, cached for the reader's life) each read is one eth_call through Multicall, or one
eth_call per value when no Multicall address is configured; every call uses
``block_identifier=block_number``. Besides reserves and supply a read takes ``kLast`` from the
pair, ``feeTo`` from the factory and the pair's token balances, so the core can compute what
``burn`` pays including the pending protocol-fee mint (``bot.core.amm.burn_supply``) with the
pair's own ``_mintFee`` share (the position's ``protocol_fee``: Uniswap's, or PancakeSwap's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode
from web3 import AsyncWeb3

from bot.chain.multicall import BatchReader, ContractCall, encode_call
from bot.chain.rpc import checksum, load_abi
from bot.core.amm import UNISWAP_V2_FEE, ProtocolFeeShare, v2_exposure
from bot.domain import PositionExposure, TokenInfo, V2PoolRead
from bot.errors import ChainError
from bot.safety import safe_str

__all__ = ["V2PoolReader"]

_CALL_SETS_KEPT = 8  # encoded call lists a reader keeps (one per distinct list of owners)


def _symbol(raw: bytes, address: str) -> str:
    """ERC-20 ``symbol()`` as a string; tolerates the old ``bytes32`` form (e.g. MKR)."""
    try:
        (text,) = decode(["string"], raw)
        return str(text)
    except Exception:  # noqa: BLE001 - fall back to bytes32, then to the address
        if len(raw) == 32:
            return raw.rstrip(b"\0").decode("utf-8", "replace")
        return address[:10]


class V2PoolReader:
    """Reads one Uniswap V2 pair (or a fork's) and its LP holders at a given block.

    ``fee_share`` is the pair's ``_mintFee`` share (``bot.core.amm.UNISWAP_V2_FEE`` or
    ``PANCAKE_V2_FEE``): what ``exposure`` adds to the supply while the fee is on.
    """

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        pair: str,
        *,
        multicall: str | None = None,
        request_timeout_s: float = 10.0,
        fee_share: ProtocolFeeShare = UNISWAP_V2_FEE,
    ) -> None:
        self.pair = AsyncWeb3.to_checksum_address(pair)
        self.fee_share = fee_share
        self._batch = BatchReader(w3, multicall=multicall, request_timeout_s=request_timeout_s)
        self._pair_abi = load_abi("uniswap_v2_pair")
        self._erc20_abi = load_abi("erc20")
        self._factory_abi = load_abi("uniswap_v2_factory")
        self._tokens: tuple[TokenInfo, TokenInfo] | None = None
        self._factory: str | None = None
        self._calls: dict[tuple[str, ...], list[ContractCall]] = {}  # owners -> a read's calls

    @property
    def tokens(self) -> tuple[TokenInfo, TokenInfo] | None:
        """``(token0, token1)`` once loaded by a first read."""
        return self._tokens

    def _pair_call(self, fn_name: str, *args: Any) -> ContractCall:
        return encode_call(f"pair.{fn_name}", self.pair, self._pair_abi, fn_name, *args)

    async def load_tokens(self, block_number: int) -> tuple[TokenInfo, TokenInfo]:
        """token0/token1 with decimals and symbols, and the factory (read once, then cached)."""
        if self._tokens is not None:
            return self._tokens
        token0, token1, factory = (
            AsyncWeb3.to_checksum_address(values[0])
            for values in await self._batch.run(
                [self._pair_call("token0"), self._pair_call("token1"), self._pair_call("factory")],
                block_number,
            )
        )
        calls: list[ContractCall] = []
        for token in (token0, token1):
            calls.append(encode_call("token.decimals", token, self._erc20_abi, "decimals"))
            calls.append(
                encode_call("token.symbol", token, self._erc20_abi, "symbol", raw_output=True)
            )
        try:
            dec0, sym0, dec1, sym1 = await self._batch.run(calls, block_number)
        except ChainError as exc:
            raise ChainError(
                f"pair {self.pair}: token metadata unreadable: {safe_str(exc)}"
            ) from exc
        self._tokens = (
            TokenInfo(address=token0, symbol=_symbol(sym0[0], token0), decimals=int(dec0[0])),
            TokenInfo(address=token1, symbol=_symbol(sym1[0], token1), decimals=int(dec1[0])),
        )
        self._factory = factory
        return self._tokens

    def exposure(
        self, read: V2PoolRead, base_is_token0: bool, position_id: str
    ) -> PositionExposure:
        """What ``burn`` pays for ``read``'s LP tokens (human units), the pending protocol-fee
        mint counted with this pair's ``fee_share`` (``bot.core.amm.v2_exposure``, which raises
        ``ValueError`` for an empty reserve)."""
        return v2_exposure(read, base_is_token0, position_id, self.fee_share)

    async def read(self, block_number: int, owner: str) -> V2PoolRead:
        """Pair state and ``owner``'s LP balance at ``block_number``."""
        (result,) = await self.read_many(block_number, [owner])
        return result

    def _state_calls(self, token0: str, token1: str) -> list[ContractCall]:
        """Everything ``burn`` reads besides the LP's own balance, in this order."""
        assert self._factory is not None  # loaded with the tokens
        return [
            self._pair_call("getReserves"),
            self._pair_call("totalSupply"),
            self._pair_call("kLast"),
            encode_call("factory.feeTo", self._factory, self._factory_abi, "feeTo"),
            encode_call("token0.balanceOf", token0, self._erc20_abi, "balanceOf", self.pair),
            encode_call("token1.balanceOf", token1, self._erc20_abi, "balanceOf", self.pair),
        ]

    async def read_many(self, block_number: int, owners: Sequence[str]) -> tuple[V2PoolRead, ...]:
        """Pair state and each owner's LP balance at ``block_number``, in one batch.

        Raises ``ChainError`` when any call fails or does not decode.
        """
        token0, token1 = await self.load_tokens(block_number)
        key = tuple(owners)
        calls = self._calls.get(key)
        if calls is None:  # the same calls every block: encoded once per set of owners
            calls = self._state_calls(token0.address, token1.address)
            calls += [self._pair_call("balanceOf", checksum(o)) for o in owners]
            if len(self._calls) >= _CALL_SETS_KEPT:
                self._calls.clear()
            self._calls[key] = calls
        state_count = len(calls) - len(owners)
        results = await self._batch.run(calls, block_number)
        (reserve0, reserve1, _), (total_supply,), (k_last,), (fee_to,), (bal0,), (bal1,) = results[
            :state_count
        ]
        return tuple(
            V2PoolRead(
                pair=self.pair,
                token0=token0,
                token1=token1,
                reserve0=int(reserve0),
                reserve1=int(reserve1),
                total_supply=int(total_supply),
                lp_balance=int(balance[0]),
                k_last=int(k_last),
                fee_on=int(str(fee_to), 16) != 0,
                balance0=int(bal0),
                balance1=int(bal1),
            )
            for balance in results[state_count:]
        )
