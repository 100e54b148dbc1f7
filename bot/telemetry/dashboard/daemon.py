"""What ``hedgebot run`` needs to serve the bot dashboard beside ``/metrics``: built from the
settings and the store before anything starts (a refused bind raises ``ConfigError`` with no
port bound), mounted on the metrics app, fed by the telemetry bridge."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.clock import WallClock
from bot.config import Settings
from bot.config_chains import primary_chain
from bot.engine import CommandSource
from bot.killswitch import FileKillSwitch, kill_switch_path
from bot.ports import Clock
from bot.store.base import RecordStore
from bot.telemetry.dashboard.bot_page import BotDashboard, PlanSource
from bot.telemetry.dashboard.command_hub import CommandHub
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.plan_service import PLAN_DEADLINE_S, DaemonThreadSlots
from bot.telemetry.dashboard.security import (
    CommandGate,
    allowed_host_entries,
    check_bind,
    is_loopback,
    served_names,
    token_from_env,
)

if TYPE_CHECKING:  # the planner (numpy, the backtester) loads on the first plan
    from bot.planner import PlanResult

__all__ = ["DaemonDashboard", "build_daemon_dashboard"]


class DaemonDashboard:
    """The bot page's parts for one daemon: ``feed`` (a bridge sink), ``page`` (routes) and
    the command hub that ``commands_for`` puts in front of the MQTT command source."""

    def __init__(self, page: BotDashboard, hub: CommandHub, host: str) -> None:
        self.page = page
        self.feed = page.feed
        self.hub = hub
        self.host = host

    def mount(self, app: Any) -> None:
        """Add the page's routes to the metrics ``aiohttp`` app."""
        self.page.mount(app)

    def bound(self, host: str, port: int) -> None:
        """The metrics server listens on ``host:port``: the Host header the page's routes must
        carry (beside ``metrics.allowed_hosts``); reading needs a login beyond loopback."""
        self.page.gate = replace(
            self.page.gate,
            port=port,
            extra_hosts=served_names(host),
            login_required=not is_loopback(host),
        )

    def commands_for(self, upstream: CommandSource | None) -> CommandHub:
        """The engine's command source: the page's commands plus ``upstream``'s (MQTT)."""
        self.hub.attach(upstream)
        return self.hub


def _planner(settings: Settings) -> PlanSource:
    """The daemon's planner: its CPU work in one daemon thread of its own (never the loop's
    default executor, which aiohttp's DNS lookups need), bounded by the plan deadline."""
    slots = DaemonThreadSlots(1, "hedgebot-plan")

    async def offload(compute: Callable[[], PlanResult]) -> PlanResult:
        return await slots.run(compute, timeout_s=PLAN_DEADLINE_S)

    async def plan_now() -> dict[str, Any]:
        from bot.planner_cli import make_plan

        return (await make_plan(settings, offload=offload)).as_dict()

    return plan_now


def build_daemon_dashboard(
    settings: Settings,
    store: RecordStore,
    used_ids: Iterable[str] | Mapping[str, str],
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    plan: PlanSource | None = None,
) -> DaemonDashboard:
    """The dashboard of this bot. Raises ``ConfigError`` when ``metrics.host`` is not loopback
    and ``HEDGEBOT_DASHBOARD_TOKEN`` is unset, when the token is too short or holds a space,
    or for a ``metrics.allowed_hosts`` entry that is not a host or host:port."""
    env = os.environ if environ is None else environ
    token = token_from_env(env)
    host = settings.metrics.host
    check_bind(host, token, "metrics.host (the dashboard)")
    clock = clock or WallClock()
    hub = CommandHub(settings.bot_id, seen_ids=used_ids, clock=clock)
    kill = FileKillSwitch(
        kill_switch_path(settings.risk.kill_switch_file, settings.store.path), clock
    )
    if plan is None:
        plan = _planner(settings)
    page = BotDashboard(
        bot_id=settings.bot_id,
        feed=DashboardFeed(),
        store=store,
        gate=CommandGate(
            token=token,
            port=settings.metrics.port,
            allowed=allowed_host_entries(settings.metrics.allowed_hosts, "metrics.allowed_hosts"),
            login_required=not is_loopback(host),
        ),
        commands=hub,
        kill_switch=kill,
        plan=plan,
        chain=primary_chain(settings),
    )
    return DaemonDashboard(page, hub, host)
