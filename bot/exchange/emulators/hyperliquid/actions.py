"""The emulated ``POST /exchange``: signer recovery, nonce checks and the actions.

Every request's signer is recovered (``signing``); L1 actions act for the master (signed by it
or an approved agent) or its vault, user-signed actions only for the master. A refusal of the
whole action is ``{"status": "err", "response": text}``; per-order refusals are ``{"error":
text}`` entries of an ``ok`` answer, as on the venue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from bot.exchange.emulators.hyperliquid.accounts import AccountRegistry, VenueRefusal
from bot.exchange.emulators.hyperliquid.book import (
    HyperliquidBook,
    MalformedAction,
    parse_order_wire,
)
from bot.exchange.emulators.hyperliquid.faults import HyperliquidFaults
from bot.exchange.emulators.hyperliquid.rules import NonceBook
from bot.exchange.emulators.hyperliquid.signing import (
    USER_SIGNED_TYPES,
    SignatureInvalid,
    recover_l1_signer,
    recover_user_signer,
)
from bot.exchange.hyperliquid_texts import Refusal, hyperliquid_text

__all__ = ["ExchangeActions", "ExchangeAnswer"]

_log = structlog.get_logger("hedgebot.exchange.emulators.hyperliquid")


@dataclass(frozen=True, slots=True)
class ExchangeAnswer:
    """The JSON body to answer and whether an order was accepted (for the drop fault)."""

    body: dict[str, Any]
    order_accepted: bool = False


def _ok(kind: str, data: Any = None) -> dict[str, Any]:
    response: dict[str, Any] = {"type": kind}
    if data is not None:
        response["data"] = data
    return {"status": "ok", "response": response}


def _err(message: str) -> ExchangeAnswer:
    return ExchangeAnswer({"status": "err", "response": message})


def _int_field(body: Mapping[str, Any], name: str, required: bool) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**64:
        raise MalformedAction(f"{name} must be an unsigned integer")
    return value


class ExchangeActions:
    """Authenticates and applies ``/exchange`` requests against one book."""

    def __init__(
        self,
        registry: AccountRegistry,
        book: HyperliquidBook,
        faults: HyperliquidFaults,
        now_ms: Callable[[], tuple[int, ...]],
        *,
        mainnet: bool,
        other_book: Callable[[], HyperliquidBook] | None = None,
    ) -> None:
        self.registry = registry
        self.book = book
        # another master's account, on the first action its agent signs (other_masters)
        self._other_book = other_book
        self.other_books: dict[str, HyperliquidBook] = {}
        self.faults = faults
        self.nonces = NonceBook()
        self._now_ms = now_ms
        self.mainnet = mainnet
        self.chain = "Mainnet" if mainnet else "Testnet"

    def handle(self, body: Any) -> ExchangeAnswer:
        """Answer one request body; raises ``MalformedAction`` for an undeserializable one."""
        if not isinstance(body, dict) or not isinstance(body.get("action"), dict):
            raise MalformedAction("the body needs an action object")
        action: dict[str, Any] = body["action"]
        kind = action.get("type")
        if not isinstance(kind, str):
            raise MalformedAction("action.type must be text")
        nonce = _int_field(body, "nonce", required=True)
        assert nonce is not None
        try:
            if kind in USER_SIGNED_TYPES:
                return self._user_signed(kind, action, nonce, body.get("signature"))
            return self._l1(kind, action, nonce, body)
        except VenueRefusal as exc:
            _log.info("emulator.hl_refused", action=kind, reason=exc.message)
            return _err(exc.message)

    def _check_nonce(self, signer: str, nonce: int) -> None:
        refusal = self.nonces.refusal(signer, nonce, self._now_ms())
        if refusal is not None:
            raise VenueRefusal(refusal)
        self.nonces.record(signer, nonce)

    # ------------------------------------------------------------------ user-signed
    def _user_signed(
        self, kind: str, action: dict[str, Any], nonce: int, signature: Any
    ) -> ExchangeAnswer:
        try:
            signer = recover_user_signer(action, signature)
        except KeyError as exc:
            raise MalformedAction(f"{kind} is missing {exc}") from None
        except SignatureInvalid as exc:
            raise MalformedAction(str(exc)) from None
        signed_nonce = action.get("nonce", action.get("time"))
        if signed_nonce != nonce:
            raise VenueRefusal("Signed nonce does not match the request nonce.")
        if action.get("hyperliquidChain") != self.chain:
            raise VenueRefusal(f"Invalid hyperliquidChain: this is {self.chain}.")
        self.registry.require_depositor(signer)
        self._check_nonce(signer, nonce)
        if kind == "approveBuilderFee":
            self.registry.approve_builder(str(action["builder"]), str(action["maxFeeRate"]))
            _log.info("emulator.hl_builder_approved", builder=action["builder"])
        elif kind == "approveAgent":
            self.registry.approve_agent(str(action["agentAddress"]))
            _log.info("emulator.hl_agent_approved", agent=action["agentAddress"])
        else:
            raise VenueRefusal(f"{kind} is not supported by the emulator.")
        return ExchangeAnswer(_ok("default"))

    # ------------------------------------------------------------------ L1
    def _l1(
        self, kind: str, action: dict[str, Any], nonce: int, body: Mapping[str, Any]
    ) -> ExchangeAnswer:
        vault = body.get("vaultAddress")
        if vault is not None and not isinstance(vault, str):
            raise MalformedAction("vaultAddress must be text")
        expires_after = _int_field(body, "expiresAfter", required=False)
        try:
            signer = recover_l1_signer(
                action,
                nonce,
                vault,
                body.get("signature"),
                mainnet=self.mainnet,
                expires_after=expires_after,
            )
        except SignatureInvalid as exc:
            raise MalformedAction(str(exc)) from None
        except (ValueError, TypeError, OverflowError) as exc:  # msgpack or a bad vault address
            raise MalformedAction(f"unhashable action: {type(exc).__name__}") from None
        account = self.registry.acting_account(signer, vault)
        self._check_nonce(signer, nonce)
        if expires_after is not None and expires_after < max(self._now_ms()):
            raise VenueRefusal("Action expired.")
        return self._apply_l1(kind, action, self._book_of(account))

    def _book_of(self, account: str) -> HyperliquidBook:
        """The book of the account an action acts on: the simulated account, or another
        master's (created on its first action); ``VenueRefusal`` for any other account."""
        if account == self.registry.trading_address:
            return self.book
        if account in self.registry.other_masters and self._other_book is not None:
            if account not in self.other_books:
                self.other_books[account] = self._other_book()
            return self.other_books[account]
        raise VenueRefusal(hyperliquid_text(Refusal.NO_DEPOSIT).message(user=account))

    def _apply_l1(self, kind: str, action: dict[str, Any], book: HyperliquidBook) -> ExchangeAnswer:
        if kind == "order":
            return self._order(action, book)
        if kind in ("cancel", "cancelByCloid"):
            return self._cancel(kind, action, book)
        if kind == "updateLeverage":
            refusal = book.update_leverage(
                action.get("asset"), action.get("isCross"), action.get("leverage")
            )
            return _err(refusal) if refusal else ExchangeAnswer(_ok("default"))
        if kind == "setReferrer":
            self.registry.set_referrer(action.get("code"))
            return ExchangeAnswer(_ok("default"))
        if kind == "noop":
            return ExchangeAnswer(_ok("default"))
        raise MalformedAction(f"unknown action type {kind[:40]!r}")

    def _order(self, action: dict[str, Any], book: HyperliquidBook) -> ExchangeAnswer:
        raw_orders = action.get("orders")
        if not isinstance(raw_orders, list) or not raw_orders:
            raise MalformedAction("orders must be a non-empty list")
        if action.get("grouping") != "na":
            raise VenueRefusal("Only grouping na is supported by the emulator.")
        orders = [parse_order_wire(raw) for raw in raw_orders]
        self.registry.check_builder(action.get("builder"))
        statuses = []
        for order in orders:
            fraction = self.faults.take_partial_fill() if order.tif == "Ioc" else None
            status = book.place(order, fraction)
            _log.info("emulator.hl_order", cloid=order.cloid, status=next(iter(status)))
            statuses.append(status)
        accepted = any("error" not in s for s in statuses)
        return ExchangeAnswer(_ok("order", {"statuses": statuses}), order_accepted=accepted)

    def _cancel(self, kind: str, action: dict[str, Any], book: HyperliquidBook) -> ExchangeAnswer:
        cancels = action.get("cancels")
        if not isinstance(cancels, list) or not cancels:
            raise MalformedAction("cancels must be a non-empty list")
        statuses: list[Any] = []
        for entry in cancels:
            if not isinstance(entry, dict):
                raise MalformedAction("a cancel must be an object")
            if kind == "cancel":
                statuses.append(book.cancel(entry.get("a"), entry.get("o")))
            else:
                cloid = entry.get("cloid")
                key = cloid.lower() if isinstance(cloid, str) else None
                statuses.append(book.cancel(entry.get("asset"), key))
        return ExchangeAnswer(_ok("cancel", {"statuses": statuses}))
