"""Binance USD-M account routes: position risk (v2/v3), account and balance, leverage
brackets, commission, symbol config, and the leverage and margin-type changes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.domain import PerpPosition
from bot.exchange.emulators.binance_usdm.context import BinanceContext
from bot.exchange.emulators.binance_usdm.faults import LEVERAGE_REFUSALS
from bot.exchange.emulators.binance_usdm.wire import BinanceError, int_param, wire_decimal

__all__ = ["AccountRoutes"]


class AccountRoutes:
    """Signed account routes: ``reads()`` (GET) and ``changes()`` (POST), path to handler."""

    def __init__(self, ctx: BinanceContext) -> None:
        self.ctx = ctx

    def reads(self) -> dict[str, Callable[[dict[str, str]], Any]]:
        """``GET /fapi/<path>`` -> handler of the request parameters."""
        return {
            "v1/positionSide/dual": lambda _p: {"dualSidePosition": False},
            "v1/leverageBracket": self._leverage_bracket,
            "v1/commissionRate": self._commission_rate,
            "v1/symbolConfig": self._symbol_config,
            "v2/account": lambda p: self._account(p, v3=False),
            "v3/account": lambda p: self._account(p, v3=True),
            "v2/balance": self._balance,
            "v3/balance": self._balance,
            "v2/positionRisk": lambda p: self._position_risk(p, v3=False),
            "v3/positionRisk": lambda p: self._position_risk(p, v3=True),
        }

    def changes(self) -> dict[str, Callable[[dict[str, str]], Any]]:
        """``POST /fapi/<path>`` -> handler of the request parameters."""
        return {"v1/leverage": self._set_leverage, "v1/marginType": self._margin_type}

    def _leverage_bracket(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.ctx.check_symbol(params, required=False)
        brackets = [
            (1, 125, 50_000, 0, "0.004", "0"),
            (2, 100, 500_000, 50_000, "0.005", "50"),
            (3, 50, 10_000_000, 500_000, "0.01", "5050"),
        ]
        return [
            {
                "symbol": self.ctx.market_id,
                "brackets": [
                    {
                        "bracket": b,
                        "initialLeverage": lev,
                        "notionalCap": cap,
                        "notionalFloor": floor,
                        "maintMarginRatio": float(mmr),
                        "cum": float(cum),
                    }
                    for b, lev, cap, floor, mmr, cum in brackets
                ],
            }
        ]

    def _commission_rate(self, params: dict[str, str]) -> dict[str, Any]:
        self.ctx.check_symbol(params)
        taker = Decimal(str(getattr(self.ctx.venue.params, "taker_fee_bps", 5))) / 10_000
        maker = Decimal(str(getattr(self.ctx.venue.params, "maker_fee_bps", 2))) / 10_000
        return {
            "symbol": self.ctx.market_id,
            "makerCommissionRate": wire_decimal(maker),
            "takerCommissionRate": wire_decimal(taker),
        }

    def _position_row(self, position: PerpPosition, v3: bool) -> dict[str, Any]:
        notional = position.size_base * position.mark_price
        isolated = self.ctx.isolated()
        margin = position.margin if isolated else Decimal(0)
        leverage = Decimal(position.leverage or 1)
        row: dict[str, Any] = {
            "symbol": self.ctx.market_id,
            "positionSide": "BOTH",
            "positionAmt": wire_decimal(position.size_base),
            "entryPrice": wire_decimal(position.entry_price),
            "breakEvenPrice": wire_decimal(position.entry_price),
            "markPrice": wire_decimal(position.mark_price),
            "unRealizedProfit": wire_decimal(position.unrealized_pnl),
            "liquidationPrice": wire_decimal(position.liquidation_price or 0),
            "isolatedMargin": wire_decimal(
                margin + position.unrealized_pnl if isolated else margin
            ),
            "notional": wire_decimal(notional),
            "isolatedWallet": wire_decimal(margin),
            "updateTime": self.ctx.now_ms(),
        }
        if v3:
            row.update(
                marginAsset=self.ctx.settle,
                initialMargin=wire_decimal(abs(notional) / leverage),
                maintMargin=wire_decimal(abs(notional) * Decimal("0.004")),
                positionInitialMargin=wire_decimal(abs(notional) / leverage),
                openOrderInitialMargin="0",
                adl=0,
                bidNotional="0",
                askNotional="0",
            )
        else:
            row.update(
                leverage=str(position.leverage),
                maxNotionalValue="50000000",
                marginType="isolated" if isolated else "cross",
                isAutoAddMargin="false",
                isolated=isolated,
                adlQuantile=0,
            )
        return row

    def _corrupted(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with the position-row fault switches applied."""
        row.update(self.ctx.faults.position_row_overrides)
        for name in self.ctx.faults.position_row_drops:
            row.pop(name, None)
        return row

    def _position_risk(self, params: dict[str, str], v3: bool) -> list[dict[str, Any]]:
        self.ctx.check_symbol(params, required=False)
        position = self.ctx.venue.position()
        if v3 and position.size_base == 0:
            return []  # v3 lists only symbols with a position or open orders
        return [self._corrupted(self._position_row(position, v3))]

    def _asset_row(self) -> dict[str, Any]:
        balance = self.ctx.venue.balance()
        position = self.ctx.venue.position()
        notional = abs(position.size_base * position.mark_price)
        initial = notional / Decimal(position.leverage or 1)
        return {
            "asset": self.ctx.settle,
            "walletBalance": wire_decimal(balance.wallet_balance),
            "unrealizedProfit": wire_decimal(position.unrealized_pnl),
            "marginBalance": wire_decimal(balance.wallet_balance + position.unrealized_pnl),
            "maintMargin": wire_decimal(notional * Decimal("0.004")),
            "initialMargin": wire_decimal(initial),
            "positionInitialMargin": wire_decimal(initial),
            "openOrderInitialMargin": "0",
            "crossWalletBalance": wire_decimal(balance.wallet_balance),
            "crossUnPnl": wire_decimal(position.unrealized_pnl),
            "availableBalance": wire_decimal(balance.available),
            "maxWithdrawAmount": wire_decimal(balance.available),
            "marginAvailable": True,
            "updateTime": self.ctx.now_ms(),
        }

    def _account(self, _params: dict[str, str], v3: bool) -> dict[str, Any]:
        asset = self._asset_row()
        position = self.ctx.venue.position()
        totals = {
            "totalInitialMargin": asset["initialMargin"],
            "totalMaintMargin": asset["maintMargin"],
            "totalWalletBalance": asset["walletBalance"],
            "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"],
            "totalPositionInitialMargin": asset["positionInitialMargin"],
            "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": asset["crossWalletBalance"],
            "totalCrossUnPnl": asset["crossUnPnl"],
            "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"],
        }
        positions = (
            []
            if v3 and position.size_base == 0
            else [self._corrupted(self._position_row(position, v3))]
        )
        account: dict[str, Any] = {**totals, "assets": [asset], "positions": positions}
        if not v3:
            account.update(
                feeTier=0,
                canTrade=True,
                canDeposit=True,
                canWithdraw=True,
                feeBurn=False,
                tradeGroupId=-1,
                updateTime=0,
                multiAssetsMargin=False,
            )
        return account

    def _balance(self, _params: dict[str, str]) -> list[dict[str, Any]]:
        asset = self._asset_row()
        return [
            {
                "accountAlias": "emulator",
                "asset": self.ctx.settle,
                "balance": asset["walletBalance"],
                "crossWalletBalance": asset["crossWalletBalance"],
                "crossUnPnl": asset["crossUnPnl"],
                "availableBalance": asset["availableBalance"],
                "maxWithdrawAmount": asset["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": asset["updateTime"],
            }
        ]

    def _set_leverage(self, params: dict[str, str]) -> dict[str, Any]:
        self.ctx.check_symbol(params)
        leverage = int_param(params, "leverage")
        if leverage is None or not 1 <= leverage <= 125:
            raise BinanceError(-4028, leverage=params.get("leverage"))
        refusal = self.ctx.faults.leverage_refusal
        if refusal is not None and leverage != self.ctx.venue.position().leverage:
            raise BinanceError(refusal, LEVERAGE_REFUSALS.get(refusal, "Leverage refused."))
        self.ctx.venue.set_leverage(leverage)
        return {"leverage": leverage, "maxNotionalValue": "50000000", "symbol": self.ctx.market_id}

    def _symbol_config(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.ctx.check_symbol(params, required=False)
        return [
            {
                "symbol": self.ctx.market_id,
                "marginType": "ISOLATED" if self.ctx.isolated() else "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": self.ctx.venue.position().leverage,
                "maxNotionalValue": "50000000",
            }
        ]

    def _margin_type(self, params: dict[str, str]) -> dict[str, Any]:
        self.ctx.check_symbol(params)
        wanted = params.get("marginType", "").upper()
        if wanted not in ("ISOLATED", "CROSSED"):
            raise BinanceError(-4044)
        mode = "isolated" if wanted == "ISOLATED" else "cross"
        if self.ctx.isolated() == (mode == "isolated"):
            raise BinanceError(-4046)
        if self.ctx.venue.position().size_base != 0:
            raise BinanceError(-4048)
        self.ctx.venue.margin_mode = mode
        return {"code": 200, "msg": "success"}
