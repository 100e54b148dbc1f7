"""The local world: anvil + Uniswap + a seeded market (demo, tests, ``hedgebot localnet``).

``start_world`` deploys the contracts and a market driver on a running node; ``local_settings``
writes the bot config that points at it (paper venue); ``run_localnet`` is the standalone
command that keeps the market moving until stopped so a user can point ``hedgebot run`` at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from bot.config import Settings
from bot.errors import ConfigError
from bot.ports import Clock, PerpExchange
from bot.safety import mask_url
from bot.sim.anvil import Anvil, AnvilOptions
from bot.sim.deploy import DeploymentSpec, LocalDeployment, deploy_local
from bot.sim.market import MarketDriver

PoolKind = Literal["v2", "v3", "v4"]
EMULATOR_KEY = "demo-key"
EMULATOR_SECRET = "demo-secret"  # noqa: S105 - local emulator only, never a real key


class MarketStepLike(Protocol):
    """What a market step reports (V2 and V3 drivers)."""

    @property
    def block_number(self) -> int:
        """The block the step mined."""
        ...

    @property
    def block_timestamp(self) -> int:
        """Its timestamp (unix s)."""
        ...

    @property
    def target_price(self) -> Decimal:
        """The path price the pool was moved to."""
        ...


@dataclass
class LocalWorld:
    """A deployed pool with its market driver."""

    kind: PoolKind
    rpc_url: str
    deployment: LocalDeployment
    driver: MarketDriver
    start_price: Decimal
    start_timestamp: int
    position_config: dict[str, Any]
    addresses: dict[str, Any]

    @property
    def target_price(self) -> Decimal:
        """The market's current price (the venue mark follows it)."""
        return self.driver.target_price

    async def step(self) -> MarketStepLike:
        """One market step: swap through the pool to the next path price, one new block."""
        return await self.driver.step()

    async def open_exchange(
        self,
        stack: AsyncExitStack,
        kind: Literal["paper", "emulator"],
        settings: Settings,
        clock: Clock,
        workdir: Path,
    ) -> tuple[PerpExchange, Callable[[Decimal], None]]:
        """The venue for the demo and a setter that moves its mark."""
        from bot.exchange.paper import venue_params

        params = venue_params(settings.exchange)
        if kind == "paper":
            from bot.exchange.paper import PaperExchange
            from bot.exchange.venue import SimVenue

            venue = SimVenue(params, clock)
            paper = PaperExchange(venue, workdir / "venue.json")
            return paper, venue.set_mark
        from bot.exchange.ccxt import CcxtPerpExchange
        from bot.exchange.emulators.binance_usdm import start_emulator
        from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings

        handle = await start_emulator("127.0.0.1", 0, EMULATOR_KEY, EMULATOR_SECRET, params, clock)
        stack.push_async_callback(handle.close)
        ccxt_settings = emulator_ccxt_settings(
            handle.url,
            settings.exchange,
            EMULATOR_KEY,
            EMULATOR_SECRET,
            timeout_ms=10_000,
            enable_rate_limit=True,  # as a live venue's client runs
        )
        return CcxtPerpExchange(ccxt_settings, clock), handle.venue.set_mark


@contextlib.asynccontextmanager
async def start_world(
    rpc_url: str,
    *,
    pool_kind: PoolKind = "v2",
    sigma: float = 0.9,
    step_seconds: int = 600,
    seed: int = 7,
    start_price: Decimal = Decimal(2000),
    base_is_token0: bool | None = None,
) -> AsyncIterator[LocalWorld]:
    """Deploy the pool and the market driver on the node at ``rpc_url``."""
    if pool_kind != "v2":
        from bot.sim.localnet_v3 import start_world_v3
        from bot.sim.localnet_v4 import start_world_v4

        start = start_world_v4 if pool_kind == "v4" else start_world_v3
        async with start(
            rpc_url,
            sigma=sigma,
            step_seconds=step_seconds,
            seed=seed,
            start_price=start_price,
            base_is_token0=base_is_token0,
        ) as world:
            yield world
        return
    spec = DeploymentSpec(
        price_quote_per_base=start_price,
        depth_base=Decimal(100),
        base_is_token0=base_is_token0,
        second_lp_fraction=Decimal("0.25"),
    )
    deployment = await deploy_local(rpc_url, spec)
    async with await MarketDriver.create(
        deployment, sigma_annual=sigma, step_s=step_seconds, seed=seed, start_price=start_price
    ) as driver:
        step = await driver.step()
        yield LocalWorld(
            kind="v2",
            rpc_url=rpc_url,
            deployment=deployment,
            driver=driver,
            start_price=start_price,
            start_timestamp=step.block_timestamp,
            position_config={
                "id": "lp-v2",
                "kind": "v2",
                "pool": deployment.pair,
                "owner": deployment.lp_account,
            },
            addresses=json.loads(deployment.to_json()),
        )


