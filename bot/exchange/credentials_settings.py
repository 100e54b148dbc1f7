"""The credential parts of the ``exchange`` config that depend on the venue.

- ``okx``: its API passphrase goes to ccxt's ``password`` (``HEDGEBOT_EXCHANGE__PASSWORD``,
  environment only, like the keys).
- ``hyperliquid``: the master account's address (``exchange.wallet_address`` in the file, or
  ``HEDGEBOT_EXCHANGE__WALLET_ADDRESS``; ``HEDGEBOT_EXCHANGE__API_KEY`` is read as it when
  unset), the agent (API-wallet) private key in ``HEDGEBOT_EXCHANGE__API_SECRET`` (environment
  only), an optional ``exchange.vault_address`` (vault or sub-account), and an optional
  ``exchange.builder`` the user chose to pay (off by default: no builder is ever approved or
  attached without it).

``venue_credential_problems`` checks the *form* of those credentials before anything is sent
(``check-config`` and every command that trades): the agent key must be a 32-byte secp256k1
private key (an address pasted in its place, or a truncated key, is named as such; the key
itself is never printed), addresses must pass their EIP-55 checksum, and a configured builder
needs the master account's own key (approving a builder fee is a user-signed action an agent
wallet cannot sign).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from eth_account import Account
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.config_address import Address, checksum_problem

__all__ = ["BuilderConfig", "venue_credential_problems", "venue_missing_secrets"]

_ENV = "HEDGEBOT_EXCHANGE__"
# the order of secp256k1's group: a private key is an integer in [1, n - 1] (SEC 2, 2.4.1)
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HEX = frozenset("0123456789abcdefABCDEF")


class BuilderConfig(BaseModel):
    """A Hyperliquid builder fee the user opts into: approved once at start, attached to every
    order, booked as a trading cost. ``fee_bps`` in basis points of notional, steps of 0.1."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    address: Address
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


def _digits(value: str) -> str:
    """``value`` without surrounding blanks and its ``0x`` prefix."""
    text = value.strip()
    return text[2:] if text[:2].lower() == "0x" else text


def _private_key_problem(secret: str) -> str | None:
    """Why ``secret`` is not a 32-byte secp256k1 private key, or None. Never quotes it."""
    digits = _digits(secret)
    where = f"exchange: {_ENV}API_SECRET"
    if not digits or not set(digits) <= _HEX:
        return f"{where} is not hex: hyperliquid needs the agent wallet's private key (0x + 64 hex)"
    if len(digits) == 40:
        return (
            f"{where} is 20 bytes, an address, not a private key: hyperliquid needs the agent "
            "(API wallet) private key (0x + 64 hex), the address goes in exchange.wallet_address"
        )
    if len(digits) != 64:
        return (
            f"{where} has {len(digits)} hex digits: a private key is 32 bytes (0x + 64 hex); "
            "truncated or padded?"
        )
    if not 0 < int(digits, 16) < _SECP256K1_N:
        return f"{where} is not a valid secp256k1 private key (zero or beyond the curve order)"
    return None


def _key_address(secret: str) -> str:
    """The checksummed address of a well-formed private key."""
    return str(Account.from_key("0x" + _digits(secret)).address)


def _master_address_problem(api_key: str) -> str | None:
    """Why ``HEDGEBOT_EXCHANGE__API_KEY`` (read as the master address) is not an address."""
    digits = _digits(api_key)
    where = f"exchange: {_ENV}API_KEY (read as hyperliquid's wallet address)"
    if len(digits) == 64 and set(digits) <= _HEX:
        return f"{where} looks like a private key, not an address: put the master address there"
    if len(digits) != 40 or not set(digits) <= _HEX:
        return f"{where} is not an address (0x + 40 hex)"
    problem = checksum_problem("0x" + digits)
    return None if problem is None else f"{where}: {problem}"


def venue_credential_problems(
    exchange_id: str,
    *,
    api_key: SecretStr | None,
    api_secret: SecretStr | None,
    wallet_address: str | None,
    vault_address: str | None,
    builder: BuilderConfig | None,
) -> list[str]:
    """``field: reason`` lines for credentials that are set but cannot work (Hyperliquid only:
    other venues' keys are opaque strings). Addresses are already EIP-55 checked by their
    config type; secrets are never quoted, only described (length, kind)."""
    if exchange_id != "hyperliquid":
        return []
    problems: list[str] = []
    master = wallet_address
    if master is None and api_key is not None:
        problem = _master_address_problem(api_key.get_secret_value())
        if problem is not None:
            problems.append(problem)
        else:
            master = "0x" + _digits(api_key.get_secret_value())
    if vault_address is not None and master is not None and vault_address.lower() == master.lower():
        problems.append(
            "exchange.vault_address: is the master account itself; leave it unset to trade the "
            "master account, or give the vault's (sub-account's) own address"
        )
    if api_secret is None:
        return problems
    key_problem = _private_key_problem(api_secret.get_secret_value())
    if key_problem is not None:
        return [*problems, key_problem]
    signer = _key_address(api_secret.get_secret_value())
    if builder is not None and master is not None and signer.lower() != master.lower():
        problems.append(
            f"exchange.builder: approving a builder fee needs the master account's key, and "
            f"{_ENV}API_SECRET is an agent wallet's (address {signer}, not {master}): approve "
            "the builder once with the master key (or set the master key), or remove the builder"
        )
    return problems
