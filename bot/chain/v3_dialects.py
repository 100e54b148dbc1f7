"""V3 forks by dialect: one table of what differs between Uniswap V3 and its forks.

Each :class:`V3Dialect` says, for one ``protocol`` of a V3 position config:

* the ABI shapes the reader calls — the pool's ``slot0``/``ticks`` and the position
  manager's ``positions`` answers differ between forks;
* how a pool's address is derived from a position's (token0, token1, key) — the CREATE2
  deployer, its salt and init code, where the key is the fee tier or the tick spacing;
* where the owner's staked NFTs sit (``bot.chain.staked``) and what a staked position earns.

The reader looks a dialect up once per position and never branches on a protocol name.

Sources (each fork's own contracts): Uniswap v3-periphery ``PoolAddress.sol``; PancakeSwap
``pancake-v3-contracts`` (``PancakeV3Pool.slot0`` with ``uint32 feeProtocol``,
``PoolAddress.POOL_INIT_CODE_HASH`` over the ``PancakeV3PoolDeployer``,
``MasterChefV3``); Aerodrome/Velodrome Slipstream (``CLPool.slot0`` without
``feeProtocol``, ``CLPool.ticks`` with ``stakedLiquidityNet`` and ``rewardGrowthOutsideX128``,
``NonfungiblePositionManager.positions`` returning ``int24 tickSpacing``, pools as
EIP-1167 clones of ``CLFactory.poolImplementation()`` salted by (token0, token1, tickSpacing),
``CLGauge.stakedValues``/``stakedContains``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from bot.chain.multicall import encode_call
from bot.chain.rpc import checksum, load_abi
from bot.chain.staked import WALLET, Holder, RunAll, StakerKind
from bot.domain import PositionExposure

__all__ = [
    "PANCAKE_POOL_INIT_CODE_HASH",
    "UNISWAP_POOL_INIT_CODE_HASH",
    "V3_DIALECTS",
    "Earns",
    "V3Dialect",
    "V3Protocol",
    "clone_address",
    "create2_address",
    "dialect",
    "placed",
    "pool_creators",
    "stakers_of",
]

V3Protocol = Literal["uniswap_v3", "sushiswap_v3", "pancakeswap_v3", "slipstream"]
# what a position earns where it sits: the pool's fees, a farm's emissions, or both
Earns = Literal["fees", "emissions", "fees+emissions"]

# v3-periphery PoolAddress.POOL_INIT_CODE_HASH (keccak of the v3-core pool creation code);
# SushiSwap V3 deploys the same pool bytecode, so the same hash with its own factory.
UNISWAP_POOL_INIT_CODE_HASH = bytes.fromhex(
    "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
)
# pancake-v3-contracts v3-periphery PoolAddress.POOL_INIT_CODE_HASH (keccak of the
# PancakeV3Pool creation code), salted over the PancakeV3PoolDeployer, not the factory.
PANCAKE_POOL_INIT_CODE_HASH = bytes.fromhex(
    "6ce8eb472fa82df5469c6ab6d485f17c3ad13c8cd7af59b3d4a8026c5ce0f7e2"
)
# EIP-1167 minimal proxy creation code around the implementation address (OpenZeppelin
# Clones.cloneDeterministic / predictDeterministicAddress).
_CLONE_PREFIX = bytes.fromhex("3d602d80600a3d3981f3363d3d373d3d3d363d73")
_CLONE_SUFFIX = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")


def create2_address(deployer: str, salt: bytes, init_code_hash: bytes) -> str:
    """EIP-1014: ``keccak256(0xff ++ deployer ++ salt ++ init_code_hash)[12:]``, EIP-55."""
    digest = keccak(b"\xff" + bytes.fromhex(deployer[2:]) + salt + init_code_hash)
    return checksum("0x" + digest[12:].hex())


def clone_address(deployer: str, implementation: str, salt: bytes) -> str:
    """Clones.predictDeterministicAddress: the CREATE2 address of an EIP-1167 clone of
    ``implementation`` made by ``deployer`` with ``salt``."""
    code = _CLONE_PREFIX + bytes.fromhex(implementation[2:]) + _CLONE_SUFFIX
    return create2_address(deployer, salt, keccak(code))


def _salt(token0: str, token1: str, key_type: str, key: int) -> bytes:
    """keccak256(abi.encode(token0, token1, key)): the pool's CREATE2 salt."""
    return keccak(encode(["address", "address", key_type], [token0, token1, key]))


