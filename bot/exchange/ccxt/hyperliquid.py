"""Hyperliquid's ccxt client as hedgebot uses it: credentials, vault, and no third-party fee.

ccxt's ``hyperliquid`` on its first private call approves ccxt's own builder
(``0x6530…``, 0.01 %) with the master key and attaches it to every order (with ``f = 0`` even
when ``options.builderFee`` is False), and sets ccxt's referral code. hedgebot never approves
or pays a builder, nor sets a referrer, unless the user configures one
(``exchange.builder: {address, fee_bps}``): then the approval is one explicit, logged call at
start (``approve_configured_builder``) and the fee, ``fee_bps`` of each fill's notional, is
booked as a trading cost (``builder_fee_quote``).

The venue acts for whichever master approved the signing agent, whatever wallet the client
reads: an agent key of another account would trade that account while the bot reads its own
(flat) one. ``check_signer`` refuses to start unless the key is the wallet's own or an API
wallet approved for it (the venue's ``/info`` ``userRole`` of the signer).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog
from eth_account import Account

from bot.domain import FundingPayment
from bot.errors import AuthenticationError, VenueDataError
from bot.exchange.ccxt.calls import CcxtCalls
from bot.exchange.ccxt.fields import mapping, required, timestamp_ms
from bot.exchange.ccxt.settings import CcxtPerpSettings, secret_value

__all__ = [
    "approve_configured_builder",
    "builder_fee_quote",
    "check_signer",
    "funding_from_user_funding",
    "hyperliquid_credentials",
    "no_silent_builder",
]

_MARK_PLACES = Decimal("1e-8")
_log = structlog.get_logger("hedgebot.exchange.ccxt_perp")


def hyperliquid_credentials(s: CcxtPerpSettings) -> dict[str, Any]:
    """ccxt config entries: ``walletAddress`` (``wallet_address``, else ``api_key``),
    ``privateKey`` (the agent key, ``api_secret``) and the options that keep ccxt from
    approving, attaching or referring on its own (see the module docstring)."""
    wallet = s.wallet_address or secret_value(s.api_key)
    options: dict[str, Any] = {
        "builderFee": s.builder is not None,
        "approvedBuilderFee": False,  # True makes ccxt attach a builder to every order
        "refSet": True,  # never send setReferrer
    }
    if s.builder is not None:
        options.update(builder=s.builder.address.lower(), feeInt=s.builder.tenths_bps)
    if s.vault_address is not None:
        # L1 actions carry vaultAddress; info queries ask for the vault's state
        options.update(vaultAddress=s.vault_address, user=s.vault_address)
    return {"walletAddress": wallet, "privateKey": secret_value(s.api_secret), "options": options}


def no_silent_builder(client: Any) -> None:
    """Replace the client's first-call builder approval with a no-op (approval, if any, is
    ``approve_configured_builder``'s explicit call)."""

    async def approval_skipped() -> bool:
        return True

    client.handle_builder_fee_approval = approval_skipped


async def approve_configured_builder(calls: CcxtCalls) -> None:
    """Approve the configured builder's fee (a user-signed action: needs the master key, not
    an agent's); from then on ccxt attaches it to every order. Nothing without a builder.
    Raises the mapped ``ExchangeError`` when the venue refuses."""
    builder = calls.settings.builder
    if builder is None:
        return
    client = calls.api()
    await calls.call(client.approve_builder_fee, builder.address, builder.max_fee_rate)
    client.options["approvedBuilderFee"] = True
    _log.warning(
        "exchange.builder_approved",
        builder=builder.address,
        fee_bps=str(builder.fee_bps),
        note="every order pays this builder fee, booked as a trading cost",
    )


async def check_signer(calls: CcxtCalls) -> None:
    """Refuse a signing key that may not trade the configured wallet's account.

    Nothing for another venue or when the key's address is the wallet itself; otherwise the
    venue's ``/info`` ``{"type": "userRole", "user": <signer>}`` must answer
    ``{"role": "agent", "data": {"user": <wallet>}}`` (Hyperliquid API docs, info endpoint,
    "Query a user's role": ``missing``, ``user``, ``agent``, ``vault`` or ``subAccount``).
    A key the venue does not know (``missing``) is left to the venue's own refusal of the
    first signed action ("User or API Wallet … does not exist", ``AuthenticationError``).
    Raises ``AuthenticationError`` naming both addresses for an agent of another master or
    another account's own key (``user``, ``vault``, ``subAccount``), the mapped
    ``ExchangeError`` when the venue cannot be asked, ``VenueDataError`` for an answer that
    is not an object."""
    s = calls.settings
    if s.exchange_id != "hyperliquid":
        return
    wallet = str(s.wallet_address or secret_value(s.api_key)).lower()
    signer = str(Account.from_key(secret_value(s.api_secret)).address).lower()
    if signer == wallet:
        return
    api = calls.api()
    raw = await calls.call(api.publicPostInfo, {"type": "userRole", "user": signer})
    answer = mapping(raw, "hyperliquid userRole")
    role, data = answer.get("role"), answer.get("data")
    master = data.get("user") if role == "agent" and isinstance(data, Mapping) else None
    if role == "missing" or (isinstance(master, str) and master.lower() == wallet):
        return  # an unknown key trades nothing: the venue refuses its first signed action
    what = f"an API wallet of {master}" if isinstance(master, str) else f"role {role!r}"
    raise AuthenticationError(
        f"hyperliquid: the signing key's address {signer} is {what}, not the wallet "
        f"{wallet} nor an API wallet approved for it: its orders would trade another "
        "account. Use the wallet's own key or an API wallet it approved"
    )


def builder_fee_quote(s: CcxtPerpSettings, amount_base: Decimal, price: Decimal) -> Decimal:
    """The builder fee of one fill in quote: ``fee_bps / 10^4 × amount × price`` (0 without a
    configured builder: none is attached)."""
    if s.builder is None:
        return Decimal(0)
    return s.builder.fee_bps / Decimal(10_000) * amount_base * price


def funding_from_user_funding(income: Mapping[str, Any], *, symbol: str) -> FundingPayment:
    """One funding payment from a ccxt ``fetchFundingHistory`` row of Hyperliquid, whose
    ``info.delta`` (the venue's ``userFunding``) holds the amount (``usdc``), the rate and the
    signed position (``szi``) it was charged on; the mark is derived from
    ``usdc = -szi × mark × rate`` (0 when rate or position is 0: none can be derived). The
    venue's ``hash`` is all zeros for funding, so the id is the funding time. Raises
    ``VenueDataError`` for a missing or unreadable field."""
    ts = timestamp_ms(income.get("timestamp"), "funding payment timestamp")
    what = f"hyperliquid funding payment at {ts}"
    info = mapping(income.get("info"), f"{what} info")
    delta = mapping(info.get("delta"), f"{what} delta")
    amount = required(delta, "usdc", what)
    rate = required(delta, "fundingRate", what)
    position = required(delta, "szi", what)
    mark = (-amount / (position * rate)).quantize(_MARK_PLACES) if rate and position else Decimal(0)
    if mark < 0:
        raise VenueDataError(f"{what}: usdc {amount} has the wrong sign for szi {position}")
    return FundingPayment(
        id=f"funding-{ts}",
        symbol=symbol,
        amount_quote=amount,
        rate=rate,
        position_base=position,
        mark_price=mark,
        timestamp=ts,
    )
