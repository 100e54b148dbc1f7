"""The ``chains:`` section: several named chains in one bot, and what belongs to each.

A config names its chains in ``chains:`` (a mapping ``name -> chain section``, or a list of
sections each with a ``name``); the first is the primary chain (its block is the tick's
``block``). The old single ``chain:`` section keeps working: it becomes the one chain, named
``default``, and positions without ``chain`` belong to it. ``settings.chain`` is always the
primary chain's section, so code that reads one chain reads the primary.

``hedge_asset.chains`` maps a chain to its own base/quote token addresses (WETH on Base is
not WETH on Arbitrum); a chain not listed there uses ``hedge_asset.base_token/quote_token``.
Kept apart from ``bot/config.py`` (the field declarations) so each stays one idea.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from bot.config_address import Address
from bot.config_urls import RpcUrls, WsUrls
from bot.safety import MAX_RESPONSE_BYTES, mask_url

__all__ = [
    "CHAIN_NAME_PATTERN",
    "DEFAULT_CHAIN",
    "ChainConfig",
    "ChainName",
    "HedgeAssetConfig",
    "TokenPairConfig",
    "chain_of",
    "chain_problems",
    "chain_tokens",
    "chain_urls",
    "mask_chain_urls",
    "normalise_chains",
    "primary_chain",
]

DEFAULT_CHAIN = "default"  # the name of the one chain of a config with a ``chain:`` section
CHAIN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
ChainName = Annotated[str, Field(pattern=CHAIN_NAME_PATTERN)]


class ChainConfig(BaseModel):
    """Where and how to read one chain (``chain:``, or each entry of ``chains:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    rpc_urls: RpcUrls  # http(s) URLs with a host, each endpoint once (bot.config_urls)
    # the chain id every endpoint must answer (eth_chainId); unset: the endpoints must agree
    chain_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    ws_urls: WsUrls = []  # ws(s) URLs, at most 8, each endpoint once
    poll_interval_s: Annotated[float, Field(gt=0)] = 1.0
    request_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    multicall: Address | None = None
    max_block_age_s: Annotated[float, Field(gt=0)] = 600.0
    # no new block for this long: the last one again (stale-chain guards, venue protection)
    heartbeat_s: Annotated[float, Field(gt=0)] = 30.0  # older: stale, no trading
    max_rpc_lag_blocks: Annotated[int, Field(ge=0)] = 3  # an RPC this far behind is skipped
    max_response_bytes: Annotated[int, Field(ge=1024)] = MAX_RESPONSE_BYTES  # larger: refused
    read_timeout_s: Annotated[float, Field(gt=0)] = 20.0  # one tick's snapshot of this chain
    # blocks below the block read after which a log is final: V4 discovery folds the
    # PositionManager's Transfer logs deeper than this once, and re-reads the newer ones
    log_reorg_depth: Annotated[int, Field(ge=1, le=10_000)] = 64
    # V3 withdrawn-principal logs (bot/chain/v3_owed.py): the first block scanned (the
    # position managers' and pools' deployment, or earlier) and the longest eth_getLogs range
    log_from_block: Annotated[int, Field(ge=0)] = 0
    log_chunk_blocks: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000


class TokenPairConfig(BaseModel):
    """The hedged asset's base and quote token addresses on one chain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_token: Address
    quote_token: Address


class HedgeAssetConfig(BaseModel):
    """The asset the perp hedges; ordering and decimals are read from chain.

    ``base_token``/``quote_token`` are the primary chain's (and any chain's not listed in
    ``chains``); ``chains`` maps a chain name to its own pair. ``wallet_base`` (base units,
    held outside the pools) counts once, whatever the chains."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    base_token: Address
    quote_token: Address
    wallet_base: Decimal = Decimal(0)
    chains: dict[ChainName, TokenPairConfig] = Field(default_factory=dict)


def _chains_mapping(chains: Any) -> Any:
    """A list of sections with ``name`` becomes the mapping ``name -> section``."""
    if not isinstance(chains, list):
        return chains
    mapping: dict[Any, Any] = {}
    for i, section in enumerate(chains):
        if not isinstance(section, dict) or not isinstance(section.get("name"), str):
            raise ValueError(f"chains.{i}.name: required (each listed chain is named)")
        name = section["name"]
        if name in mapping:
            raise ValueError(f"chains.{i}.name: chain {name!r} is listed twice")
        mapping[name] = {k: v for k, v in section.items() if k != "name"}
    return mapping