def _uniswap_pool(creator: str, _: str | None, token0: str, token1: str, fee: int) -> str:
    return create2_address(
        creator, _salt(token0, token1, "uint24", fee), UNISWAP_POOL_INIT_CODE_HASH
    )


def _pancake_pool(deployer: str, _: str | None, token0: str, token1: str, fee: int) -> str:
    return create2_address(
        deployer, _salt(token0, token1, "uint24", fee), PANCAKE_POOL_INIT_CODE_HASH
    )


def _slipstream_pool(
    factory: str, implementation: str | None, token0: str, token1: str, spacing: int
) -> str:
    if implementation is None:
        raise ValueError("a Slipstream pool address needs the factory's poolImplementation")
    return clone_address(factory, implementation, _salt(token0, token1, "int24", spacing))


def _fn(name: str, inputs: list[str], outputs: list[tuple[str, str]]) -> dict[str, Any]:
    """One view function's ABI entry (inputs unnamed, outputs named)."""
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [{"name": f"arg{i}", "type": t} for i, t in enumerate(inputs)],
        "outputs": [{"name": n, "type": t} for t, n in outputs],
    }


def _with(abi: list[dict[str, Any]], *entries: dict[str, Any]) -> list[dict[str, Any]]:
    """``abi`` with each of ``entries`` replacing the function of its name (or added)."""
    names = {e["name"] for e in entries}
    return [e for e in abi if e.get("name") not in names] + list(entries)


_SLOT0_HEAD = [("uint160", "sqrtPriceX96"), ("int24", "tick"), ("uint16", "observationIndex")]
_SLOT0_CARD = [("uint16", "observationCardinality"), ("uint16", "observationCardinalityNext")]
_PANCAKE_SLOT0 = _fn(
    "slot0", [], [*_SLOT0_HEAD, *_SLOT0_CARD, ("uint32", "feeProtocol"), ("bool", "unlocked")]
)
_SLIPSTREAM_SLOT0 = _fn("slot0", [], [*_SLOT0_HEAD, *_SLOT0_CARD, ("bool", "unlocked")])
_SLIPSTREAM_TICKS = _fn(
    "ticks",
    ["int24"],
    [
        ("uint128", "liquidityGross"),
        ("int128", "liquidityNet"),
        ("int128", "stakedLiquidityNet"),
        ("uint256", "feeGrowthOutside0X128"),
        ("uint256", "feeGrowthOutside1X128"),
        ("uint256", "rewardGrowthOutsideX128"),
        ("int56", "tickCumulativeOutside"),
        ("uint160", "secondsPerLiquidityOutsideX128"),
        ("uint32", "secondsOutside"),
        ("bool", "initialized"),
    ],
)
_SLIPSTREAM_POSITIONS = _fn(
    "positions",
    ["uint256"],
    [
        ("uint96", "nonce"),
        ("address", "operator"),
        ("address", "token0"),
        ("address", "token1"),
        ("int24", "tickSpacing"),
        ("int24", "tickLower"),
        ("int24", "tickUpper"),
        ("uint128", "liquidity"),
        ("uint256", "feeGrowthInside0LastX128"),
        ("uint256", "feeGrowthInside1LastX128"),
        ("uint128", "tokensOwed0"),
        ("uint128", "tokensOwed1"),
    ],
)
_DEPLOYER = _fn("deployer", [], [("address", "deployer")])
_POOL_IMPLEMENTATION = _fn("poolImplementation", [], [("address", "poolImplementation")])


@dataclass(frozen=True, slots=True)
class V3Dialect:
    """How one V3 protocol is read: ABI shapes, pool addressing, staking.

    ``pool_creator`` is the position manager's getter of the CREATE2 deployer (``factory``
    or ``deployer``); ``implementation`` the deployer's getter of the clone implementation
    (Slipstream), read once. ``tick_fee_growth`` are the indexes of feeGrowthOutside0/1X128
    in ``ticks()``'s answer. ``staker`` is the contract kind holding staked NFTs (None: the
    protocol has none we read); ``staked_earns`` what a staked position earns instead.
    """

    protocol: V3Protocol
    npm_abi: list[dict[str, Any]] = field(repr=False)
    pool_abi: list[dict[str, Any]] = field(repr=False)
    pool_creator: Literal["factory", "deployer"]
    implementation: str | None
    derive_pool: Callable[[str, str | None, str, str, int], str] = field(repr=False)
    tick_fee_growth: tuple[int, int] = (2, 3)
    staker: StakerKind | None = None
    staked_earns: Earns = "fees"
    implementation_abi: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def pool_address(
        self, creator: str, implementation: str | None, token0: str, token1: str, key: int
    ) -> str:
        """The pool of (token0, token1, key): key is the fee tier (uint24) or, in
        Slipstream, the tick spacing (int24). ``ValueError`` when a fact is missing."""
        return self.derive_pool(creator, implementation, token0, token1, key)

    def earns(self, location: str) -> Earns:
        """What a position earns at ``location`` (``wallet`` or ``staked:<address>``)."""
        return "fees" if location == WALLET else self.staked_earns


