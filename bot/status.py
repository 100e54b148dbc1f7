"""``hedgebot status --config F``: is my hedge OK? One read of everything, as one value.

Sources, each read once and never written: the store (opened read-only: last tick, PnL since
start and today, the operator's state, the risk guards tripped and not cleared), the
kill-switch file, one read of every chain at its latest block (positions, delta; with several
chains also ``chain_ids`` and ``blocks`` by chain name) and one venue read
(hedge, mark, funding, margin): the paper venue's state file read-only, a ccxt venue only
when its keys are in the environment. What cannot be read is ``None`` with a note saying
why (``hedge: unknown (no key)``), never zero. A missing store is a :class:`StatusError`:
``status`` creates no file.

The daemon's liveness comes from its instance lock (:mod:`bot.status_daemon`: ``running``
with its pid, or not, with when its last tick was recorded). Ages are the store's wall ``ts``
of a record against ``now_s``, unclamped: a negative age is a clock skew and is shown as one.

The result is a JSON-ready dict (every number an exact decimal string,
:func:`bot.display.json_decimal`: no exponent, no trailing zeros, zero as ``"0"``);
:mod:`bot.status_render` prints it for people.
"""

from __future__ import annotations

import asyncio
import math
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, effective_policy
from bot.core.policy import PolicyInputs, PolicyState, decide
from bot.core.trading_status import last_state_cause
from bot.display import json_decimal
from bot.errors import ChainError, ConfigError, ExchangeError, HedgebotError
from bot.report import load_report
from bot.safety import describe_exc, mask_url
from bot.status_daemon import daemon_view
from bot.status_trading import chains_unreadable, trading_summary, tripped_guards
from bot.store.meta import MetaKey

__all__ = ["StatusError", "read_status"]


class StatusError(HedgebotError):
    """``status`` cannot answer (no store at the configured path, or an unreadable one)."""


def _text(value: Decimal | None) -> str | None:
    return None if value is None else json_decimal(value)


# --- pure: the store's records as trading state ---------------------------------------------


def _utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


# --- the store -----------------------------------------------------------------------------


async def _read_store(settings: Any, now_s: float) -> dict[str, Any]:
    """Last tick, PnL, operator state and tripped guards from the store (SQLite file or
    PostgreSQL, whichever ``settings.store`` names), opened read-only."""
    from bot.store import open_store

    path = settings.store.url or settings.store.path
    store = await open_store(settings, read_only=True)
    try:
        record = await store.get_meta(MetaKey.OPERATOR_STATE)
        last = await store.last_decision()  # one row: a run's last repeat, not the history
        alerts = await store.read_events("alert")
        changes = await store.read_events("trading_state")
        report = await load_report(store)
    finally:
        await store.close()
    try:
        operator = OperatorState.from_record(record)
    except (ValueError, KeyError) as exc:
        raise StatusError(f"store {path}: operator state unreadable ({exc})") from None
    out: dict[str, Any] = {
        "operator": operator,
        "operator_since": changes[-1]["ts"] if changes else None,
        "operator_cause": last_state_cause(changes),
        "guards": tripped_guards(alerts),
        "chain_alerts": [a for a in alerts if str(a.get("alert", "")).startswith("chain.")],
        "last_tick": None
        if last is None
        else {"block": last[1], "at": last[0], "age_s": round(now_s - last[0], 3)},
        "last_hedge_base": None if last is None else _text(last[2].hedge_base),
        "pnl": None,
    }
    if report is not None:
        net = report.final.net_pnl_quote
        today = _utc_day(now_s)
        before = [p for p in report.points if _utc_day(p.timestamp_s) < today]
        ticked_today = _utc_day(report.points[-1].timestamp_s) == today
        start_of_day = before[-1].breakdown.net_pnl_quote if before else Decimal(0)
        out["pnl"] = {
            "net_since_start_quote": json_decimal(net),
            "net_today_quote": json_decimal(net - start_of_day) if ticked_today else None,
            "since": report.points[0].timestamp_s,
            "parts": {name: json_decimal(value) for name, value in report.final.as_dict().items()},
        }
    return out


# --- the chain and the venue, once ---------------------------------------------------------


def _where(price: Decimal, lower: Decimal | None, upper: Decimal | None) -> str:
    """Where ``price`` is in a range: ``below``, ``above``, ``NN %`` of the way up from the
    lower edge, or ``full`` (V2)."""
    if lower is None or upper is None:
        return "full"
    if price < lower:
        return "below"
    if price > upper:
        return "above"
    return f"{(price - lower) / (upper - lower) * 100:.0f} %"