def normalise_chains(data: Any) -> Any:
    """Raw settings data with both ``chain`` (the primary's section) and ``chains`` (every
    chain by name) filled in; ``ValueError`` when both or neither are given.

    ``hedge_asset`` without ``base_token``/``quote_token`` takes the primary chain's entry
    of ``hedge_asset.chains``."""
    if not isinstance(data, dict):
        return data
    if "chains" not in data:
        if "chain" not in data:
            raise ValueError("chains: required (or the single-chain section chain:)")
        return {**data, "chains": {DEFAULT_CHAIN: data["chain"]}}
    if "chain" in data:
        raise ValueError("give either chain: (one chain) or chains: (named chains), not both")
    chains = _chains_mapping(data["chains"])
    if not isinstance(chains, dict) or not chains:
        raise ValueError("chains: name at least one chain")
    primary = next(iter(chains))
    data = {**data, "chains": chains, "chain": chains[primary]}
    asset = data.get("hedge_asset")
    if isinstance(asset, dict) and isinstance(asset.get("chains"), dict):
        own = asset["chains"].get(primary)
        if isinstance(own, dict):
            data["hedge_asset"] = {**own, **asset}
    return data


def primary_chain(settings: Any) -> str:
    """The name of the primary (first) chain of validated ``settings``."""
    return str(next(iter(settings.chains)))


def chain_of(settings: Any, position: Any) -> str:
    """The chain ``position`` (a position config) belongs to: its ``chain``, else the
    primary."""
    name = getattr(position, "chain", None)
    return str(name) if name is not None else primary_chain(settings)


def chain_tokens(settings: Any, chain: str) -> tuple[str, str]:
    """``(base_token, quote_token)`` addresses of the hedged asset on ``chain``."""
    own = settings.hedge_asset.chains.get(chain)
    if own is not None:
        return own.base_token, own.quote_token
    return settings.hedge_asset.base_token, settings.hedge_asset.quote_token


def chain_problems(settings: Any) -> list[str]:
    """``field: reason`` for every position or token entry naming a chain the config does not
    have, and for positions without ``chain`` when several chains are configured (which one
    they belong to would be a guess)."""
    names = list(settings.chains)
    known = ", ".join(names)
    problems = []
    for i, position in enumerate(settings.positions):
        name = getattr(position, "chain", None)
        if name is None and len(names) > 1:
            problems.append(f"positions.{i}.chain: required with several chains ({known})")
        elif name is not None and name not in settings.chains:
            problems.append(f"positions.{i}.chain: unknown chain {name!r} (chains: {known})")
    primary = names[0]
    if len(names) > 1 and not any(chain_of(settings, p) == primary for p in settings.positions):
        problems.append(
            f"chains.{primary}: the first chain is the primary (its block is the tick's block) "
            "and holds no position: list a chain that holds positions first"
        )
    for name in settings.hedge_asset.chains:
        if name not in settings.chains:
            problems.append(f"hedge_asset.chains.{name}: unknown chain {name!r} (chains: {known})")
    return problems


def chain_urls(settings: Any) -> list[str]:
    """Every RPC and WebSocket URL of every chain (they may carry keys in their paths)."""
    return [url for c in settings.chains.values() for url in (*c.rpc_urls, *c.ws_urls)]


def mask_chain_urls(dumped: dict[str, Any]) -> None:
    """Mask the URLs of a dumped config's chains in place (scheme, host and port kept); the
    implied ``chains: {default: ...}`` of a single-chain config is not shown twice."""
    chains = dumped.get("chains") or {}
    if list(chains) == [DEFAULT_CHAIN] and chains[DEFAULT_CHAIN] == dumped.get("chain"):
        del dumped["chains"]
    else:
        del dumped["chain"]
    sections = [dumped["chain"]] if "chain" in dumped else list(dumped["chains"].values())
    for section in sections:
        section.update({k: [mask_url(u) for u in section[k]] for k in ("rpc_urls", "ws_urls")})