def _table() -> dict[str, V3Dialect]:
    npm, pool = load_abi("uniswap_v3_position_manager"), load_abi("uniswap_v3_pool")
    uniswap = V3Dialect("uniswap_v3", npm, pool, "factory", None, _uniswap_pool)
    return {
        "uniswap_v3": uniswap,
        "sushiswap_v3": V3Dialect("sushiswap_v3", npm, pool, "factory", None, _uniswap_pool),
        "pancakeswap_v3": V3Dialect(
            "pancakeswap_v3",
            _with(npm, _DEPLOYER),
            _with(pool, _PANCAKE_SLOT0),
            "deployer",
            None,
            _pancake_pool,
            staker="masterchef_v3",
            staked_earns="fees+emissions",  # MasterChefV3 collects the LP's fees for the LP
        ),
        "slipstream": V3Dialect(
            "slipstream",
            _with(npm, _SLIPSTREAM_POSITIONS),
            _with(pool, _SLIPSTREAM_SLOT0, _SLIPSTREAM_TICKS),
            "factory",
            "poolImplementation",
            _slipstream_pool,
            tick_fee_growth=(3, 4),
            staker="gauge",
            staked_earns="emissions",  # a staked position's swap fees go to the gauge
            implementation_abi=[_POOL_IMPLEMENTATION],
        ),
    }


V3_DIALECTS: dict[str, V3Dialect] = _table()


def dialect(protocol: str) -> V3Dialect:
    """The dialect of ``protocol``; ``KeyError`` naming the known ones otherwise."""
    try:
        return V3_DIALECTS[protocol]
    except KeyError:
        known = ", ".join(sorted(V3_DIALECTS))
        raise KeyError(f"unknown V3 protocol {protocol!r} (known: {known})") from None


async def pool_creators(
    run_all: RunAll, position_managers: Sequence[tuple[str, str]], block: int
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(npm, protocol) -> (the pools' CREATE2 deployer, its clone implementation or None),
    read at ``block`` in two batched calls; ``PositionReadError`` when one reverts."""
    dialects = [dialect(p) for _, p in position_managers]
    answers = await run_all(
        [
            encode_call(f"npm.{d.pool_creator}", n, d.npm_abi, d.pool_creator)
            for (n, _), d in zip(position_managers, dialects, strict=True)
        ],
        block,
    )
    creators = [checksum(a[0]) for a in answers]
    clones = [
        (c, d, d.implementation)
        for c, d in zip(creators, dialects, strict=True)
        if d.implementation is not None
    ]
    implementations = await run_all(
        [encode_call(f"{c}.{fn}", c, d.implementation_abi, fn) for c, d, fn in clones], block
    )
    clone_of = {c[0]: checksum(a[0]) for c, a in zip(clones, implementations, strict=True)}
    return {
        key: (creator, clone_of.get(creator))
        for key, creator in zip(position_managers, creators, strict=True)
    }


def placed(exposure: PositionExposure, protocol: str, location: str) -> PositionExposure:
    """``exposure`` with its protocol, location and what it earns there. A staked position
    whose swap fees go to its gauge earns emissions: its fees are 0 (known, never booked as
    LP fees) and its delta is its amount of base alone; emissions are not read (unknown)."""
    earns = dialect(protocol).earns(location)
    out = replace(exposure, protocol=protocol, location=location, earns=earns)
    if earns == "emissions":
        zero = Decimal(0)
        return replace(out, fees_base=zero, fees_quote=zero, delta_base=out.amount_base)
    return out


def stakers_of(protocol: str, owner: str | None, staked_in: Sequence[str]) -> tuple[Holder, ...]:
    """The stakers ``staked_in`` names for ``owner``, as ``protocol``'s dialect reads them
    (none for a protocol without stakers or without an owner)."""
    kind = dialect(protocol).staker
    if kind is None or owner is None:
        return ()
    return tuple(Holder.staker(kind, s, owner) for s in staked_in)