def local_config(world: LocalWorld, workdir: Path, bot_id: str) -> dict[str, Any]:
    """The bot config (plain data) for this world, paper venue, state under ``workdir``."""
    return {
        "bot_id": bot_id,
        "chain": {
            "rpc_urls": [world.rpc_url],
            "poll_interval_s": 0.5,
            "request_timeout_s": 5.0,
            "multicall": world.deployment.multicall,
            "max_block_age_s": 10 * 365 * 86400,  # simulated time runs ahead of the wall clock
        },
        "positions": [world.position_config],
        "hedge_asset": {
            "base_token": world.deployment.base_token,
            "quote_token": world.deployment.quote_token,
        },
        "hedge": {
            "ratio": "1",
            "threshold_base": "0.5",
            "threshold_fraction": "0.01",
            "max_slippage_bps": "50",
        },
        "exchange": {
            "kind": "paper",
            "symbol": "ETH/USDT:USDT",
            "leverage": 3,
            "paper": {
                "state_path": str(workdir / "venue.json"),
                "initial_balance": "100000",
                "funding_rate": "0.0001",
            },
        },
        "store": {"path": str(workdir / "hedgebot.sqlite")},
        "logging": {"level": "info", "format": "auto"},
    }


_WORLD_SECTIONS = ("chain", "positions", "hedge_asset", "store")


def local_settings(
    world: LocalWorld,
    workdir: Path,
    bot_id: str = "local",
    template: dict[str, Any] | None = None,
) -> Settings:
    """Validated settings for this world.

    ``template`` (a config file's data, e.g. ``config/demo.yaml``) supplies every section but
    the world's own (chain, positions, hedge asset, store), which this world fills in; the
    paper venue keeps its state under ``workdir`` whatever the template says.
    """
    data = local_config(world, workdir, bot_id)
    if template:
        world_part = {key: data[key] for key in _WORLD_SECTIONS}
        paper_state = data["exchange"]["paper"]["state_path"]
        data = {**data, **template, **world_part}
        exchange = dict(data.get("exchange") or {})
        exchange["paper"] = {**dict(exchange.get("paper") or {}), "state_path": paper_state}
        data["exchange"] = exchange
        data["chain"] = {**data["chain"], **_chain_tuning(template)}
    return Settings(**data)


def _chain_tuning(template: dict[str, Any]) -> dict[str, Any]:
    """The template's chain timing knobs (its RPC URL and addresses never apply)."""
    chain = template.get("chain") or {}
    keys = ("poll_interval_s", "request_timeout_s", "max_block_age_s")
    return {key: chain[key] for key in keys if key in chain}


_NO_BROKER = "off (no broker reachable, mosquitto not installed)"


def localnet_bot_id() -> str:
    """A bot id of its own for each localnet (``local-3f9a1c``): two localnets on one broker
    or host never share topics, locks or a store."""
    return f"local-{secrets.token_hex(3)}"


