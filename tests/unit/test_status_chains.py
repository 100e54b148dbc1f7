"""``status`` reads the chains' episodes from the stored alerts (bot.status_trading)."""

from __future__ import annotations

from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, TradingState
from bot.status_trading import chains_unreadable, trading_summary


def _alert(name: str, ts: float, *chains: str, detail: str | None = None) -> dict[str, object]:
    return {"alert": name, "ts": ts, "entries": list(chains), "detail": detail, "type": "alert"}


def test_an_unreadable_chain_stays_down_until_it_reads_again() -> None:
    """Each chain's first chain.unreadable opens its episode, its chain.readable ends it."""
    alerts = [
        _alert("chain.unreadable", 10.0, "arb", detail="chain arb: timeout"),
        _alert("chain.unreadable", 11.0, "base", detail="chain base: refused"),
        _alert("chain.readable", 12.0, "base"),
        _alert("risk.stale_block", 13.0),
    ]
    assert chains_unreadable(alerts) == [
        {"chain": "arb", "since": 10.0, "detail": "chain arb: timeout"}
    ]


def test_an_episode_of_an_earlier_run_is_not_the_running_daemons() -> None:
    """An episode told before the running daemon started is dropped: that run re-tells it."""
    alerts = [_alert("chain.unreadable", 10.0, "arb"), _alert("chain.unreadable", 30.0, "op")]
    assert [d["chain"] for d in chains_unreadable(alerts, started_s=20.0)] == ["op"]
    assert [d["chain"] for d in chains_unreadable(alerts)] == ["arb", "op"]


def test_an_unreadable_chain_reduces_trading_and_names_the_chain() -> None:
    """Trading active but a chain down: the summary is REDUCING, with the chain's reason."""
    down = chains_unreadable([_alert("chain.unreadable", 0.0, "arb", detail="chain arb: x")])
    state, reasons = trading_summary(OperatorState(), KillSwitchState(), [], chains_down=down)
    assert state is TradingState.REDUCING
    assert reasons == [
        "chain arb unreadable since 1970-01-01 00:00:00Z (only protective reductions): chain arb: x"
    ]
