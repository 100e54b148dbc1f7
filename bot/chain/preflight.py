"""Read the chain once and say what in the config cannot work or holds nothing.

``preflight(settings)`` (for ``check-config --online``) and ``inspect_chain(w3, settings)`` (the
reader's start-up check) return ``Finding``s, each naming the config field it is about:

- errors: an RPC endpoint on another chain than its section's, two sections on one chain
  (``kind="wrong_chain"``, :mod:`bot.chain.chain_ids`; nothing else is read then); no
  contract at a configured address; hedge-asset tokens that are not the pool's pair
  (``kind="not_pair"``) or base and quote swapped against the venue's symbol (on-chain symbols
  ``USDT``/``WETH`` for ``ETH/USDT:USDT``, ``kind="swapped"``): the config is wrong, the bot
  refuses to start; a pool that cannot be valued (no reserves, an uninitialised V3 pool, an
  NFT that does not exist), an NFT the configured ``owner`` does not hold;
- warnings (``kind="empty"``): a position holding nothing (zero LP balance, an NFT with zero
  liquidity and nothing owed, an owner with no NFTs) — often a placeholder owner.

A node that cannot be reached raises ``ChainError``; everything the node answers becomes a
finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from web3 import AsyncWeb3

from bot.chain.chain_parts import chain_parts
from bot.chain.heads import latest_block
from bot.chain.multicall import encode_call
from bot.chain.rpc import checksum, eth_call, load_abi, rpc_request
from bot.chain.uniswap_v3 import pool_address, position_key
from bot.config import Settings, V2PositionConfig, V3PositionConfig, V4PositionConfig
from bot.errors import ChainError

__all__ = ["REFUSES_START", "Finding", "FindingKind", "inspect_chain", "preflight"]

FindingKind = Literal[
    "empty", "not_pair", "swapped", "no_contract", "unreadable", "wrong_chain", "not_owner"
]
# wrong config, not chain: a token not the pair, swapped, an RPC on another chain
REFUSES_START: frozenset[str] = frozenset({"not_pair", "swapped", "wrong_chain"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the chain says about the config: ``field`` is a dotted config path
    (``positions.0.owner``, ``hedge_asset.base_token``)."""

    severity: Literal["warning", "error"]
    field: str
    message: str
    kind: FindingKind = "unreadable"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _error(field: str, message: str, kind: FindingKind = "unreadable") -> Finding:
    return Finding("error", field, message, kind)


def _no_contract(field: str, address: str, block: int) -> Finding:
    return _error(field, f"no contract at {address} (block {block})", "no_contract")


def _empty(field: str, message: str) -> Finding:
    return Finding("warning", field, message, "empty")


class _Probe:
    """Read-only calls pinned to one block; a failed call becomes ``None``."""

    def __init__(self, w3: AsyncWeb3[Any], block: int, timeout_s: float) -> None:
        self.w3, self.block, self.timeout_s = w3, block, timeout_s
        self._abis = {
            name: load_abi(name)
            for name in (
                "erc20",
                "uniswap_v2_pair",
                "uniswap_v3_pool",
                "uniswap_v3_position_manager",
                "uniswap_v4_position_manager",
            )
        }

    async def has_code(self, address: str) -> bool:
        """True when a contract lives at ``address`` at the block; ``ChainError`` when the
        node does not answer."""
        code = await rpc_request(
            self.w3, "eth_getCode", checksum(address), hex(self.block), timeout_s=self.timeout_s
        )
        return isinstance(code, str) and code not in ("0x", "0x0", "")

    async def call(self, target: str, abi: str, fn: str, *args: Any) -> tuple[Any, ...] | None:
        """Decoded answer of ``fn(*args)``, ``None`` on a revert or an undecodable answer."""
        call = encode_call(f"{fn}", target, self._abis[abi], fn, *args)
        try:
            raw = await eth_call(
                self.w3, call.target, call.data, self.block, timeout_s=self.timeout_s
            )
            return call.decode(raw)
        except ChainError:
            return None


