"""An owner's V3 NFTs wherever the config says they may sit, and their moves between blocks.

:class:`OwnerNfts` follows one ``discover: true`` config: the owner's NFTs in the wallet
(the position manager's enumeration) and in each configured staker (``bot.chain.staked``).
Each block costs the holders' check calls inside the reader's one batched eth_call; only a
changed set costs a full enumeration (same block).

:class:`Whereabouts` remembers where each tracked position was last seen and turns every
change into :class:`bot.domain.PositionMove` values (``position.arrived``/``position.left``
events): a position first seen at start-up is no move; one found later arrives; one staked
or unstaked leaves its old location and arrives at the new one; one transferred away or
burned leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.chain.multicall import ContractCall
from bot.chain.staked import WALLET, Holder, RunAll
from bot.domain import PositionMove

__all__ = ["OwnerNfts", "Whereabouts"]


class OwnerNfts:
    """The token ids of one owner across ``holders`` (wallet first, then each staker)."""

    def __init__(self, holders: Sequence[Holder]) -> None:
        self.holders = tuple(holders)
        self._held: list[list[int]] | None = None  # per holder, its index order

    @property
    def known(self) -> bool:
        """Whether a first enumeration happened."""
        return self._held is not None

    @property
    def ids(self) -> list[int]:
        """Every token id, holder by holder (an id in two holders at once is kept once)."""
        out: list[int] = []
        for held in self._held or []:
            out += [i for i in held if i not in out]
        return out

    def location(self, token_id: int) -> str | None:
        """Where ``token_id`` was found by the last enumeration (None: not found)."""
        for holder, held in zip(self.holders, self._held or [], strict=False):
            if token_id in held:
                return holder.location
        return None

    def check_calls(self) -> list[ContractCall]:
        """One block's calls telling whether any holder's ids changed."""
        held = self._held or [[] for _ in self.holders]
        return [
            c for h, ids in zip(self.holders, held, strict=True) for c in h.check_calls(len(ids))
        ]

    @property
    def shape(self) -> tuple[int, ...]:
        """How many ids each holder had at the last enumeration (the check calls' shape)."""
        return tuple(len(held) for held in self._held or [])

    def check_size(self) -> int:
        """How many calls :meth:`check_calls` gives."""
        return len(self.check_calls())

    def unchanged(self, answers: Sequence[tuple[Any, ...] | None]) -> bool:
        """Whether the answers to :meth:`check_calls` show the last enumeration exactly."""
        held = self._held or [[] for _ in self.holders]
        at = 0
        for holder, ids in zip(self.holders, held, strict=True):
            size = len(holder.check_calls(len(ids)))
            if not holder.unchanged(answers[at : at + size], ids):
                return False
            at += size
        return True

    async def refresh(self, run_all: RunAll, block: int) -> tuple[list[int], list[int]]:
        """Enumerate every holder at ``block``: (ids gone from all holders, ids new)."""
        before = set(self.ids)
        self._held = [await holder.enumerate(run_all, block) for holder in self.holders]
        after = self.ids
        return sorted(before - set(after)), [i for i in after if i not in before]


class Whereabouts:
    """Where each tracked position was last seen, and the moves found since the last take."""

    def __init__(self) -> None:
        self._where: dict[str, str] = {}
        self._moves: list[PositionMove] = []

    def location(self, exposure_id: str) -> str:
        """The last location seen (``wallet`` when never seen: a position in no staker)."""
        return self._where.get(exposure_id, "wallet")

    def seen(
        self,
        exposure_id: str,
        location: str,
        *,
        block: int,
        protocol: str,
        token_id: int | None = None,
        arrived: bool = False,
    ) -> None:
        """``exposure_id`` is at ``location`` at ``block``: a move when it was elsewhere, an
        arrival when ``arrived`` (found after the start) and it was nowhere."""
        before = self._where.get(exposure_id)
        self._where[exposure_id] = location
        if before == location or (before is None and not arrived):
            return
        if before is not None:
            self._moves.append(PositionMove(block, exposure_id, False, before, protocol, token_id))
        self._moves.append(PositionMove(block, exposure_id, True, location, protocol, token_id))

    def left(
        self, exposure_id: str, *, block: int, protocol: str, token_id: int | None = None
    ) -> None:
        """``exposure_id`` is gone from every place followed (transferred away, burned)."""
        before = self._where.pop(exposure_id, None)
        if before is not None:
            self._moves.append(PositionMove(block, exposure_id, False, before, protocol, token_id))

    def refreshed(
        self,
        config_id: str,
        protocol: str,
        owners: OwnerNfts,
        gone: Sequence[int],
        arrived: Sequence[int],
        block: int,
    ) -> None:
        """An owner's enumeration at ``block``: ``gone`` ids left, ``arrived`` ones (found
        after the first look) arrived where ``owners`` found them."""
        for token_id in gone:
            self.left(f"{config_id}-{token_id}", block=block, protocol=protocol, token_id=token_id)
        for token_id in arrived:
            at = owners.location(token_id) or WALLET
            self.seen(
                f"{config_id}-{token_id}",
                at,
                block=block,
                protocol=protocol,
                token_id=token_id,
                arrived=True,
            )

    def take_moves(self) -> tuple[PositionMove, ...]:
        """The moves found since the last call."""
        moves, self._moves = tuple(self._moves), []
        return moves