def write_operator_env(out: Path, broker_url: str | None) -> Path:
    """``out/operator.env`` (mode 0600): a fresh ``HEDGEBOT_OPERATOR_KEY`` and the
    ``MQTT_URL`` of the localnet's broker, for ``set -a; . out/operator.env; set +a`` in the
    terminals that run ``hedgebot run``, ``monitor`` and ``cmd``."""
    from bot.telemetry.auth import OPERATOR_KEY_ENV

    path = out / "operator.env"
    lines = [
        "# written by `hedgebot localnet`: a throwaway operator key for this local world only",
        f"{OPERATOR_KEY_ENV}={secrets.token_hex(32)}",
    ]
    if broker_url:
        lines.append(f"MQTT_URL={broker_url}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


@dataclass(frozen=True, slots=True)
class LocalnetOptions:
    """``hedgebot localnet`` flags."""

    out: Path
    rpc_url: str | None = None  # an already running node (e.g. the compose anvil service)
    pool_kind: PoolKind = "v2"
    port: int = 0
    market: bool = True
    seed: int = 7
    sigma: float = 0.9
    block_interval_s: float = 2.0
    step_seconds: int = 600
    mqtt_url: str | None = None  # else MQTT_URL / 127.0.0.1:1883 when reachable / our own
    mqtt: bool = True


def _refuse_env_broker(options: LocalnetOptions) -> None:
    """``$MQTT_URL`` with ``user:password@`` (or not a broker URL) would be written into
    config.yaml and operator.env, which ``run`` then refuses: ``ConfigError`` now, masked
    (``--mqtt-url`` is refused so by the argument check)."""
    from bot.telemetry.settings import broker_url_problem

    env_url = os.environ.get("MQTT_URL")
    if options.mqtt and options.mqtt_url is None and env_url:
        problem = broker_url_problem(env_url)
        if problem is not None:
            raise ConfigError(f"env MQTT_URL {mask_url(env_url)}: {problem}")


async def run_localnet(options: LocalnetOptions) -> int:
    """Start anvil, deploy, write ``config.yaml`` + ``localnet.json``, drive until stopped.

    Raises ``ConfigError`` before anything starts for a ``$MQTT_URL`` that no bot could use."""
    _refuse_env_broker(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    options.out.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        rpc_url = options.rpc_url
        if rpc_url is None:
            node = await stack.enter_async_context(Anvil(AnvilOptions(port=options.port)))
            rpc_url = node.rpc_url
        broker_url: str | None = None
        if options.mqtt:
            from bot.sim.mosquitto import resolve_broker

            broker_url = await resolve_broker(stack, options.mqtt_url)
        await _serve_world(options, rpc_url, broker_url, stop)
    return 0


def _write_config(options: LocalnetOptions, world: LocalWorld, broker_url: str | None) -> str:
    """``out/config.yaml`` (and ``out/operator.env``); returns the bot id."""
    bot_id = localnet_bot_id()
    config = local_config(world, options.out / "state", bot_id=bot_id)
    if broker_url:
        config["mqtt"] = {"url": broker_url, "topic_prefix": "hedgebot/{bot_id}"}
    (options.out / "config.yaml").write_text(
        "# written by `hedgebot localnet`: paper venue against the local chain\n"
        "# commands need the operator key: set -a; . operator.env; set +a (beside this file)\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    write_operator_env(options.out, broker_url)
    return bot_id


async def _serve_world(
    options: LocalnetOptions, rpc_url: str, broker_url: str | None, stop: asyncio.Event
) -> None:
    """Deploy on ``rpc_url``, write the files, drive the market until ``stop``."""
    async with (
        start_world(
            rpc_url,
            pool_kind=options.pool_kind,
            sigma=options.sigma,
            step_seconds=options.step_seconds,
            seed=options.seed,
        ) as world,
    ):
        bot_id = _write_config(options, world, broker_url)
        info = {
            "rpc_url": world.rpc_url,
            "chain_id": world.deployment.chain_id,
            "pool_kind": world.kind,
            "contracts": world.addresses,
            "note": "local anvil test accounts only; never use these keys elsewhere",
        }
        (options.out / "localnet.json").write_text(json.dumps(info, indent=2) + "\n")
        market = (
            f"moving every {options.block_interval_s}s"
            if options.market
            else "off (mine on demand)"
        )
        env_file = options.out / "operator.env"
        print(
            f"localnet ready: {mask_url(world.rpc_url)}\n"
            f"  bot id:    {bot_id}\n"
            f"  config:    {options.out / 'config.yaml'}\n"
            f"  addresses: {options.out / 'localnet.json'}\n"
            f"  mqtt:      {mask_url(broker_url) if broker_url else _NO_BROKER}\n"
            f"  env:       set -a; . {env_file}; set +a   (each terminal: key + MQTT_URL)\n"
            f"  run:       hedgebot run --config {options.out / 'config.yaml'}\n"
            f"  watch:     hedgebot monitor\n"
            f"  command:   hedgebot cmd {bot_id} pause\n"
            f"  market:    {market}",
            file=sys.stderr,
            flush=True,
        )
        while not stop.is_set():
            if options.market:
                step = await world.step()
                print(
                    f"block {step.block_number} price {step.target_price:.2f}",
                    file=sys.stderr,
                    flush=True,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=options.block_interval_s)
