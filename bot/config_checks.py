"""Whole-config checks that look across fields: positions reached twice, non-finite numbers,
one address in two roles that cannot be the same contract; the bot id rule; MQTT topic
characters a broker cluster cannot carry (warnings).

Kept apart from ``bot/config.py`` (the field declarations) so each stays one idea. Pure
functions of validated values; ``bot.config`` turns what they return into ``ConfigError`` lines.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, SecretStr

from bot.config_chains import DEFAULT_CHAIN

__all__ = [
    "BOT_ID_PATTERN",
    "PositionEntry",
    "address_role_clashes",
    "chain_identities",
    "generated_id_clashes",
    "non_finite_fields",
    "position_id_problems",
    "same_position_clashes",
    "topic_warnings",
]

# A bot id: letters, digits, '_' and '-' (1-32). It is an MQTT topic level, a PostgreSQL key
# and a lock file name, so it never holds '/', '.', ' ' or an MQTT wildcard ('+', '#').
BOT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"

# Topic characters NATS server's MQTT listener cannot carry as they are: ' ' is refused (the
# publish closes the connection) and '.' (a NATS subject separator) is refused by 2.9 and
# rewritten to '//' by 2.10+ (docs/mqtt.md, "Clustered brokers").
_NATS_UNSAFE = {" ": "a space", ".": "'.'"}

# the largest magnitude a number may have and still be a finite float where the bot needs one
_FLOAT_MAX = Decimal(sys.float_info.max)


class PositionEntry(Protocol):
    """The fields of a V2 or V3 position entry the identity check reads."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...


def _get(entry: PositionEntry, name: str) -> Any:
    value = getattr(entry, name, None)
    return value.lower() if isinstance(value, str) and value.startswith("0x") else value


def _rpc_key(url: str) -> str:
    return url.strip().rstrip("/").lower()


def chain_identities(chains: Mapping[str, Any] | None) -> dict[str | None, str]:
    """Each chain name (and ``None``, a position without ``chain``: the primary) mapped to the
    first configured name of the same chain.

    Two names are one chain when their sections give the same ``chain_id`` or share an RPC
    URL (compared without case and trailing ``/``); ``chains`` maps names to
    ``ChainConfig``-like sections (``chain_id``, ``rpc_urls``). ``None`` or an empty mapping
    (the section itself was refused) knows only the single-chain name ``default``.
    """
    names = list(chains or {})
    identity: dict[str | None, str] = {}
    for i, name in enumerate(names):
        section = (chains or {})[name]
        ident, urls = getattr(section, "chain_id", None), getattr(section, "rpc_urls", [])
        own = {_rpc_key(u) for u in urls}
        for earlier in names[:i]:
            other = (chains or {})[earlier]
            same_id = ident is not None and ident == getattr(other, "chain_id", None)
            if same_id or own & {_rpc_key(u) for u in getattr(other, "rpc_urls", [])}:
                identity[name] = identity[earlier]
                break
        else:
            identity[name] = name
    identity[None] = identity[names[0]] if names else DEFAULT_CHAIN
    identity.setdefault(DEFAULT_CHAIN, DEFAULT_CHAIN)
    return identity


def _way(entry: PositionEntry) -> str:
    """How a V3 entry finds its position: ``nft``, ``discover`` or ``direct`` (V2: ``v2``)."""
    if entry.kind == "v2":
        return "v2"
    if _get(entry, "token_id") is not None:
        return "nft"
    return "discover" if _get(entry, "discover") else "direct"


def _same(a: PositionEntry, b: PositionEntry, *names: str) -> bool:
    return all(_get(a, n) == _get(b, n) for n in names)


