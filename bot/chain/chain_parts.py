"""One config of several chains split into one single-chain config per chain.

Each part is the whole ``Settings`` with ``chain``/``chains`` narrowed to one chain, the
positions of that chain only and ``hedge_asset`` holding that chain's base/quote tokens, so
the single-chain reader and preflight run unchanged on it. ``config_field`` maps a field
path of a part (``positions.0.owner``, ``hedge_asset.base_token``, ``chain.multicall``) back
to the whole config's (``positions.3.owner``, ``hedge_asset.chains.arbitrum.base_token``,
``chains.arbitrum.multicall``) and ``config_text`` does so in a message, so findings and
errors name what the operator wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.config import Settings
from bot.config_chains import chain_of, chain_tokens

__all__ = ["ChainPart", "chain_parts"]

_POSITION_PATH = re.compile(r"\bpositions\.\d+\b")


@dataclass(frozen=True, slots=True)
class ChainPart:
    """One chain's share of a config: ``settings`` (single-chain) and, for each of its
    positions, that position's index in the whole config."""

    name: str
    settings: Settings
    indexes: tuple[int, ...]
    own_tokens: bool  # tokens from ``hedge_asset.chains.<name>``
    several: bool  # the whole config has more than one chain

    def config_field(self, field: str) -> str:
        """``field`` of this part as a field path of the whole config."""
        head, _, rest = field.partition(".")
        if head == "positions":
            index, _, tail = rest.partition(".")
            if index.isdigit() and int(index) < len(self.indexes):
                whole = f"positions.{self.indexes[int(index)]}"
                return f"{whole}.{tail}" if tail else whole
        if head == "hedge_asset" and self.own_tokens and rest in ("base_token", "quote_token"):
            return f"hedge_asset.chains.{self.name}.{rest}"
        if head == "chain" and self.several:
            return f"chains.{self.name}.{rest}" if rest else f"chains.{self.name}"
        return field

    def config_text(self, text: str) -> str:
        """``text`` (a finding's message) with each ``positions.<i>`` of this part written
        as the whole config's path (``(positions.0)`` of chain l2 -> ``(positions.1)``)."""
        return _POSITION_PATH.sub(lambda m: self.config_field(m.group(0)), text)


def chain_parts(settings: Settings) -> list[ChainPart]:
    """One part per chain holding at least one position, in config order (the primary chain
    first; a chain without positions is never read)."""
    indexes: dict[str, list[int]] = {name: [] for name in settings.chains}
    for i, position in enumerate(settings.positions):
        indexes.setdefault(chain_of(settings, position), []).append(i)
    parts = []
    for name, config in settings.chains.items():
        if not indexes[name]:
            continue
        base, quote = chain_tokens(settings, name)
        asset = settings.hedge_asset.model_copy(
            update={"base_token": base, "quote_token": quote, "chains": {}}
        )
        narrowed = settings.model_copy(
            update={
                "chain": config,
                "chains": {name: config},
                "positions": [settings.positions[i] for i in indexes[name]],
                "hedge_asset": asset,
            }
        )
        parts.append(
            ChainPart(
                name=name,
                settings=narrowed,
                indexes=tuple(indexes[name]),
                own_tokens=name in settings.hedge_asset.chains,
                several=len(settings.chains) > 1,
            )
        )
    return parts
