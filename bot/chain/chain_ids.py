"""Which chain each configured RPC endpoint is on, checked before anything is read.

Every endpoint of a chain section is asked ``eth_chainId``. An endpoint answering another id
than the section's ``chain_id`` (or, without one, than the section's first answering
endpoint) is a ``wrong_chain`` error finding naming the chain, the endpoint (masked) and both
ids; two sections answering the same id are one too (their positions would be counted
twice). Both refuse a start (``REFUSES_START``). The id found is pinned on a failover
provider, so failover never moves a chain to an endpoint of another chain
(``bot.chain.failover``). An endpoint that does not answer is a warning (it is asked again
before its first use); a chain none of whose endpoints answers raises ``ChainError``. A
single-chain config with one endpoint and no ``chain_id`` has nothing to compare: not asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from web3 import AsyncWeb3

from bot.chain.answers import quantity
from bot.chain.chain_parts import ChainPart
from bot.chain.failover import FailoverProvider
from bot.chain.preflight import Finding
from bot.chain.rpc import rpc_request
from bot.config import ChainConfig
from bot.errors import ChainError
from bot.safety import PayloadRejected, mask_url, safe_str

__all__ = [
    "check_chain_id",
    "check_chain_ids",
    "endpoint_chain_ids",
    "in_whole_config",
    "nothing_to_compare",
    "shared_chain_ids",
]


def nothing_to_compare(config: ChainConfig, several: bool) -> bool:
    """True for the one section of a single-chain config with one endpoint and no
    ``chain_id``: no id to expect, no other endpoint or section to agree with (not asked)."""
    return not several and len(config.rpc_urls) == 1 and config.chain_id is None


async def endpoint_chain_ids(w3: AsyncWeb3[Any], timeout_s: float) -> list[tuple[str, int | str]]:
    """``(masked url, chain id or why it did not answer)`` of each RPC endpoint behind
    ``w3``, in configuration order."""
    provider = w3.provider
    if isinstance(provider, FailoverProvider):
        return await provider.endpoint_chain_ids()
    label = mask_url(str(getattr(provider, "endpoint_uri", "")))
    try:
        answer = await rpc_request(w3, "eth_chainId", timeout_s=timeout_s)
        return [(label, quantity(answer, "eth_chainId result"))]
    except (ChainError, PayloadRejected) as exc:
        return [(label, safe_str(exc))]


async def check_chain_id(
    w3: AsyncWeb3[Any], config: ChainConfig, name: str | None = None
) -> tuple[int, list[Finding]]:
    """The chain id of ``config``'s endpoints (its ``chain_id``, else the first answer) and
    the findings about them, fields as in a single-chain config (``chain.rpc_urls.1``);
    messages start ``chain <name>:`` when ``name`` is given. Pins the id on a failover
    provider. Raises ``ChainError`` when no endpoint answers."""
    answers = await endpoint_chain_ids(w3, config.request_timeout_s)
    answered = [(i, label, a) for i, (label, a) in enumerate(answers) if isinstance(a, int)]
    if not answered:
        reasons = "; ".join(f"{label}: {a}" for label, a in answers)
        raise ChainError(f"no RPC endpoint answers eth_chainId ({reasons})")
    expected = config.chain_id if config.chain_id is not None else answered[0][2]
    source = "" if config.chain_id is not None else f" (as {answered[0][1]} answers)"
    prefix = "" if name is None else f"chain {name}: "
    findings = [
        Finding(
            "error",
            f"chain.rpc_urls.{i}",
            f"{prefix}node at {label} answers chain id {got}, expected {expected}{source}",
            "wrong_chain",
        )
        for i, label, got in answered
        if got != expected
    ]
    findings += [
        Finding(
            "warning",
            f"chain.rpc_urls.{i}",
            f"{prefix}node at {label} does not answer eth_chainId ({reason}): it is used only "
            f"once it answers chain id {expected}",
        )
        for i, (label, reason) in enumerate(answers)
        if not isinstance(reason, int)
    ]
    if isinstance(w3.provider, FailoverProvider):
        w3.provider.pin_chain_id(expected)
    return expected, findings


def in_whole_config(part: ChainPart, finding: Finding) -> Finding:
    """``finding`` of ``part`` with its field and the paths in its message named as in the
    whole config (``positions.0`` of chain l2 -> ``positions.1``)."""
    return replace(
        finding,
        field=part.config_field(finding.field),
        message=part.config_text(finding.message),
    )


def shared_chain_ids(ids: dict[str, int]) -> list[Finding]:
    """A ``wrong_chain`` error (field ``chains.<name>``) for each chain section whose id an
    earlier section already has: one chain's positions can only be counted once."""
    first: dict[int, str] = {}
    findings = []
    for name, chain_id in ids.items():
        if chain_id in first:
            findings.append(
                Finding(
                    "error",
                    f"chains.{name}",
                    f"chain {name} is chain id {chain_id}, as chain {first[chain_id]} is: a "
                    "position on it would be counted twice (give each chain one section)",
                    "wrong_chain",
                )
            )
        first.setdefault(chain_id, name)
    return findings


async def check_chain_ids(parts: Sequence[tuple[ChainPart, AsyncWeb3[Any]]]) -> list[Finding]:
    """:func:`check_chain_id` of each chain part (fields of the whole config) and
    :func:`shared_chain_ids` over them. Raises ``ChainError`` naming the chain (when there
    are several) when none of its endpoints answers."""
    ids: dict[str, int] = {}
    found: list[Finding] = []
    for part, w3 in parts:
        if nothing_to_compare(part.settings.chain, part.several):
            continue
        try:
            ids[part.name], findings = await check_chain_id(
                w3, part.settings.chain, part.name if part.several else None
            )
        except ChainError as exc:
            if part.several:
                raise ChainError(f"chain {part.name}: {safe_str(exc)}") from exc
            raise
        found += [in_whole_config(part, f) for f in findings]
    return found + shared_chain_ids(ids)