def _pool_of(settings: Any, position_id: str) -> str | None:
    """The configured pool of a position id, else its NFT as ``<position manager>#<token
    id>``; None for an id no entry has. An entry's own position is its ``id``; one its
    discovery (``discover: true``: ``bot.chain.v3_discovery``, ``uniswap_v4``) found is
    ``<id>-<token id>``, with that token id (a listed id wins over a discovered one, the
    longest entry id over one it starts with: ``lp-2-7`` is NFT 7 of ``lp-2``, not of ``lp``)."""
    entries = sorted(settings.positions, key=lambda cfg: (cfg.id != position_id, -len(cfg.id)))
    for cfg in entries:
        token = getattr(cfg, "token_id", None)
        if position_id != cfg.id:
            if not getattr(cfg, "discover", False):
                continue
            found = position_id.removeprefix(f"{cfg.id}-")
            if found == position_id or not (found.isascii() and found.isdigit()):
                continue
            token = int(found)
        pool = getattr(cfg, "pool", None)  # a V4 entry has none: its NFT names it
        if pool is not None:
            return str(pool)
        manager = getattr(cfg, "position_manager", None)
        return f"{manager}#{token}" if token is not None else str(manager)
    return None


async def _read_chain(settings: Any) -> dict[str, Any]:
    """One read of every chain at its latest block (as the daemon reads them): chain ids,
    blocks, price and each position."""
    from bot.planner_cli import read_chain
    from bot.planner_curves import v3_curve

    snap, pairs, chain_ids = await read_chain(settings)
    positions = []
    for p in snap.positions:
        lower = upper = None
        if p.kind == "v3" and p.liquidity is not None:
            curve = v3_curve(p, pairs[p.chain])
            lower, upper = curve.lower, curve.upper
        positions.append(
            {
                "id": p.id,
                "kind": p.kind,
                "chain": p.chain,
                "pool": _pool_of(settings, p.id),
                "range_lower": _text(lower),
                "range_upper": _text(upper),
                "price": json_decimal(p.price),
                "where": _where(p.price, lower, upper),
                "in_range": p.in_range,
                "value_quote": json_decimal(p.value_quote),
                "delta_base": json_decimal(p.delta_base),
            }
        )
    several = len(chain_ids) > 1
    return {
        "snapshot": snap,
        "chain_id": next(iter(chain_ids.values())),  # the primary chain's
        "chain_ids": chain_ids if several else None,
        "blocks": dict(snap.blocks) if several else None,
        "positions": positions,
    }


async def _read_venue(settings: Any, price: Decimal) -> dict[str, Any]:
    """Mark, funding, position, margin and the amount step from the venue, or why not."""
    from bot.app import build_exchange
    from bot.clock import WallClock
    from bot.core.gate import margin_view
    from bot.exchange.read_only import start_for_reading

    if settings.exchange.missing_secrets():
        return {"error": "no key"}
    async with AsyncExitStack() as stack:
        venue = build_exchange(settings, WallClock(), read_only=True)
        stack.push_async_callback(venue.close)
        await start_for_reading(venue)  # no leverage, margin mode or file write: reads only
        setter = getattr(venue, "set_reference_price", None)
        if settings.exchange.kind == "paper" and setter is not None:
            setter(price)
        quote = await venue.quote()
        position = await venue.position()
        rules = await venue.market_rules()
    margin = margin_view(position)
    return {
        "mark_price": quote.mark_price,
        "funding_rate": quote.funding_rate,
        "hedge_base": position.size_base,
        "amount_step_base": rules.amount_step,
        "rules": rules,
        "margin_ratio": margin.ratio if margin.ratio is None or margin.ratio.is_finite() else None,
        "liquidation_price": margin.liquidation_price,
        "liquidation_distance_pct": margin.distance_pct,
    }


def _hedge_view(
    settings: Any, operator: OperatorState, chain: dict[str, Any], venue: dict[str, Any]
) -> dict[str, Any]:
    """Delta, target, hedge, drift and band with the operator's overrides (the policy's own
    ``decide``); hedge and drift ``None`` when the venue was not read."""
    from bot.app import build_policy

    snap = chain["snapshot"]
    ratio = operator.hedge_ratio if operator.hedge_ratio is not None else settings.hedge.ratio
    hedge = venue.get("hedge_base")
    view: dict[str, Any] = {"delta_base": _text(snap.delta_base), "hedge_ratio": _text(ratio)}
    view["target_base"] = _text(-ratio * snap.delta_base)
    if hedge is None:
        return {**view, "hedge_base": None, "drift_base": None, "band_base": None}
    inputs = PolicyInputs(
        now_s=0.0,
        price=venue["mark_price"],
        delta_base=snap.delta_base,
        gamma=sum((p.gamma for p in snap.positions), Decimal(0)),
        hedge_base=hedge,
        hedge_ratio=ratio,
    )
    policy = effective_policy(build_policy(settings), operator)
    decision, _ = decide(policy, PolicyState(), inputs, venue["rules"])
    drift = decision.hedge_base - decision.target_base
    band = decision.band_base
    return {
        **view,
        "target_base": _text(decision.target_base),
        "hedge_base": _text(hedge),
        "drift_base": _text(drift),
        "band_base": _text(band) if band.is_finite() else str(band),
        "within_band": None if not band.is_finite() else abs(drift) <= band,
    }