def _clash_reason(
    a: PositionEntry, b: PositionEntry, chains: Mapping[str | None, str] | None = None
) -> str | None:
    """Why ``a`` and ``b`` can resolve to the same on-chain position, or None; ``chains`` is
    :func:`chain_identities` of the config (default: the single chain ``default``)."""
    identity = chains if chains is not None else chain_identities(None)
    chain_a, chain_b = _get(a, "chain"), _get(b, "chain")
    if identity.get(chain_a, chain_a) != identity.get(chain_b, chain_b):
        return None  # the same addresses on two chains are two contracts
    ways = {_way(a), _way(b)}
    if ways == {"v2"} and _same(a, b, "pool", "owner"):
        return "the same V2 pair and owner"
    if ways == {"direct"} and _same(a, b, "pool", "owner", "tick_lower", "tick_upper"):
        return "the same V3 pool, owner and ticks"
    if ways == {"nft"} and _same(a, b, "position_manager", "token_id"):
        return f"the same NFT (token_id {_get(a, 'token_id')})"
    if ways == {"discover"} and _same(a, b, "position_manager", "owner"):
        return "discovery of the same owner on the same position manager"
    if ways in ({"direct", "nft"}, {"direct", "discover"}):
        direct, managed = (a, b) if _way(a) == "direct" else (b, a)
        if _get(direct, "owner") == _get(managed, "position_manager"):
            return (
                "a pool position owned by the position manager is the sum of its NFTs "
                "(list the NFT, not the manager's pool position)"
            )
    # A listed NFT and discovery of an owner on the same manager can meet only on chain (the NFT
    # entry names no owner): the reader counts such a position once and alerts
    # position.duplicate (bot/chain/uniswap_v3.py), so the config is not refused for it.
    return None


def same_position_clashes(
    positions: Sequence[PositionEntry], chains: Mapping[str, Any] | None = None
) -> list[str]:
    """One line per pair of entries that can resolve to the same on-chain position.

    ``chains`` is the config's ``chains`` mapping (name -> section): an entry naming the
    primary chain and one naming none, or two names of one chain (same ``chain_id`` or a
    shared RPC URL), are on the same chain. Addresses compare case-insensitively. Counting
    one position twice doubles its delta, so such a config is refused, naming both entries
    (index and id).
    """
    identity = chain_identities(chains)
    clashes = []
    for i, a in enumerate(positions):
        for j in range(i + 1, len(positions)):
            b = positions[j]
            reason = _clash_reason(a, b, identity)
            if reason is not None:
                clashes.append(
                    f"positions.{i} ({a.id}) and positions.{j} ({b.id}) can resolve to the same "
                    f"on-chain position: {reason}"
                )
    return clashes


def generated_id_clashes(positions: Sequence[PositionEntry]) -> list[str]:
    """One line per entry whose id a discovery entry can generate.

    A discovering entry (``discover: true``, V3 or V4) names each NFT it finds
    ``<its id>-<token id>``; an entry whose id has that shape (``lp-2`` beside a discovering
    ``lp``) would share its id with a found NFT, and positions are told apart by id, so the
    config is refused naming both entries (rename the listed one, e.g. ``lp-main``).
    """
    clashes = []
    for i, finder in enumerate(positions):
        if not _get(finder, "discover"):
            continue
        generated = re.compile(rf"{re.escape(finder.id)}-[0-9]+")
        for j, entry in enumerate(positions):
            if j != i and generated.fullmatch(entry.id):
                clashes.append(
                    f"positions.{j} ({entry.id}) and positions.{i} ({finder.id}) can give two "
                    f"positions one id: discovery names the NFT it finds with token id "
                    f"{entry.id[len(finder.id) + 1 :]} {entry.id!r}; rename positions.{j}"
                )
    return clashes