async def preflight(settings: Settings) -> list[Finding]:
    """Every finding for ``settings`` at each chain's newest block (one connection per chain
    holding positions, closed), fields named as in the whole config (``positions.3.owner``,
    ``chains.arbitrum.multicall``). Each endpoint's chain id is checked first
    (:mod:`bot.chain.chain_ids`); when one is wrong only those findings are returned.

    Raises ``ChainError`` (naming the chain when there are several) when no RPC endpoint of
    a chain answers.
    """
    from bot.chain.chain_ids import check_chain_ids, in_whole_config  # imports this module
    from bot.chain.reader import connect_web3  # the reader imports this module

    parts = [
        (
            part,
            connect_web3(
                part.settings.chain.rpc_urls,
                part.settings.chain.request_timeout_s,
                max_lag_blocks=part.settings.chain.max_rpc_lag_blocks,
                max_response_bytes=part.settings.chain.max_response_bytes,
            ),
        )
        for part in chain_parts(settings)
    ]
    try:
        findings = await check_chain_ids(parts)
        if any(f.kind in REFUSES_START for f in findings):
            return findings
        for part, w3 in parts:
            try:
                found = await inspect_chain(w3, part.settings)
            except ChainError as exc:
                if part.several:
                    raise ChainError(f"chain {part.name}: {exc}") from exc
                raise
            findings += [in_whole_config(part, f) for f in found]
    finally:
        for _, w3 in parts:
            await w3.provider.disconnect()
    return findings


async def inspect_chain(
    w3: AsyncWeb3[Any], settings: Settings, block: int | None = None
) -> list[Finding]:
    """Every finding for ``settings`` at ``block`` (default: the newest)."""
    timeout_s = settings.chain.request_timeout_s
    at = block if block is not None else await latest_block(w3, timeout_s=timeout_s)
    probe = _Probe(w3, at, timeout_s)
    findings = await _contracts(probe, settings)
    if not findings:
        findings += await _swapped(probe, settings)
    pair = (checksum(settings.hedge_asset.base_token), checksum(settings.hedge_asset.quote_token))
    for index, position in enumerate(settings.positions):
        if isinstance(position, V2PositionConfig):
            findings += await _v2(probe, pair, index, position)
        elif isinstance(position, V4PositionConfig):
            findings += await _v4(probe, pair, index, position)
        else:
            findings += await _v3(probe, pair, index, position)
    return findings


async def _contracts(probe: _Probe, settings: Settings) -> list[Finding]:
    addresses = {
        "hedge_asset.base_token": settings.hedge_asset.base_token,
        "hedge_asset.quote_token": settings.hedge_asset.quote_token,
    }
    if settings.chain.multicall is not None:
        addresses["chain.multicall"] = settings.chain.multicall
    return [
        _error(field, f"no contract at {checksum(address)} (block {probe.block})", "no_contract")
        for field, address in addresses.items()
        if int(address, 16) != 0 and not await probe.has_code(address)  # 0: native ETH (V4)
    ]


def _same_asset(token_symbol: str, venue_symbol: str) -> bool:
    """``WETH`` is the venue's ``ETH``; otherwise symbols must match (case aside)."""
    token, venue = token_symbol.strip().upper(), venue_symbol.strip().upper()
    return bool(venue) and token in (venue, "W" + venue)


async def _swapped(probe: _Probe, settings: Settings) -> list[Finding]:
    """An error when the base token is the venue's quote asset and the quote token its base
    asset (by on-chain ``symbol()``); nothing when a symbol cannot be read or is unrelated."""
    venue_base, _, rest = settings.exchange.symbol.partition("/")
    venue_quote = rest.partition(":")[0]
    asset = settings.hedge_asset
    symbols = [
        await probe.call(t, "erc20", "symbol") for t in (asset.base_token, asset.quote_token)
    ]
    if symbols[0] is None or symbols[1] is None:
        return []
    base_symbol, quote_symbol = str(symbols[0][0]), str(symbols[1][0])
    if not (_same_asset(base_symbol, venue_quote) and _same_asset(quote_symbol, venue_base)):
        return []
    return [
        _error(
            "hedge_asset.base_token",
            f"{checksum(asset.base_token)} is {base_symbol}, the quote asset of "
            f"{settings.exchange.symbol}, and hedge_asset.quote_token is {quote_symbol}: "
            "base and quote are swapped",
            "swapped",
        )
    ]


