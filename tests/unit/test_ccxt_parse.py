"""The venue validation layer (``ccxt_parse``/``ccxt_history``): raw ccxt rows in, domain
values out, and a row the bot cannot trust is a ``VenueDataError`` — never a silent zero.

The properties take one complete row per parser and damage it the ways real venues and ccxt
do (a field removed, null, NaN, infinite, negated, non-numeric, as text, two fields swapped)
and assert the parser answers exactly what the complete row gives, or raises the read error.
The few fields with a documented meaning when absent are listed in ``DEGRADED`` with the value
they then take (never the margin: a position's margin has no substitute); anything else
differing from the complete row fails the property.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.domain import OrderIntent, OrderStatus, Side
from bot.errors import ExchangeError, VenueDataError
from bot.exchange.ccxt.history import fill_from_ccxt, funding_from_ccxt, order_from_ccxt
from bot.exchange.ccxt.parse import (
    balance_from_ccxt,
    position_from_ccxt,
    position_size_base,
    quote_from_ccxt,
    rules_from_market,
)
from bot.exchange.ccxt.settings import RAW_SIZE_FIELDS, AccountSetup

pytestmark = pytest.mark.unit

SYMBOL = "ETH/USDT:USDT"
T = 1_800_000_000_000
BINANCE = RAW_SIZE_FIELDS["binanceusdm"]

SHORT_ROW: dict[str, Any] = {
    "symbol": SYMBOL,
    "contracts": 2.0,
    "side": "short",
    "notional": 4000.0,
    "markPrice": 2000.0,
    "entryPrice": 1950.0,
    "unrealizedPnl": -100.0,
    "liquidationPrice": 2600.0,
    "marginMode": "isolated",
    "positionMargin": 1300.0,
    "initialMargin": 1333.33,
    "leverage": 3,
    "info": {
        "positionAmt": "-2.000",
        "liquidationPrice": "2600",
        "positionInitialMargin": "1333.33",
    },
}
LONG_ROW: dict[str, Any] = {
    **SHORT_ROW,
    "side": "long",
    "unrealizedPnl": 100.0,
    "liquidationPrice": 1400.0,
    "info": {
        "positionAmt": "2.000",
        "liquidationPrice": "1400",
        "positionInitialMargin": "1333.33",
    },
}


# a cross row as ccxt gives it: no isolated wallet, the initial margin in use
CROSS_ROW: dict[str, Any] = {**SHORT_ROW, "marginMode": "cross", "positionMargin": None}


def parse_position(
    row: dict[str, Any], raw_size: Any = BINANCE, margin_mode: str | None = "isolated"
) -> Any:
    """``row`` read by an account that runs ``margin_mode`` at leverage 5 (set at start)."""
    account = AccountSetup(leverage=5, margin_mode=margin_mode)
    return position_from_ccxt(
        row, symbol=SYMBOL, contract_size=Decimal(1), account=account, raw_size=raw_size
    )


# ------------------------------------------------------------------ examples


def test_complete_short_row_reads_its_size_and_prices() -> None:
    """A complete short row is -2 base at entry 1950, mark 2000, with its margin and liq."""
    position = parse_position(SHORT_ROW)
    assert position.size_base == Decimal(-2)
    assert (position.entry_price, position.mark_price) == (Decimal(1950), Decimal(2000))
    assert position.unrealized_pnl == Decimal(-100)
    assert (position.margin, position.liquidation_price, position.leverage) == (
        Decimal(1300),
        Decimal(2600),
        3,
    )


def test_null_contracts_on_a_short_is_a_read_error_not_flat() -> None:
    """The issue's row: contracts None, side short, notional present -> VenueDataError."""
    row = {**SHORT_ROW, "contracts": None}
    for raw_size in (BINANCE, None):
        with pytest.raises(VenueDataError, match="contracts missing or null"):
            position_size_base(row, Decimal(1), "ETH position", raw_size)
        with pytest.raises(VenueDataError):
            parse_position(row, raw_size)
    assert issubclass(VenueDataError, ExchangeError)


