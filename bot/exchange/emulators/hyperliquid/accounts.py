"""Who may act for which account on the emulated Hyperliquid venue.

One master account (the wallet that deposits) owns the simulated venue's account, or a vault /
sub-account it leads when one is configured. API (agent) wallets approved by the master sign
L1 actions for it; user-signed actions must be signed by the master itself. The registry also
keeps what the venue keeps about builders (approved maximum fee per builder, builders funded
enough to be approved) and the referral code set, and records every builder field an order
carried so tests can assert "no builder unless configured".

Other master accounts may be registered with their own agents (``other_masters``): the venue
then answers ``userRole`` and ``extraAgents`` for several masters, as the real one does, so
an agent key approved for another account is told apart from the master's own agents. An
order signed by another master's agent acts on that master's account, as on the real venue,
whatever wallet the client reads (the emulator keeps a simulated account of its own for it,
``ExchangeActions``): the wallet's own account does not move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.exchange.hyperliquid_texts import Refusal, hyperliquid_text

__all__ = ["CCXT_BUILDER", "AccountRegistry", "VenueRefusal", "fee_rate_tenths_bps"]

# the builder ccxt approves and attaches by default (its handle_builder_fee_approval)
CCXT_BUILDER = "0x6530512a6c89c7cfcebc3ba7fcd9ada5f30827a6"


class VenueRefusal(Exception):
    """An action the venue refuses as a whole: ``{"status": "err", "response": message}``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def fee_rate_tenths_bps(rate: str) -> int:
    """``"0.01%"`` as tenths of a basis point (10), the unit of an order's ``builder.f``.

    Raises ``VenueRefusal`` for text that is not a percentage."""
    text = rate.strip()
    try:
        if not text.endswith("%"):
            raise InvalidOperation
        value = Decimal(text[:-1]) * 1000  # 1% = 100 bps = 1000 tenths
    except InvalidOperation:
        raise VenueRefusal(f"Invalid max fee rate {rate[:20]}") from None
    if not value.is_finite() or value < 0 or value != value.to_integral_value():
        raise VenueRefusal(f"Invalid max fee rate {rate[:20]}")
    return int(value)


def _norm(address: str) -> str:
    return address.lower() if address.lower().startswith("0x") else f"0x{address.lower()}"


@dataclass
class AccountRegistry:
    """Master, agents, vault, builder approvals and referrers of the emulated venue."""

    master: str
    vault: str | None = None
    agents: set[str] = field(default_factory=set)
    other_masters: dict[str, set[str]] = field(default_factory=dict)  # master -> its agents
    funded_builders: set[str] = field(default_factory=lambda: {CCXT_BUILDER})
    referral_codes: set[str] = field(default_factory=lambda: {"CCXT1"})
    builder_approvals: dict[str, int] = field(default_factory=dict)  # builder -> max tenths bps
    builder_fields_seen: list[dict[str, Any] | None] = field(default_factory=list)
    referrer: str | None = None
    referrer_attempts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.master = _norm(self.master)
        self.vault = _norm(self.vault) if self.vault else None
        self.agents = {_norm(a) for a in self.agents}
        self.other_masters = {
            _norm(m): {_norm(a) for a in agents} for m, agents in self.other_masters.items()
        }
        self.funded_builders = {_norm(b) for b in self.funded_builders}

    @property
    def trading_address(self) -> str:
        """The account the simulated venue holds: the vault when there is one."""
        return self.vault or self.master

    def approve_agent(self, agent: str) -> None:
        """Let ``agent`` sign L1 actions for the master."""
        self.agents.add(_norm(agent))

    def role(self, user: Any) -> dict[str, Any]:
        """The ``userRole`` answer for ``user``: ``{"role": "user"}`` for a master,
        ``{"role": "agent", "data": {"user": <its master>}}`` for an approved agent,
        ``{"role": "vault"}`` for the vault, ``{"role": "missing"}`` otherwise."""
        address = _norm(user) if isinstance(user, str) else ""
        masters = {self.master: self.agents, **self.other_masters}
        if address in masters:
            return {"role": "user"}
        if address and address == self.vault:
            return {"role": "vault"}
        for master, agents in masters.items():
            if address in agents:
                return {"role": "agent", "data": {"user": master}}
        return {"role": "missing"}

    def extra_agents(self, user: Any) -> list[dict[str, Any]]:
        """The ``extraAgents`` answer: the API wallets approved by master ``user``."""
        address = _norm(user) if isinstance(user, str) else ""
        agents = self.agents if address == self.master else self.other_masters.get(address, ())
        return [{"name": "", "address": a, "validUntil": None} for a in sorted(agents)]

    def acting_account(self, signer: str, vault_address: str | None) -> str:
        """The account an L1 action signed by ``signer`` acts on.

        Raises ``VenueRefusal`` with the venue's text for an unknown signer or a vault the
        master does not lead."""
        signer = _norm(signer)
        other = next((m for m, agents in self.other_masters.items() if signer in agents), None)
        if other is not None and vault_address is None:
            return other  # the agent acts for its own master, not for the wallet asked about
        if signer != self.master and signer not in self.agents:
            raise VenueRefusal(hyperliquid_text(Refusal.UNKNOWN_SIGNER).message(signer=signer))
        if vault_address is None:
            return self.master
        vault = _norm(vault_address)
        if vault != self.vault:
            raise VenueRefusal(f"Vault not registered: {vault}")
        return vault

    def require_depositor(self, signer: str) -> str:
        """The user of a user-signed action: only the master has deposited."""
        signer = _norm(signer)
        if signer != self.master:
            raise VenueRefusal(hyperliquid_text(Refusal.NO_DEPOSIT).message(user=signer))
        return signer

    def approve_builder(self, builder: str, max_fee_rate: str) -> None:
        """``approveBuilderFee``: the builder must hold the venue's 100 USDC minimum."""
        tenths = fee_rate_tenths_bps(max_fee_rate)
        builder = _norm(builder)
        if builder not in self.funded_builders:
            raise VenueRefusal("Builder has insufficient balance to be approved.")
        self.builder_approvals[builder] = tenths

    def check_builder(self, builder: Any) -> None:
        """Record an order action's ``builder`` field (None when absent) and refuse one whose
        fee was not approved."""
        self.builder_fields_seen.append(dict(builder) if isinstance(builder, dict) else builder)
        if builder is None:
            return
        if not isinstance(builder, dict) or not isinstance(builder.get("b"), str):
            raise VenueRefusal("Builder fee has not been approved.")
        fee = builder.get("f")
        approved = self.builder_approvals.get(_norm(builder["b"]))
        if approved is None or not isinstance(fee, int) or not 0 <= fee <= approved:
            raise VenueRefusal("Builder fee has not been approved.")

    def set_referrer(self, code: Any) -> None:
        """``setReferrer``: a known code, once per user."""
        self.referrer_attempts.append(str(code))
        if code not in self.referral_codes:
            raise VenueRefusal("Referral code does not exist.")
        if self.referrer is not None:
            raise VenueRefusal("Referrer already set.")
        self.referrer = str(code)
