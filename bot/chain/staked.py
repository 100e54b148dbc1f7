"""Where an owner's V3 NFTs sit: in the wallet, or staked in a MasterChefV3 or a gauge.

A :class:`Holder` is one place the config names for an owner: the wallet (enumerated on the
position manager, ``balanceOf``/``tokenOfOwnerByIndex``), a PancakeSwap ``MasterChefV3``
(which holds the NFT and enumerates its depositors' ids with the same two functions, and
names each id's depositor in ``userPositionInfos(id).user``), or an Aerodrome/Velodrome
Slipstream ``CLGauge`` (``stakedValues(depositor)`` lists the ids, ``stakedContains``
confirms one). Each holder gives the calls of one block's check (has the set changed?), the
calls of a full enumeration, and the call confirming that a staked NFT is the owner's.

Locations are ``wallet`` or ``staked:<checksummed staker address>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.chain.multicall import ContractCall, encode_call

__all__ = ["WALLET", "Holder", "StakerKind", "location_of", "staked_location"]

StakerKind = Literal["masterchef_v3", "gauge"]
WALLET = "wallet"

# What a Run gives: the decoded answers of ``calls`` at a block, each call must succeed.
RunAll = Callable[[Sequence[ContractCall], int], Awaitable[list[tuple[Any, ...]]]]


def _view(name: str, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [{"name": f"arg{i}", "type": t} for i, t in enumerate(inputs)],
        "outputs": [{"name": f"out{i}", "type": t} for i, t in enumerate(outputs)],
    }


# MasterChefV3 (pancake-v3-contracts, masterchef-v3): the public mapping getter
# userPositionInfos(tokenId) -> (liquidity, boostLiquidity, tickLower, tickUpper,
# rewardGrowthInside, reward, user, pid, boostMultiplier); the depositor is word 6.
_CHEF_ABI = [
    _view("balanceOf", ["address"], ["uint256"]),
    _view("tokenOfOwnerByIndex", ["address", "uint256"], ["uint256"]),
    _view(
        "userPositionInfos",
        ["uint256"],
        [
            "uint128",
            "uint128",
            "int24",
            "int24",
            "uint256",
            "uint256",
            "address",
            "uint256",
            "uint256",
        ],
    ),
]
_CHEF_USER = 6
# CLGauge (Slipstream): stakedValues(depositor) -> uint256[]; stakedContains(depositor, id).
_GAUGE_ABI = [
    _view("stakedValues", ["address"], ["uint256[]"]),
    _view("stakedContains", ["address", "uint256"], ["bool"]),
]


def staked_location(staker: str) -> str:
    """The location of an NFT staked in ``staker``."""
    return f"staked:{staker}"


@dataclass(frozen=True, slots=True)
class Holder:
    """One place an owner's NFTs may sit: ``kind`` ``wallet`` (enumerated on the position
    manager at ``address``) or a staker kind (the staking contract at ``address``)."""

    kind: Literal["wallet"] | StakerKind
    address: str  # the position manager for the wallet, else the staking contract
    owner: str
    _abi: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def wallet(cls, npm: str, owner: str, npm_abi: list[dict[str, Any]]) -> Holder:
        """The owner's own NFTs on the position manager ``npm``."""
        return cls("wallet", npm, owner, npm_abi)

    @classmethod
    def staker(cls, kind: StakerKind, address: str, owner: str) -> Holder:
        """The owner's NFTs deposited in the staking contract at ``address``."""
        return cls(kind, address, owner, _CHEF_ABI if kind == "masterchef_v3" else _GAUGE_ABI)

    @property
    def location(self) -> str:
        """``wallet`` or ``staked:<address>``."""
        return WALLET if self.kind == "wallet" else staked_location(self.address)

    def _call(self, fn: str, *args: Any) -> ContractCall:
        return encode_call(
            f"{self.kind} {self.address}.{fn}{args!r}", self.address, self._abi, fn, *args
        )

    def check_calls(self, known: int) -> list[ContractCall]:
        """One block's calls telling whether the holder's ids changed (``known`` ids so far)."""
        if self.kind == "gauge":
            return [self._call("stakedValues", self.owner)]
        calls = [self._call("balanceOf", self.owner)]
        return calls + [self._call("tokenOfOwnerByIndex", self.owner, i) for i in range(known)]

    def unchanged(self, answers: Sequence[tuple[Any, ...] | None], known: list[int]) -> bool:
        """Whether the answers to :meth:`check_calls` show exactly ``known`` (in order);
        a failed call is a change (the full enumeration then says what failed)."""
        if any(a is None for a in answers):
            return False
        if self.kind == "gauge":
            return [int(i) for i in answers[0][0]] == known  # type: ignore[index]
        count, *ids = (int(a[0]) for a in answers if a is not None)
        return count == len(known) and ids == known

    async def enumerate(self, run_all: RunAll, block: int) -> list[int]:
        """Every token id the holder has for the owner at ``block``, in its index order."""
        if self.kind == "gauge":
            ((ids,),) = await run_all([self._call("stakedValues", self.owner)], block)
            return [int(i) for i in ids]
        ((count,),) = await run_all([self._call("balanceOf", self.owner)], block)
        calls = [self._call("tokenOfOwnerByIndex", self.owner, i) for i in range(int(count))]
        return [int(r[0]) for r in await run_all(calls, block)]

    def depositor_call(self, token_id: int) -> ContractCall:
        """The staker's call naming (chef) or confirming (gauge) the depositor of ``token_id``."""
        if self.kind == "masterchef_v3":
            return self._call("userPositionInfos", token_id)
        if self.kind == "gauge":
            return self._call("stakedContains", self.owner, token_id)
        raise ValueError("a wallet has no depositor")

    def deposited_by_owner(self, answer: tuple[Any, ...]) -> bool:
        """Whether :meth:`depositor_call`'s answer says the owner deposited the NFT."""
        if self.kind == "masterchef_v3":
            return str(answer[_CHEF_USER]).lower() == self.owner.lower()
        return bool(answer[0])


def location_of(
    holder_of_nft: str,
    owner: str,
    stakers: Sequence[Holder],
    deposits: Sequence[tuple[Any, ...] | None],
) -> str | None:
    """Where an NFT sits for ``owner`` given its ``ownerOf`` answer and each staker's
    depositor answer (same order as ``stakers``): ``wallet``, ``staked:<address>``, or None
    when it is neither the owner's nor staked by the owner in a configured staker."""
    if holder_of_nft.lower() == owner.lower():
        return WALLET
    for staker, answer in zip(stakers, deposits, strict=True):
        if holder_of_nft.lower() == staker.address.lower():
            if answer is not None and staker.deposited_by_owner(answer):
                return staker.location
            return None
    return None