def test_ccxt_estimate_without_the_venue_size_is_refused() -> None:
    """ccxt estimates contracts when positionAmt is missing; the venue's own size is needed."""
    row = {**SHORT_ROW, "contracts": 2.016, "info": {}}
    with pytest.raises(VenueDataError, match="positionAmt missing"):
        parse_position(row)


@pytest.mark.parametrize(
    "row",
    [
        {"symbol": SYMBOL, "contracts": 0, "side": None, "notional": 0, "info": {}},
        {"symbol": SYMBOL, "contracts": 0.0, "side": None, "info": {"positionAmt": "0"}},
        {"symbol": SYMBOL, "contracts": "0", "side": "long", "info": {"positionAmt": "0.000"}},
    ],
    ids=["zero-contracts", "positionAmt-0", "zero-with-side"],
)
def test_genuinely_flat_rows_are_zero(row: dict[str, Any]) -> None:
    """contracts 0 / positionAmt "0" is a flat position, not an error."""
    raw_size = BINANCE if row["info"] else None  # a venue without a raw size field
    assert position_size_base(row, Decimal(1), "ETH position", raw_size) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contracts": -2.0, "side": "long"}, "side long with negative contracts"),
        ({"info": {"positionAmt": "2.000"}}, "positionAmt 2 disagrees"),
        ({"notional": 40000.0}, "notional 40000 disagrees"),
        (
            {"notional": 12.0, "contracts": 0, "side": None, "info": {"positionAmt": "0"}},
            "notional 12 disagrees",
        ),
        ({"contracts": float("nan")}, "not a finite number"),
        ({"contracts": "abc"}, "not a number"),
        ({"markPrice": -2000.0}, "markPrice must be positive"),
        ({"entryPrice": 0}, "entryPrice must be positive"),
        ({"unrealizedPnl": 100.0}, "unrealizedPnl 100 disagrees"),
        (
            {"liquidationPrice": 1500.0, "info": {"positionAmt": "-2", "liquidationPrice": "1500"}},
            "wrong side of mark",
        ),
        ({"liquidationPrice": 1500.0}, "liquidationPrice 1500 disagrees with the venue's 2600"),
        ({"side": "both"}, "side 'both' unknown"),
        ({"contracts": True}, "not a number"),
    ],
)
def test_inconsistent_or_invalid_position_fields_are_read_errors(
    change: dict[str, Any], message: str
) -> None:
    """Wrong sign for the side, disagreeing fields, NaN, text and booleans are refused."""
    with pytest.raises(VenueDataError, match=message):
        parse_position({**SHORT_ROW, **change})


def test_notional_at_the_entry_price_is_refused_where_the_venue_reports_it_at_the_mark() -> None:
    """Binance's notional and the unlisted venues' are at the mark: a row whose notional
    matches only the entry (mark and entry swapped) is a read error; Bybit reports its
    positionValue at the entry, so there the entry is the one that must match."""
    swapped = {**SHORT_ROW, "markPrice": 1950.0, "entryPrice": 2000.0, "unrealizedPnl": 100.0}
    for raw_size in (BINANCE, None):
        with pytest.raises(VenueDataError, match=r"notional 4000 disagrees .* at markPrice 1950"):
            parse_position(swapped, raw_size)
    bybit = RAW_SIZE_FIELDS["bybit"]
    at_entry = {**swapped, "info": {"size": "2"}}
    assert parse_position(at_entry, bybit).entry_price == Decimal(2000)
    with pytest.raises(VenueDataError, match="at entryPrice 1950"):
        parse_position({**SHORT_ROW, "info": {"size": "2"}}, bybit)


