"""The credential parts of the ``exchange`` config that depend on the venue.

- ``okx``: its API passphrase goes to ccxt's ``password`` (``HEDGEBOT_EXCHANGE__PASSWORD``,
  environment only, like the keys).
- ``hyperliquid``: the master account's address (``exchange.wallet_address`` in the file, or
  ``HEDGEBOT_EXCHANGE__WALLET_ADDRESS``; ``HEDGEBOT_EXCHANGE__API_KEY`` is read as it when
  unset), the agent (API-wallet) private key in ``HEDGEBOT_EXCHANGE__API_SECRET`` (environment
  only), an optional ``exchange.vault_address`` (vault or sub-account), and an optional
  ``exchange.builder`` the user chose to pay (off by default: no builder is ever approved or
  attached without it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BuilderConfig", "venue_missing_secrets"]

_ENV = "HEDGEBOT_EXCHANGE__"


class BuilderConfig(BaseModel):
    """A Hyperliquid builder fee the user opts into: approved once at start, attached to every
    order, booked as a trading cost. ``fee_bps`` in basis points of notional, steps of 0.1."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    address: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
    fee_bps: Annotated[Decimal, Field(ge=0, le=10, multiple_of=Decimal("0.1"))]


def venue_missing_secrets(
    exchange_id: str,
    *,
    api_key: bool,
    api_secret: bool,
    password: bool,
    wallet_address: bool,
) -> list[str]:
    """``field: reason`` lines naming what a ccxt venue lacks to trade (each argument says
    whether that credential is set)."""
    if exchange_id == "hyperliquid":
        problems = []
        if not (wallet_address or api_key):
            problems.append(
                "exchange.wallet_address: hyperliquid needs the master account address "
                f"(in the file or {_ENV}WALLET_ADDRESS)"
            )
        if not api_secret:
            problems.append(
                f"exchange: hyperliquid needs the agent (API wallet) private key in "
                f"{_ENV}API_SECRET (env only)"
            )
        return problems
    problems = []
    if not (api_key and api_secret):
        problems.append(f"exchange: ccxt needs {_ENV}API_KEY and {_ENV}API_SECRET in env")
    if exchange_id == "okx" and not password:
        problems.append(f"exchange: okx needs its API passphrase in {_ENV}PASSWORD (env only)")
    return problems