def _pair_findings(
    pair: tuple[str, str], tokens: Sequence[Any], pool: str, where: str
) -> list[Finding]:
    """``hedge_asset.*`` errors for configured tokens that are not ``tokens`` of ``pool``."""
    held = {checksum(str(t)) for t in tokens}
    return [
        _error(
            f"hedge_asset.{name}",
            f"{address} is not a token of pool {pool} ({where}); the pool holds "
            f"{', '.join(sorted(held))}",
            "not_pair",
        )
        for name, address in zip(("base_token", "quote_token"), pair, strict=True)
        if address not in held
    ]


async def _v2(
    probe: _Probe, pair: tuple[str, str], index: int, config: V2PositionConfig
) -> list[Finding]:
    where, pool, owner = f"positions.{index}", checksum(config.pool), checksum(config.owner)
    if not await probe.has_code(pool):
        return [_no_contract(f"{where}.pool", pool, probe.block)]
    tokens = [await probe.call(pool, "uniswap_v2_pair", fn) for fn in ("token0", "token1")]
    reserves = await probe.call(pool, "uniswap_v2_pair", "getReserves")
    balance = await probe.call(pool, "uniswap_v2_pair", "balanceOf", owner)
    if tokens[0] is None or tokens[1] is None or reserves is None or balance is None:
        return [_error(f"{where}.pool", f"{pool} does not answer as a Uniswap V2 pair")]
    findings = _pair_findings(pair, [tokens[0][0], tokens[1][0]], pool, where)
    if reserves[0] == 0 or reserves[1] == 0:
        findings.append(
            _error(f"{where}.pool", f"pool {pool} has no reserves: it cannot be valued")
        )
    if balance[0] == 0:
        findings.append(
            _empty(
                f"{where}.owner", f"{owner} holds no LP tokens of pool {pool} (block {probe.block})"
            )
        )
    return findings


async def _v3(
    probe: _Probe, pair: tuple[str, str], index: int, config: V3PositionConfig
) -> list[Finding]:
    where = f"positions.{index}"
    if config.position_manager is None:
        return await _v3_direct(probe, pair, where, config)
    npm = checksum(config.position_manager)
    if not await probe.has_code(npm):
        return [_no_contract(f"{where}.position_manager", npm, probe.block)]
    if config.protocol in ("pancakeswap_v3", "slipstream"):
        return []  # other ABI shapes and pool addresses: the reader's first read checks them
    if config.token_id is not None:
        found = await _v3_nft(probe, pair, where, npm, config.token_id)
        abi = "uniswap_v3_position_manager"
        return found + await _not_held(probe, (npm, abi), config.token_id, config.owner, where)
    assert config.owner is not None  # discover: validated by the config model
    owner = checksum(config.owner)
    count = await probe.call(npm, "uniswap_v3_position_manager", "balanceOf", owner)
    if count is None:
        return [_error(f"{where}.position_manager", f"{npm} does not answer as a position manager")]
    if count[0] == 0:
        return [
            _empty(
                f"{where}.owner", f"{owner} owns no position NFTs on {npm} (block {probe.block})"
            )
        ]
    findings: list[Finding] = []
    for i in range(int(count[0])):
        token = await probe.call(
            npm, "uniswap_v3_position_manager", "tokenOfOwnerByIndex", owner, i
        )
        if token is not None:
            findings += await _v3_nft(probe, pair, where, npm, int(token[0]))
    return findings


async def _v3_nft(
    probe: _Probe, pair: tuple[str, str], where: str, npm: str, token_id: int
) -> list[Finding]:
    position = await probe.call(npm, "uniswap_v3_position_manager", "positions", token_id)
    factory = await probe.call(npm, "uniswap_v3_position_manager", "factory")
    if position is None or factory is None:
        return [_error(f"{where}.token_id", f"NFT {token_id} does not exist on {npm}")]
    token0, token1, fee = position[2], position[3], int(position[4])
    pool = pool_address(checksum(factory[0]), checksum(token0), checksum(token1), fee)
    findings = _pair_findings(pair, [token0, token1], pool, where)
    findings += await _v3_pool_state(probe, pool, f"{where}.token_id")
    liquidity, owed0, owed1 = position[7], position[10], position[11]
    if liquidity == 0 and owed0 == 0 and owed1 == 0:
        findings.append(
            _empty(
                f"{where}.token_id", f"NFT {token_id} holds nothing (zero liquidity, nothing owed)"
            )
        )
    return findings