def test_isolated_row_without_its_wallet_is_a_read_error_not_its_initial_margin() -> None:
    """An isolated position's margin is its wallet (positionMargin); without it the row is
    unreadable (ccxt's initialMargin is notional / leverage, another quantity). A cross row
    reads the initial margin in use."""
    isolated = {**SHORT_ROW, "positionMargin": None}
    with pytest.raises(VenueDataError, match="isolated position without its wallet"):
        parse_position(isolated)
    assert parse_position(CROSS_ROW, margin_mode="cross").margin == Decimal("1333.33")


@pytest.mark.parametrize(
    "row",
    [
        {**SHORT_ROW, "marginMode": None, "positionMargin": None},
        {**SHORT_ROW, "marginMode": None, "positionMargin": None, "initialMargin": 5000.0},
        {**SHORT_ROW, "marginMode": None, "positionMargin": 0.0},
        {k: v for k, v in SHORT_ROW.items() if k not in ("marginMode", "positionMargin")},
    ],
)
def test_row_of_an_isolated_account_without_its_wallet_is_a_read_error(
    row: dict[str, Any],
) -> None:
    """The account runs isolated (set at start) and the row no longer says so (Binance v3
    with isolatedMargin/isolatedWallet null): a read error, not the initial margin (even 5000)."""
    with pytest.raises(VenueDataError, match="isolated position without its wallet"):
        parse_position(row)
    assert parse_position({**row, "positionMargin": 1300.0}).margin == Decimal(1300)


@pytest.mark.parametrize(
    ("row", "account", "message"),
    [
        (CROSS_ROW, "isolated", "marginMode cross contradicts the account's isolated"),
        (SHORT_ROW, "cross", "marginMode isolated contradicts the account's cross"),
        ({**SHORT_ROW, "marginMode": "portfolio"}, "isolated", "marginMode 'portfolio' unknown"),
        ({**SHORT_ROW, "marginMode": None}, None, "margin mode unknown"),
        ({**CROSS_ROW, "initialMargin": None}, "cross", "initialMargin"),
    ],
)
def test_margin_mode_unknown_or_contradicting_the_account_is_a_read_error(
    row: dict[str, Any], account: str | None, message: str
) -> None:
    """A row's margin mode must be known and agree with the one set at start."""
    with pytest.raises(VenueDataError, match=message):
        parse_position(row, margin_mode=account)


def test_negative_contracts_on_a_short_is_ccxts_signed_convention() -> None:
    """A venue that signs contracts (-2, short) reads the same as ccxt's unsigned 2."""
    assert parse_position({**SHORT_ROW, "contracts": -2.0}) == parse_position(SHORT_ROW)


# --------------------------------------------------------------- mutations


Path = tuple[str | int, ...]
Mutation = tuple[str, Path, Path | None]