def position_id_problems(
    positions: Sequence[PositionEntry], chains: Mapping[str, Any] | None = None
) -> list[str]:
    """Every reason the position ids are not unique or two entries are one position:
    repeated ids, ids a discovery entry generates (:func:`generated_id_clashes`) and entries
    reaching the same on-chain position (:func:`same_position_clashes`)."""
    ids = [p.id for p in positions]
    problems = []
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        problems.append(f"position ids must be unique (repeated: {', '.join(repeated)})")
    return problems + generated_id_clashes(positions) + same_position_clashes(positions, chains)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _leaves(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif not isinstance(value, SecretStr):
        yield path, value


def non_finite_fields(model: BaseModel) -> list[str]:
    """``field: reason`` for every float or Decimal that is NaN, infinite or beyond float range.

    Walks every section (also those declared outside ``bot.config``), so a number like
    ``1e309`` that would become ``inf`` where the bot needs a float is refused by name.
    """
    problems = []
    for path, value in _leaves(model, ""):
        if isinstance(value, bool):
            continue
        bad_float = isinstance(value, float) and not math.isfinite(value)
        bad_decimal = isinstance(value, Decimal) and not (
            value.is_finite() and abs(value) <= _FLOAT_MAX
        )
        if bad_float or bad_decimal:
            problems.append(f"{path}: must be a finite number (got {value})")
    return problems


# Roles an address plays in a config. Contracts of different roles are different contracts (a
# token is not a pair, a position manager is not a pool, Multicall is none of them), and an
# LP position's owner is never a pool, the Multicall or its own position manager.
_CONTRACT_ROLES = ("token", "pool", "position_manager", "multicall")


def _roles(settings: Any) -> list[tuple[str, str, str]]:
    """``(chain/address lowercased, role, field path)`` for every address of ``settings``
    (one address on two chains is two contracts)."""
    identity = chain_identities(settings.chains)
    primary = identity[None]
    found = [
        (settings.hedge_asset.base_token, "token", "hedge_asset.base_token"),
        (settings.hedge_asset.quote_token, "token", "hedge_asset.quote_token"),
    ]
    if settings.chain.multicall is not None:
        found.append((settings.chain.multicall, "multicall", "chain.multicall"))
    found = [(f"{primary}/{address}", role, path) for address, role, path in found]
    for i, position in enumerate(settings.positions):
        chain = identity.get(getattr(position, "chain", None), primary)
        for name in ("pool", "position_manager", "owner"):
            value = getattr(position, name, None)
            if value is not None:
                found.append((f"{chain}/{value}", name, f"positions.{i}.{name}"))
    return [(address.lower(), role, path) for address, role, path in found]


def _role_clash(a: tuple[str, str, str], b: tuple[str, str, str]) -> str | None:
    """Why addresses ``a`` and ``b`` (the same address) cannot both be right, or None."""
    (_, role_a, path_a), (_, role_b, path_b) = a, b
    roles = {role_a, role_b}
    if role_a == role_b == "token":
        return f"must differ from {path_a}: the pool's two tokens, base then quote"
    if role_a == role_b:
        return None  # the same pool (or owner, manager) in two positions
    if roles <= set(_CONTRACT_ROLES):
        return f"the same address as {path_a}: a {role_b} cannot be a {role_a}"
    other = role_a if role_b == "owner" else role_b
    if other in ("pool", "multicall") or (
        other == "position_manager" and path_a.rsplit(".", 1)[0] == path_b.rsplit(".", 1)[0]
    ):
        return f"the same address as {path_a}: a {other} owns no LP position"
    return None  # an owner that is also a token: unusual, not certainly wrong


def address_role_clashes(settings: Any) -> list[str]:
    """``field: reason`` for every address used in two roles that cannot be the same contract
    (base token equal to quote token, a position's pool equal to a hedge-asset token, an owner
    equal to the pool, Multicall equal to a pool, ...); ``settings`` is a validated
    ``bot.config.Settings``."""
    roles = _roles(settings)
    problems = []
    for i, a in enumerate(roles):
        for b in roles[i + 1 :]:
            reason = _role_clash(a, b) if a[0] == b[0] else None
            if reason is not None:
                problems.append(f"{b[2]}: {reason}")
    return problems


def topic_warnings(topic_prefix: str) -> list[str]:
    """``mqtt.topic_prefix: reason`` for each character of the effective prefix (``{bot_id}``
    filled in) that NATS server's MQTT listener cannot carry ('.', ' '): such a bot has no
    telemetry and no commands on NATS, while Mosquitto and EMQX carry it. Warnings, not
    errors (the broker is not known offline); wildcards are already refused by the config."""
    found = [name for char, name in _NATS_UNSAFE.items() if char in topic_prefix]
    if not found:
        return []
    return [
        f"mqtt.topic_prefix: {topic_prefix!r} holds {' and '.join(found)}, which NATS server's "
        "MQTT listener cannot carry (the publish closes the connection: no telemetry, no "
        "commands); fine on Mosquitto/EMQX, use '/', '-' or '_' for a broker cluster on NATS"
    ]
