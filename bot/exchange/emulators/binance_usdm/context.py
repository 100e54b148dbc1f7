"""What every Binance route reads: the simulated venue, the clocks, the fault switches and
the symbol's names on the wire."""

from __future__ import annotations

from collections.abc import Mapping

from bot.exchange.emulators.binance_usdm.faults import EmulatorFaults
from bot.exchange.emulators.binance_usdm.wire import BinanceError
from bot.exchange.venue import SimVenue
from bot.ports import Clock

__all__ = ["BinanceContext"]


class BinanceContext:
    """One emulated account over one ``SimVenue`` with one symbol."""

    def __init__(self, venue: SimVenue, clock: Clock, faults: EmulatorFaults) -> None:
        self.venue, self.clock, self.faults = venue, clock, faults
        base, _, rest = venue.rules().symbol.partition("/")
        quote, _, settle = rest.partition(":")
        self.base, self.quote, self.settle = base, quote, settle or quote
        self.market_id = f"{base}{quote}"

    def now_ms(self) -> int:
        """The venue's time in ms (funding, orders, fills)."""
        return int(self.clock.now() * 1000)

    def server_ms(self) -> int:
        """The server time the API shows (``/time``) and judges ``timestamp`` against: the
        venue's time, behind by ``faults.host_clock_ahead_s`` (a host clock ahead)."""
        return int((self.clock.now() - self.faults.host_clock_ahead_s) * 1000)

    def check_symbol(self, params: Mapping[str, str], required: bool = True) -> None:
        """-1121 unless ``symbol`` is this market's id (absent is fine when not required)."""
        symbol = params.get("symbol")
        if symbol is None and not required:
            return
        if symbol != self.market_id:
            raise BinanceError(-1121)

    def isolated(self) -> bool:
        """True when the account's margin mode is isolated."""
        return str(self.venue.margin_mode).lower().startswith("isolated")
