"""Frozen value types shared by the core and the shell.

Money rules (ARCHITECTURE.md, "Money types"): on-chain quantities are ``int`` in raw token
units (wei, Q64.96); anything in human units (base/quote tokens, prices, exchange sizes) is
``Decimal``. Floats never cross a layer boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal

PoolKind = Literal["v2", "v3"]


class Side(StrEnum):
    """Order side on the perp venue."""

    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    """Lifecycle of an order as the venue reports it."""

    NEW = "new"  # intent recorded, not yet sent
    OPEN = "open"  # accepted, resting (not used by IOC orders)
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"  # terminal for IOC: remainder cancelled
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"  # IOC with nothing filled
    UNKNOWN = "unknown"  # submitted, outcome not yet known (timeout/disconnect)


TERMINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }
)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An ERC-20 token as read from chain."""

    address: str
    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class V2PoolRead:
    """Raw state of one Uniswap V2 pair and one LP holder, read at ``block_number``."""

    pair: str
    token0: TokenInfo
    token1: TokenInfo
    reserve0: int
    reserve1: int
    total_supply: int
    lp_balance: int
    # what burn also reads at the block: feeTo != 0 and kLast (the pending protocol-fee mint),
    # and the pair's token balances (None: equal to the reserves)
    k_last: int = 0
    fee_on: bool = False
    balance0: int | None = None
    balance1: int | None = None


@dataclass(frozen=True, slots=True)
class PositionExposure:
    """What one LP position is worth and how it moves with the price (human units)."""

    id: str
    kind: PoolKind
    amount_base: Decimal
    amount_quote: Decimal
    value_quote: Decimal
    delta_base: Decimal  # d(value)/d(price), in base units
    gamma: Decimal  # d(delta)/d(price), base units per quote-per-base
    price: Decimal  # pool price, quote per base
    fees_base: Decimal = Decimal(0)
    fees_quote: Decimal = Decimal(0)
    in_range: bool = True
    tick_lower: int | None = None
    tick_upper: int | None = None
    liquidity: int | None = None
    # the contracts' dialect, e.g. "uniswap_v4" (None: Uniswap of ``kind``, "uniswap_v3");
    # ``kind`` stays the curve (v2: constant product, v3: concentrated, V4 included)
    protocol: str | None = None
    hooked: bool | None = None  # V4: the pool calls a hooks contract; None: not a V4 pool
    location: str = "wallet"  # or "staked:<MasterChefV3 or gauge address>"
    earns: str = "fees"  # staked: "emissions" (fees_* 0, known) or "fees+emissions"; unread
    chain: str | None = None  # the config's chain name (bot.config_chains); None: the one chain
    # the range as prices, quote per base, from the ticks with the pair's decimals and token
    # order (lower <= upper whatever the order); None: full range (V2)
    price_lower: Decimal | None = None
    price_upper: Decimal | None = None
    pool: str | None = None  # the pool's checksummed address (V2 pair, V3 pool); V4: pool id hex


@dataclass(frozen=True, slots=True)
class PositionMove:
    """An LP position that arrived at or left a ``location`` (``wallet``, ``staked:<addr>``)
    at ``block``: found, staked, unstaked, transferred or burned."""

    block: int
    position: str  # the exposure id
    arrived: bool
    location: str
    protocol: str
    token_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChainNotice:
    """Something the chain read found that an operator must hear about, without failing the
    read (e.g. ``position.duplicate``: two config entries reach the same position)."""

    alert: str  # the alert name, e.g. "position.duplicate"
    detail: str
    entries: tuple[str, ...] = ()  # the config entry ids concerned


@dataclass(frozen=True, slots=True)
class ChainSnapshot:
    """Everything read from chain for one tick."""

    block_number: int
    block_timestamp: int
    block_hash: str
    price: Decimal  # quote per base, from the (first) pool
    positions: tuple[PositionExposure, ...]
    wallet_base: Decimal = Decimal(0)
    notices: tuple[ChainNotice, ...] = ()  # each raised once, on the snapshot that found it
    moves: tuple[PositionMove, ...] = ()  # likewise: positions arrived or left since the last
    # several chains: the block each chain was read at (block_* above: the primary chain's)
    blocks: tuple[tuple[str, int], ...] = ()

    @property
    def delta_base(self) -> Decimal:
        """Total LP delta plus base held outside the pools."""
        return sum((p.delta_base for p in self.positions), self.wallet_base)


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Venue precision and limits for the hedge symbol (from ccxt markets or the venue)."""

    symbol: str
    amount_step: Decimal  # contract size step, in base units
    price_tick: Decimal
    min_amount: Decimal
    min_notional: Decimal  # quote
    # the price the venue multiplies the size by for ``min_notional``: the mark (the paper
    # venue, the Binance emulator) or the order's own limit price, the IOC cap (Hyperliquid's
    # "minimum value of $10" is size x limit price)
    min_notional_price: Literal["mark", "limit"] = "mark"


@dataclass(frozen=True, slots=True)
class PerpPosition:
    """Signed perp position: negative size is short (base units)."""

    symbol: str
    size_base: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    margin: Decimal  # isolated margin (collateral) assigned to the position
    liquidation_price: Decimal | None
    leverage: int


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """Mark/index price and funding as the venue reports them."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal  # per funding interval, e.g. 0.0001 = 1 bp
    next_funding_ts: int  # unix seconds
    timestamp: int  # unix seconds
    bid: Decimal | None = None
    ask: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """Quote-currency collateral on the venue."""

    asset: str
    wallet_balance: Decimal  # deposits + realized pnl - fees + funding
    available: Decimal


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What the bot wants to trade; its client id makes retries idempotent."""

    client_order_id: str
    symbol: str
    side: Side
    amount_base: Decimal
    reduce_only: bool
    limit_price: Decimal | None = None  # None: market; else IOC limit (slippage cap)


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the venue knows it."""

    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: Side
    amount_base: Decimal
    filled_base: Decimal
    average_price: Decimal | None
    status: OrderStatus
    reduce_only: bool
    fee_quote: Decimal = Decimal(0)
    timestamp: int = 0  # unix ms


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution."""

    trade_id: str
    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: Side
    amount_base: Decimal
    price: Decimal
    fee_quote: Decimal
    realized_pnl: Decimal
    timestamp: int  # unix ms


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """Funding credited (positive) or debited (negative) on the position at a funding time."""

    id: str
    symbol: str
    amount_quote: Decimal
    rate: Decimal
    position_base: Decimal
    mark_price: Decimal
    timestamp: int  # unix ms


@dataclass(frozen=True, slots=True)
class Decision:
    """Output of the hedge policy for one tick."""

    action: Literal["hold", "rebalance", "skip"]
    reason: str
    delta_base: Decimal
    target_base: Decimal
    hedge_base: Decimal
    drift_base: Decimal  # hedge - target: positive means under-hedged short
    band_base: Decimal
    order_side: Side | None = None
    order_amount_base: Decimal = Decimal(0)
    reduce_only: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    mark_price: Decimal | None = None  # the venue mark the decision was taken at
