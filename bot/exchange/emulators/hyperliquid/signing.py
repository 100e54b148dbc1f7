"""Who signed a Hyperliquid ``/exchange`` request: the venue's two EIP-712 schemes.

L1 actions (``order``, ``cancel``, ``updateLeverage``, ``setReferrer`` ...) are signed as the
phantom ``Agent(string source, bytes32 connectionId)`` struct in the ``Exchange`` domain
(chainId 1337), where ``connectionId = keccak(msgpack(action) ‖ nonce as 8 bytes big-endian ‖
0x00 | 0x01 ‖ vault address [‖ 0x00 ‖ expiresAfter as 8 bytes])`` and ``source`` is ``a`` on
mainnet, ``b`` on testnet (Hyperliquid docs, "Signing"; the python SDK's ``action_hash``).
User-signed actions (``approveAgent``, ``approveBuilderFee``, ``withdraw3`` ...) are signed as
their own ``HyperliquidTransaction:*`` struct in the ``HyperliquidSignTransaction`` domain
whose chainId is the action's ``signatureChainId``.

The msgpack bytes depend on the action's key order, so actions must be the JSON objects as
received (``json.loads`` keeps order); nothing here re-sorts them. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

__all__ = [
    "USER_SIGNED_TYPES",
    "SignatureInvalid",
    "action_hash",
    "recover_l1_signer",
    "recover_user_signer",
]

_ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_AGENT_TYPE = [
    {"name": "source", "type": "string"},
    {"name": "connectionId", "type": "bytes32"},
]


def _fields(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "type": kind} for name, kind in pairs]


# action type -> (EIP-712 primary type, its fields); the nonce is the field named nonce or time
USER_SIGNED_TYPES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "approveAgent": (
        "HyperliquidTransaction:ApproveAgent",
        _fields(
            ("hyperliquidChain", "string"),
            ("agentAddress", "address"),
            ("agentName", "string"),
            ("nonce", "uint64"),
        ),
    ),
    "approveBuilderFee": (
        "HyperliquidTransaction:ApproveBuilderFee",
        _fields(
            ("hyperliquidChain", "string"),
            ("maxFeeRate", "string"),
            ("builder", "address"),
            ("nonce", "uint64"),
        ),
    ),
    "withdraw3": (
        "HyperliquidTransaction:Withdraw",
        _fields(
            ("hyperliquidChain", "string"),
            ("destination", "string"),
            ("amount", "string"),
            ("time", "uint64"),
        ),
    ),
    "usdSend": (
        "HyperliquidTransaction:UsdSend",
        _fields(
            ("hyperliquidChain", "string"),
            ("destination", "string"),
            ("amount", "string"),
            ("time", "uint64"),
        ),
    ),
    "usdClassTransfer": (
        "HyperliquidTransaction:UsdClassTransfer",
        _fields(
            ("hyperliquidChain", "string"),
            ("amount", "string"),
            ("toPerp", "bool"),
            ("nonce", "uint64"),
        ),
    ),
}


class SignatureInvalid(ValueError):
    """The signature object is not ``{r, s, v}`` of a recoverable secp256k1 signature."""


def _address_bytes(address: str) -> bytes:
    text = address[2:] if address.lower().startswith("0x") else address
    raw = bytes.fromhex(text)
    if len(raw) != 20:
        raise ValueError(f"an address is 20 bytes, got {len(raw)}")
    return raw


def action_hash(
    action: Mapping[str, Any], nonce: int, vault_address: str | None, expires_after: int | None
) -> bytes:
    """The 32-byte ``connectionId`` of an L1 action (see the module docstring).

    Raises ``ValueError`` for a malformed vault address or a nonce outside uint64."""
    data = msgpack.packb(action, use_bin_type=True) + nonce.to_bytes(8, "big")
    if vault_address is None:
        data += b"\x00"
    else:
        data += b"\x01" + _address_bytes(vault_address)
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return bytes(keccak(data))


def _vrs(signature: Any) -> tuple[int, int, int]:
    if not isinstance(signature, Mapping):
        raise SignatureInvalid("signature must be an object with r, s and v")
    try:
        r = int(str(signature["r"]), 16)
        s = int(str(signature["s"]), 16)
        v = int(signature["v"])
    except (KeyError, TypeError, ValueError):
        raise SignatureInvalid("signature needs hex r, s and an integer v") from None
    return v, r, s


def _recover(full_message: dict[str, Any], signature: Any) -> str:
    try:
        signable = encode_typed_data(full_message=full_message)
        return str(Account.recover_message(signable, vrs=_vrs(signature))).lower()
    except SignatureInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 - eth-keys raises several types for a bad (r, s, v)
        raise SignatureInvalid(f"unrecoverable signature: {type(exc).__name__}") from None


def recover_l1_signer(
    action: Mapping[str, Any],
    nonce: int,
    vault_address: str | None,
    signature: Any,
    *,
    mainnet: bool,
    expires_after: int | None = None,
) -> str:
    """The lower-case address that signed an L1 action; raises ``SignatureInvalid``."""
    connection_id = action_hash(action, nonce, vault_address, expires_after)
    full = {
        "types": {"EIP712Domain": _DOMAIN_TYPE, "Agent": _AGENT_TYPE},
        "primaryType": "Agent",
        "domain": {
            "name": "Exchange",
            "version": "1",
            "chainId": 1337,
            "verifyingContract": _ZERO_ADDRESS,
        },
        "message": {"source": "a" if mainnet else "b", "connectionId": connection_id},
    }
    return _recover(full, signature)


def recover_user_signer(action: Mapping[str, Any], signature: Any) -> str:
    """The lower-case address that signed a user-signed action; raises ``KeyError`` for an
    action type that is not user-signed or a missing field, ``SignatureInvalid`` otherwise."""
    primary, fields = USER_SIGNED_TYPES[str(action["type"])]
    message = {field["name"]: action[field["name"]] for field in fields}
    try:
        chain_id = int(str(action["signatureChainId"]), 16)
    except ValueError:
        raise SignatureInvalid("signatureChainId is not hex") from None
    full = {
        "types": {"EIP712Domain": _DOMAIN_TYPE, primary: fields},
        "primaryType": primary,
        "domain": {
            "name": "HyperliquidSignTransaction",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": _ZERO_ADDRESS,
        },
        "message": message,
    }
    return _recover(full, signature)