def _get(row: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(row, dict | list):
            raise TypeError(f"{type(row).__name__} has no field {key!r}")
        row = row[key]
    return row


def _has(row: Any, path: Path) -> bool:
    try:
        _get(row, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _absent(row: Any, path: Path) -> bool:
    return not _has(row, path) or _get(row, path) in (None, "")


def _set(row: Any, path: Path, value: Any) -> None:
    _get(row, path[:-1])[path[-1]] = value


_REPLACEMENTS: dict[str, Callable[[Any], Any]] = {
    "null": lambda _v: None,
    "nan": lambda _v: float("nan"),
    "inf": lambda _v: float("inf"),
    "text_nan": lambda _v: "NaN",
    "garbage": lambda _v: "abc",
    "as_text": lambda v: str(v) if isinstance(v, int | float) else v,
    "negated": lambda v: -v if isinstance(v, int | float) else v,
    "negated_text": lambda v: (
        (v[1:] if v.startswith("-") else "-" + v) if isinstance(v, str) else v
    ),
    "huge": lambda _v: 1e308,
    "empty": lambda _v: "",
    "list": lambda _v: [1],
}


def mutate(row: Any, mutation: Mutation) -> Any:
    kind, path, other = mutation
    damaged = copy.deepcopy(row)
    if not _has(damaged, path):
        return damaged
    if kind == "drop":
        del _get(damaged, path[:-1])[path[-1]]
    elif kind == "swap":
        assert other is not None
        if _has(damaged, other):
            first, second = _get(damaged, path), _get(damaged, other)
            _set(damaged, path, second)
            _set(damaged, other, first)
    else:
        _set(damaged, path, _REPLACEMENTS[kind](_get(damaged, path)))
    return damaged


# an id is opaque text: "NaN" or "-81" are ids like any other, so only type damage applies
_ID_DAMAGE = ["drop", "null", "empty", "list", "huge", "nan"]


def mutations(
    fields: list[Path], swaps: list[tuple[Path, Path]], ids: tuple[Path, ...] = ()
) -> st.SearchStrategy[Mutation]:
    single = st.tuples(
        st.sampled_from(["drop", *_REPLACEMENTS]), st.sampled_from(fields), st.none()
    )
    strategies = [single]
    if ids:
        strategies.append(st.tuples(st.sampled_from(_ID_DAMAGE), st.sampled_from(ids), st.none()))
    if swaps:
        strategies.append(st.sampled_from(swaps).map(lambda pair: ("swap", pair[0], pair[1])))
    return st.one_of(strategies)


def check_property(
    parse: Callable[[Any], Any],
    complete: Any,
    damage: list[Mutation],
    degraded: dict[Path, Callable[[Any], Any]] | None = None,
) -> None:
    """``parse(damaged)`` is the complete row's value (or a documented degradation of it for a
    field that was removed/nulled), or raises ``VenueDataError``; nothing else."""
    expected = parse(copy.deepcopy(complete))
    damaged = complete
    for mutation in damage:
        damaged = mutate(damaged, mutation)
    try:
        got = parse(damaged)
    except VenueDataError:
        return
    allowed = [expected]
    # each documented degradation, alone or with the others, of a field the damaged row lacks
    # (removed, null or empty: by a mutation of its own, or moved there by a swap)
    for path, degrade in (degraded or {}).items():
        if _absent(damaged, path) and not _absent(complete, path):
            allowed += [degrade(value) for value in allowed]
    assert got in allowed, f"{damage}: {got} is neither {expected} nor a read error"


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POSITION_FIELDS: list[Path] = [
    ("contracts",),
    ("side",),
    ("notional",),
    ("markPrice",),
    ("entryPrice",),
    ("unrealizedPnl",),
    ("liquidationPrice",),
    ("marginMode",),
    ("positionMargin",),
    ("initialMargin",),
    ("leverage",),
    ("info", "positionAmt"),
    ("info",),
]
POSITION_SWAPS: list[tuple[Path, Path]] = [
    (("contracts",), ("notional",)),
    (("contracts",), ("markPrice",)),
    (("markPrice",), ("entryPrice",)),
    (("entryPrice",), ("liquidationPrice",)),
    (("unrealizedPnl",), ("markPrice",)),
    (("side",), ("symbol",)),
    (("contracts",), ("leverage",)),
    (("positionMargin",), ("unrealizedPnl",)),
    (("marginMode",), ("side",)),
]
# absent means something documented: no liquidation price reported; the leverage accepted at
# start. Never the margin: a missing wallet or margin mode is a read error, not another margin
POSITION_DEGRADED: dict[Path, Callable[[Any], Any]] = {
    ("liquidationPrice",): lambda p: replace(p, liquidation_price=None),
    ("leverage",): lambda p: replace(p, leverage=5),
}


@PROPERTY
@given(
    complete=st.sampled_from([SHORT_ROW, LONG_ROW, CROSS_ROW]),
    damage=st.lists(mutations(POSITION_FIELDS, POSITION_SWAPS), min_size=1, max_size=3),
    binance=st.booleans(),
)
# found in review (issue 11 review 3): an isolated row whose wallet and mode were nulled read
# as its initial margin
@example(
    complete=SHORT_ROW,
    damage=[("null", ("marginMode",), None), ("null", ("positionMargin",), None)],
    binance=True,
)
# found by hypothesis: mark and entry swapped with the PnL's sign is a consistent row of the
# other PnL; only the notional (at the mark) tells, so it may not match the entry instead
@example(
    complete=SHORT_ROW,
    damage=[("swap", ("markPrice",), ("entryPrice",)), ("negated", ("unrealizedPnl",), None)],
    binance=False,
)
@example(
    complete=SHORT_ROW,
    damage=[("swap", ("markPrice",), ("entryPrice",)), ("negated", ("unrealizedPnl",), None)],
    binance=True,
)
# a null moved into the liquidation price by two swaps is "none reported", as a null there is
@example(
    complete=SHORT_ROW,
    damage=[
        ("swap", ("entryPrice",), ("liquidationPrice",)),
        ("null", ("entryPrice",), None),
        ("swap", ("entryPrice",), ("liquidationPrice",)),
    ],
    binance=False,
)
def test_damaged_position_rows_read_the_same_or_fail(
    complete: dict[str, Any], damage: list[Mutation], binance: bool
) -> None:
    """Position rows: the same position or VenueDataError, never a silent zero."""

    account = "cross" if complete is CROSS_ROW else "isolated"

    def parse(row: Any) -> Any:
        return parse_position(row, BINANCE if binance else None, account)

    check_property(parse, complete, damage, POSITION_DEGRADED)


BALANCE: dict[str, Any] = {
    "USDT": {"free": 9000.0, "used": 1000.0, "total": 10100.0},
    "info": {"assets": [{"asset": "USDT", "walletBalance": "10000"}]},
}


@PROPERTY
@given(
    damage=st.lists(
        mutations(
            [
                ("USDT", "free"),
                ("USDT", "total"),
                ("USDT",),
                ("info", "assets", 0, "walletBalance"),
                ("info", "assets", 0, "asset"),
                ("info", "assets"),
            ],
            [(("USDT", "free"), ("USDT", "total"))],
        ),
        min_size=1,
        max_size=3,
    )
)
def test_damaged_balances_read_the_same_or_fail(damage: list[Mutation]) -> None:
    """Balances: wallet 10000 / available 9000, or VenueDataError."""
    parsed = balance_from_ccxt(BALANCE, settle="USDT", settle_id="USDT", wallet_in_info=True)
    assert (parsed.wallet_balance, parsed.available) == (Decimal(10000), Decimal(9000))
    check_property(
        lambda raw: balance_from_ccxt(raw, settle="USDT", settle_id="USDT", wallet_in_info=True),
        BALANCE,
        damage,
    )


FUNDING = {
    "markPrice": 2000.0,
    "indexPrice": 1999.5,
    "fundingRate": 0.0001,
    "fundingTimestamp": T + 3_600_000,
    "timestamp": T,
}
BOOK = {"bids": [[1999.9, 5.0]], "asks": [[2000.1, 4.0]], "timestamp": T}


@PROPERTY
@given(
    damage=st.lists(
        mutations(
            [
                (0, "markPrice"),
                (0, "fundingRate"),
                (0, "fundingTimestamp"),
                (1, "bids", 0, 0),
                (1, "asks", 0, 0),
                (1, "bids", 0, 1),
                (1, "bids"),
                (1, "asks", 0),
            ],
            [
                ((1, "bids"), (1, "asks")),
                ((0, "fundingRate"), (0, "markPrice")),
                ((0, "markPrice"), (0, "fundingTimestamp")),
            ],
        ),
        min_size=1,
        max_size=3,
    )
)
def test_damaged_quotes_read_the_same_or_fail(damage: list[Mutation]) -> None:
    """Funding rate + book: mark 2000, rate 0.0001, bid < ask, or VenueDataError. (A rate
    carries no sign rule, so its negation is excluded: any sign is a real value. A swap with
    the mark carries a negation of the mark into the rate, so those are excluded together.)"""
    rate_moves = any(m[0] == "swap" and (0, "fundingRate") in m[1:] for m in damage)
    signless = {(0, "fundingRate"), (0, "markPrice")} if rate_moves else {(0, "fundingRate")}
    damage = [m for m in damage if not (m[1] in signless and "neg" in m[0])]

    def parse(pair: Any) -> Any:
        return quote_from_ccxt(pair[0], pair[1], symbol=SYMBOL, now_ms=T)

    quote = parse([FUNDING, BOOK])
    assert (quote.mark_price, quote.funding_rate, quote.bid) == (
        Decimal(2000),
        Decimal("0.0001"),
        Decimal("1999.9"),
    )
    check_property(parse, [FUNDING, BOOK], damage)


MARKET = {
    "precision": {"amount": 0.001, "price": 0.01},
    "limits": {"amount": {"min": 0.001}, "cost": {"min": 5.0}},
    "contractSize": 1.0,
}


@PROPERTY
@given(
    damage=st.lists(
        mutations(
            [
                ("precision", "amount"),
                ("precision", "price"),
                ("limits", "amount", "min"),
                ("limits", "cost", "min"),
            ],
            [(("precision", "amount"), ("limits", "cost", "min"))],
        ),
        min_size=1,
        max_size=1,  # limits have no cross-field invariant beyond "min amount >= step"
    )
)
def test_damaged_market_rules_read_the_same_or_fail(damage: list[Mutation]) -> None:
    """Market rules: step 0.001, tick 0.01, min 0.001, min notional 5, or VenueDataError."""

    def parse(market: Any) -> Any:
        return rules_from_market(
            market, symbol=SYMBOL, contract_size=Decimal(1), precision_mode="tick"
        )

    rules = parse(MARKET)
    assert (rules.amount_step, rules.price_tick, rules.min_notional) == (
        Decimal("0.001"),
        Decimal("0.01"),
        Decimal(5),
    )
    # absent limits mean: one step minimum; no minimum notional (ccxt's None)
    degraded: dict[Path, Callable[[Any], Any]] = {
        ("limits", "cost", "min"): lambda r: replace(r, min_notional=Decimal(0)),
    }
    check_property(parse, MARKET, damage, degraded)


ORDER = {
    "id": "81",
    "clientOrderId": "h-1",
    "side": "sell",
    "amount": 2.0,
    "filled": 2.0,
    "average": 1999.5,
    "status": "closed",
    "reduceOnly": False,
    "timestamp": T,
    "fee": None,
}
ORDER_FIELDS: list[Path] = [
    ("side",),
    ("amount",),
    ("filled",),
    ("average",),
    ("reduceOnly",),
    ("timestamp",),
]


@PROPERTY
@given(
    damage=st.lists(
        mutations(
            ORDER_FIELDS,
            [(("amount",), ("average",)), (("filled",), ("average",)), (("side",), ("status",))],
            ids=(("id",), ("clientOrderId",)),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_damaged_orders_read_the_same_or_fail(damage: list[Mutation]) -> None:
    """Orders read without an intent: the filled sell of 2 at 1999.5, or VenueDataError."""

    def parse(raw: Any) -> Any:
        return order_from_ccxt(
            raw, symbol=SYMBOL, contract_size=Decimal(1), intent=None, now_ms=T + 1
        )[0]

    order = parse(ORDER)
    assert (order.status, order.filled_base, order.average_price) == (
        OrderStatus.FILLED,
        Decimal(2),
        Decimal("1999.5"),
    )
    check_property(parse, ORDER, damage)


def test_ack_answer_falls_back_to_the_intent_it_answers() -> None:
    """A bare ACK (no side/amount) reads as the intent sent, nothing filled yet."""
    intent = OrderIntent("h-2", SYMBOL, Side.BUY, Decimal("1.5"), reduce_only=True)
    order, _ = order_from_ccxt(
        {"id": "82", "status": "open"},
        symbol=SYMBOL,
        contract_size=Decimal(1),
        intent=intent,
        now_ms=T,
    )
    assert (order.client_order_id, order.side, order.amount_base, order.filled_base) == (
        "h-2",
        Side.BUY,
        Decimal("1.5"),
        Decimal(0),
    )
    assert order.reduce_only is True


TRADE = {
    "id": "7",
    "order": "81",
    "side": "sell",
    "amount": 2.0,
    "price": 1999.5,
    "cost": 3999.0,
    "fee": {"cost": 1.9995, "currency": "USDT"},
    "takerOrMaker": "taker",
    "timestamp": T,
    "info": {"realizedPnl": "12.5"},
}


@PROPERTY
@given(
    damage=st.lists(
        mutations(
            [
                ("side",),
                ("amount",),
                ("price",),
                ("cost",),
                ("fee",),
                ("fee", "cost"),
                ("timestamp",),
                ("info", "realizedPnl"),
            ],
            [(("amount",), ("cost",)), (("price",), ("cost",)), (("timestamp",), ("price",))],
            ids=(("id",), ("order",)),
        ),
        min_size=1,
        # three swaps through cost compose into amount <-> price, which no row-local check
        # can see (amount x price is the same); the order's own amount bounds a fill there
        max_size=2,
    )
)
def test_damaged_trades_read_the_same_or_fail(damage: list[Mutation]) -> None:
    """Fills: sell 2 at 1999.5, fee 1.9995, realized 12.5, or VenueDataError. (The realized
    PnL carries no sign rule, so its negation is excluded: any sign is a real value.)"""
    damage = [m for m in damage if not (m[1] == ("info", "realizedPnl") and "negated" in m[0])]

    def parse(raw: Any) -> Any:
        return fill_from_ccxt(
            raw,
            symbol=SYMBOL,
            contract_size=Decimal(1),
            client_order_id="h-1",
            realized_pnl_key="realizedPnl",
        )[0]

    fill = parse(TRADE)
    assert (fill.amount_base, fill.price, fill.fee_quote, fill.realized_pnl) == (
        Decimal(2),
        Decimal("1999.5"),
        Decimal("1.9995"),
        Decimal("12.5"),
    )
    check_property(parse, TRADE, damage)


INCOME = {"id": "f1", "amount": -0.8, "timestamp": T}
RATES = [{"timestamp": T, "fundingRate": 0.0001, "info": {"markPrice": "2000"}}]


@PROPERTY
@given(
    damage=st.lists(
        mutations(
            [
                (0, "amount"),
                (0, "timestamp"),
                (1, 0, "fundingRate"),
                (1, 0, "timestamp"),
                (1, 0, "info", "markPrice"),
            ],
            [((1, 0, "fundingRate"), (1, 0, "info", "markPrice"))],
        ),
        min_size=1,
        max_size=2,  # swap, negate, swap back = a negated rate, and a rate has no sign rule
    )
)
def test_damaged_funding_reads_the_same_or_fail(damage: list[Mutation]) -> None:
    """Funding: -0.8 paid at rate 0.0001 and mark 2000 = a 4-base long, or VenueDataError.
    (Amount and rate carry no sign rule: their negation is excluded.)"""
    damage = [
        m for m in damage if not (m[1] in ((0, "amount"), (1, 0, "fundingRate")) and "neg" in m[0])
    ]

    def parse(pair: Any) -> Any:
        return funding_from_ccxt(pair[0], pair[1], symbol=SYMBOL, amount_step=Decimal("0.001"))

    payment = parse([INCOME, RATES])
    assert (payment.position_base, payment.mark_price, payment.rate) == (
        Decimal(4),
        Decimal(2000),
        Decimal("0.0001"),
    )
    check_property(parse, [INCOME, RATES], damage)