async def _live(settings: Any, operator: OperatorState) -> dict[str, Any]:
    """The chain and venue part of the status; each failure is a note, never a zero."""
    out: dict[str, Any] = {"chain_error": None, "venue_error": None, "positions": []}
    try:
        chain = await _read_chain(settings)
    except (ChainError, ConfigError, OSError, TimeoutError) as exc:
        out["chain_error"] = describe_exc(exc)
        return out
    snap = chain["snapshot"]
    out.update(
        chain_id=chain["chain_id"],
        block=snap.block_number,
        chain_ids=chain["chain_ids"],
        blocks=chain["blocks"],
        block_timestamp=snap.block_timestamp,
        price=_text(snap.price),
        positions=chain["positions"],
        wallet_base=_text(snap.wallet_base),
    )
    try:
        venue = await _read_venue(settings, snap.price)
    except (ExchangeError, ConfigError, OSError, TimeoutError) as exc:
        venue = {"error": describe_exc(exc)}
    out["venue_error"] = venue.get("error")
    for key in ("mark_price", "funding_rate", "amount_step_base"):
        out[key] = _text(venue.get(key))
    for key in ("margin_ratio", "liquidation_price", "liquidation_distance_pct"):
        out[key] = _text(venue.get(key))
    out.update(_hedge_view(settings, operator, chain, venue))
    return out


def _endpoints(settings: Any) -> dict[str, Any]:
    """Where the running bot publishes: MQTT broker and topics, metrics and health URLs."""
    mqtt = settings.mqtt
    metrics = settings.metrics
    base = None if mqtt is None else mqtt.topic_prefix.format(bot_id=settings.bot_id)
    http = f"http://{metrics.host}:{metrics.port}" if metrics.enabled else None
    return {
        "mqtt_url": None if mqtt is None else mask_url(mqtt.url),
        "mqtt_topics": None if base is None else f"{base}/(status|state|events)",
        "metrics_url": None if http is None else f"{http}/metrics",
        "healthz_url": None if http is None else f"{http}/healthz",
    }


def _kill_view(kill: KillSwitchState, path: Path) -> dict[str, Any]:
    return {
        "mode": kill.mode,
        "reason": kill.reason or None,
        "source": kill.source,
        "since": kill.set_at_s,
        "file": str(path),
    }


def _started_s(daemon: dict[str, Any]) -> float | None:
    """The running daemon's start (unix s, from its lock note ``%Y-%m-%dT%H:%M:%SZ``), or
    None (not running, or not recorded)."""
    try:
        started = datetime.strptime(str(daemon.get("started")), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return started.replace(tzinfo=UTC).timestamp() if daemon.get("running") else None


def read_status(settings: Any, *, now_s: float) -> dict[str, Any]:
    """Everything ``status`` shows, as one JSON-ready dict (module docstring). ``now_s``:
    wall-clock unix seconds (ages and "today" are measured from it).

    Raises :class:`StatusError` when there is no store at the configured path (nothing is
    created), ``StoreError`` for a damaged one; chain and venue failures are notes in the
    result.
    """
    from bot.clock import WallClock
    from bot.killswitch import FileKillSwitch, kill_switch_path

    if not math.isfinite(now_s):
        raise ValueError("now_s must be finite")
    path = settings.store.path
    if settings.store.url is None and not path.is_file():
        raise StatusError(f"no store at {path}: has `hedgebot run` been started with this config?")
    kill_path = kill_switch_path(settings.risk.kill_switch_file, path)
    kill = FileKillSwitch(kill_path, WallClock()).read()
    return asyncio.run(_gather(settings, now_s, kill, kill_path))


async def _gather(
    settings: Any, now_s: float, kill: KillSwitchState, kill_path: Path
) -> dict[str, Any]:
    stored = await _read_store(settings, now_s)
    operator: OperatorState = stored["operator"]
    tick = stored["last_tick"]
    daemon = daemon_view(settings.store.path, None if tick is None else tick["at"])
    chains_down = chains_unreadable(stored["chain_alerts"], _started_s(daemon))
    state, reasons = trading_summary(
        operator,
        kill,
        stored["guards"],
        operator_cause=stored["operator_cause"],
        chains_down=chains_down,
    )
    live = await _live(settings, operator)
    return {
        "bot_id": settings.bot_id,
        "now": now_s,
        "daemon": daemon,
        **live,
        "pnl": stored["pnl"],
        "last_tick": stored["last_tick"],
        "last_hedge_base": stored["last_hedge_base"],
        "trading": {
            "state": state.value,
            "reasons": reasons,
            "operator": operator.trading_state.value,
            "operator_since": stored["operator_since"],
            "operator_cause": stored["operator_cause"],
            "kill_switch": _kill_view(kill, kill_path),
            "guards_tripped": stored["guards"],
            "chains_unreadable": chains_down,
        },
        "endpoints": _endpoints(settings),
    }
