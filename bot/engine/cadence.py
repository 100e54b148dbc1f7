"""What the venue is asked on a tick, and when: the lean cadence.

A quiet tick reads only what the decision needs: the mark (``PerpExchange.mark_quote``, one
request, no book) and the position. The rest is read when it can have changed:

* balance: when ``balance_interval_s`` passed since the last read, when the mark moved more
  than ``balance_refresh_move`` (a fraction) since then, and always before an order is sized
  (:meth:`bot.engine.reads.ReadSteps.sharpen`) unless this very tick already read it;
* the order book: only before an order is sized (``sharpen``: the slippage cap's bid/ask);
* fills: on the first tick; on the two ticks after an own order was placed (the second
  covers a venue listing a trade late) but not on the order's own tick, which books its
  position from the venue's answer (:mod:`bot.core.fill_position`) unless
  ``fills_interval_s`` passed since the last read (when every tick trades, fills lag at
  most that); on the tick an earlier order settled and the one after; when the position
  changed other than by the tick's own order; and at least every ``fills_interval_s``;
* funding history: on the first tick, then once the funding time the last read saw
  (``MarketQuote.next_funding_ts``) has passed, every ``funding_retry_s`` until
  ``funding_grace_s`` after it (a venue posts the payment late).

A kept balance older than its allowed age is never used: it is read again, and a failed read
fails the tick (unknown is not zero).
"""

from __future__ import annotations

from decimal import Decimal

from bot.domain import AccountBalance
from bot.exchange.cadence_settings import CadenceSettings

__all__ = ["CadenceSettings", "VenueCadence", "rest_total"]


class VenueCadence:
    """When the balance, fills and funding history are due (see the module doc)."""

    def __init__(self, settings: CadenceSettings | None = None) -> None:
        self.settings = settings or CadenceSettings()
        self._balance: AccountBalance | None = None
        self._balance_s = 0.0
        self._balance_mark = Decimal(0)
        self._balance_this_tick = False  # read since new_tick(): as fresh as an order needs
        self._fills_s: float | None = None
        self._own_ticks = 0  # ticks whose fills are read for an own order
        self._placed_now = False  # an own order was placed this tick: its fills come later
        self._position: Decimal | None = None
        self._funding_s: float | None = None
        self._funding_at: int | None = None  # the funding time (unix s) the reads wait for

    # balance ------------------------------------------------------------------------
    def new_tick(self) -> None:
        """A tick's venue reads begin: no balance of this tick read yet."""
        self._balance_this_tick = False
        self._placed_now = False

    @property
    def balance_read_this_tick(self) -> bool:
        """Whether the balance was read from the venue since :meth:`new_tick` (then an order
        of this tick needs no second read)."""
        return self._balance_this_tick

    def kept_balance(self, now_s: float, mark: Decimal) -> AccountBalance | None:
        """The kept balance while neither its age nor the mark's move calls for a read;
        None when it must be read now."""
        s = self.settings
        if self._balance is None or now_s - self._balance_s >= s.balance_interval_s:
            return None
        if now_s < self._balance_s:  # the clock went back: the age is unknown
            return None
        if abs(mark - self._balance_mark) > s.balance_refresh_move * self._balance_mark:
            return None
        return self._balance

    def saw_balance(self, balance: AccountBalance, now_s: float, mark: Decimal) -> None:
        """A balance just read at ``now_s`` (unix s) with the mark at ``mark``."""
        self._balance, self._balance_s, self._balance_mark = balance, now_s, mark
        self._balance_this_tick = True

    # fills --------------------------------------------------------------------------
    def own_order(self, *, placed: bool = False) -> None:
        """An own order was settled (read fills this tick and the next) or, ``placed``, placed
        by this tick (read them on the next two ticks, not this one)."""
        self._own_ticks = 2
        self._placed_now = self._placed_now or placed

    def fills_due(self, now_s: float, position_base: Decimal) -> bool:
        """Whether this tick reads the venue's fills (``position_base`` after its order)."""
        if self._fills_s is None:
            return True
        overdue = not 0 <= now_s - self._fills_s < self.settings.fills_interval_s
        if self._placed_now:  # the order's answer gave the position; fills the next ticks
            return overdue  # however long every tick trades, fills lag at most the interval
        if self._own_ticks > 0 or position_base != self._position:
            return True
        return overdue

    def saw_fills(self, now_s: float, position_base: Decimal, *, read: bool) -> None:
        """A tick completed its history step (``read``: the fills were read)."""
        if read:
            self._fills_s = now_s
            self._own_ticks = max(0, self._own_ticks - 1)
        self._position = position_base

    # funding ------------------------------------------------------------------------
    def funding_due(self, now_s: float) -> bool:
        """Whether this tick reads the funding history."""
        if self._funding_s is None or self._funding_at is None:
            return True
        if now_s < self._funding_at:
            return False
        return self._funding_s < self._funding_at or (
            now_s - self._funding_s >= self.settings.funding_retry_s
        )

    def saw_funding(self, now_s: float, next_funding_ts: int) -> None:
        """The funding history was read at ``now_s``; the venue's next funding time (unix s)."""
        waiting = self._funding_at
        if waiting is None or now_s >= waiting + self.settings.funding_grace_s:
            self._funding_at = next_funding_ts
        self._funding_s = now_s


def rest_total(exchange: object) -> int | None:
    """REST requests ``exchange`` sent so far (its ``rest_calls.total``: ccxt venues), or
    None for a venue that counts none (unknown, not zero)."""
    calls = getattr(exchange, "rest_calls", None)
    total = getattr(calls, "total", None)
    return total if isinstance(total, int) else None