async def _v3_direct(
    probe: _Probe, pair: tuple[str, str], where: str, config: V3PositionConfig
) -> list[Finding]:
    # a direct position: the config model requires all four
    assert config.pool is not None
    assert config.owner is not None
    assert config.tick_lower is not None
    assert config.tick_upper is not None
    pool, owner = checksum(config.pool), checksum(config.owner)
    if not await probe.has_code(pool):
        return [_no_contract(f"{where}.pool", pool, probe.block)]
    tokens = [await probe.call(pool, "uniswap_v3_pool", fn) for fn in ("token0", "token1")]
    key = position_key(owner, config.tick_lower, config.tick_upper)
    position = await probe.call(pool, "uniswap_v3_pool", "positions", key)
    if tokens[0] is None or tokens[1] is None or position is None:
        return [_error(f"{where}.pool", f"{pool} does not answer as a Uniswap V3 pool")]
    findings = _pair_findings(pair, [tokens[0][0], tokens[1][0]], pool, where)
    findings += await _v3_pool_state(probe, pool, f"{where}.pool")
    liquidity, owed0, owed1 = position[0], position[3], position[4]
    if liquidity == 0 and owed0 == 0 and owed1 == 0:
        findings.append(
            _empty(
                f"{where}.owner",
                f"{owner} holds nothing in pool {pool} for ticks "
                f"[{config.tick_lower}, {config.tick_upper}]",
            )
        )
    return findings


async def _v3_pool_state(probe: _Probe, pool: str, field: str) -> list[Finding]:
    if not await probe.has_code(pool):
        return [_error(field, f"no V3 pool at {pool} (block {probe.block})", "no_contract")]
    slot0 = await probe.call(pool, "uniswap_v3_pool", "slot0")
    if slot0 is None:
        return [_error(field, f"{pool} does not answer as a Uniswap V3 pool")]
    if slot0[0] == 0:
        return [
            _error(field, f"pool {pool} is not initialised (sqrtPriceX96 = 0): it cannot be valued")
        ]
    return []


async def _v4(
    probe: _Probe, pair: tuple[str, str], index: int, config: V4PositionConfig
) -> list[Finding]:
    """V4: both contracts exist; a listed NFT exists, holds the configured pair and liquidity."""
    where = f"positions.{index}"
    for field in ("position_manager", "state_view"):
        address = checksum(getattr(config, field))
        if not await probe.has_code(address):
            return [_no_contract(f"{where}.{field}", address, probe.block)]
    if config.token_id is None:
        return []  # discovery: the reader scans the Transfer logs
    posm, abi = checksum(config.position_manager), "uniswap_v4_position_manager"
    info = await probe.call(posm, abi, "getPoolAndPositionInfo", config.token_id)
    liquidity = await probe.call(posm, abi, "getPositionLiquidity", config.token_id)
    if info is None or liquidity is None or int(info[0][3]) == 0:
        return [_error(f"{where}.token_id", f"V4 NFT {config.token_id} does not exist on {posm}")]
    findings = _pair_findings(pair, info[0][:2], f"V4 pool of NFT {config.token_id}", where)
    findings += await _not_held(probe, (posm, abi), config.token_id, config.owner, where)
    if liquidity[0] == 0:
        findings.append(_empty(f"{where}.token_id", f"V4 NFT {config.token_id} holds nothing"))
    return findings


async def _not_held(
    probe: _Probe, manager: tuple[str, str], token_id: int, owner: str | None, where: str
) -> list[Finding]:
    """An error on ``<where>.owner`` when ``owner`` is set and ``ownerOf(token_id)`` of the
    position manager (``(address, abi name)``) is another address (the reader would refuse
    it as transferred); nothing when no owner is set or the NFT does not exist."""
    held = None if owner is None else await probe.call(*manager, "ownerOf", token_id)
    if owner is None or held is None or checksum(held[0]) == checksum(owner):
        return []
    return [
        _error(
            f"{where}.owner",
            f"NFT {token_id} on {manager[0]} is held by {checksum(held[0])}, not by the "
            f"configured owner {checksum(owner)} (transferred?)",
            "not_owner",
        )
    ]
