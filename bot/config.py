"""Configuration: a YAML file, overridden by ``HEDGEBOT_...`` environment variables.

Nested fields use ``__`` in env names (``HEDGEBOT_HEDGE__RATIO=0.8``). Secrets (exchange keys,
MQTT password) are ``SecretStr`` and are accepted from the environment only: a secret written
into the YAML file is refused, so config files can be committed and shared.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    SecretStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config_address import Address as Address
from bot.config_chains import ChainConfig as ChainConfig
from bot.config_chains import ChainName, chain_problems, chain_urls, mask_chain_urls
from bot.config_chains import HedgeAssetConfig as HedgeAssetConfig
from bot.config_chains import normalise_chains as normalise_chains
from bot.config_checks import (
    BOT_ID_PATTERN,
    address_role_clashes,
    non_finite_fields,
    position_id_problems,
)
from bot.config_env import validated
from bot.config_urls import one_report_per_chain_field
from bot.config_v2 import V2PositionConfig as V2PositionConfig
from bot.config_v2 import fee_share_clashes
from bot.config_v4 import V4PositionConfig as V4PositionConfig
from bot.errors import ConfigError
from bot.exchange.cadence_settings import VenueCadenceFields
from bot.exchange.credentials_settings import (
    BuilderConfig,
    venue_credential_problems,
    venue_missing_secrets,
)
from bot.exchange.market_data_settings import MarketDataSettings
from bot.number_text import refuse_loose_number_text
from bot.policy_config import HedgeConfig
from bot.risk_settings import RiskSettings
from bot.safety import MAX_RESPONSE_BYTES, mask_url
from bot.store.settings import StoreConfig, shown_store_url
from bot.telemetry.notify_settings import AlertsSettings
from bot.telemetry.settings import MetricsSettings, MqttSettings
from bot.yaml_bounded import load_yaml_mapping

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
V3Protocol = Literal["uniswap_v3", "sushiswap_v3", "pancakeswap_v3", "slipstream"]
_STAKING = ("pancakeswap_v3", "slipstream")  # where staked_in is read
NonNegativeDecimal = Annotated[Decimal, Field(ge=0)]

_SECRET_FIELDS = {
    ("exchange", "api_key"),
    ("exchange", "api_secret"),
    ("exchange", "password"),  # okx's API passphrase
    ("mqtt", "password"),
    ("alerts", "urls"),  # notification URLs carry tokens
    ("store", "password"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class V3PositionConfig(_Section):
    """A Uniswap V3 position.

    One of: an NFT (``position_manager`` + ``token_id``); every NFT of ``owner`` on
    ``position_manager`` (``discover: true``); or a position owned directly in ``pool``
    (``pool`` + ``owner`` + ``tick_lower`` + ``tick_upper``).
    """

    id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["v3"]
    chain: ChainName | None = None  # None: the primary chain (bot.config_chains)
    pool: Address | None = None
    owner: Address | None = None
    position_manager: Address | None = None
    token_id: Annotated[int, Field(ge=0)] | None = None
    discover: bool = False
    tick_lower: int | None = None
    tick_upper: int | None = None
    protocol: V3Protocol = "uniswap_v3"  # the V3 dialect (bot.chain.v3_dialects)
    staked_in: tuple[Address, ...] = ()  # MasterChefV3 or gauges holding owner's NFTs

    @model_validator(mode="after")
    def _one_way_to_find_it(self) -> V3PositionConfig:
        if self.staked_in and (not self.owner or self.protocol not in _STAKING):
            raise ValueError(f"staked_in needs owner and protocol {' or '.join(_STAKING)}")
        nft = self.position_manager is not None and self.token_id is not None
        discovered = self.position_manager is not None and self.owner is not None and self.discover
        direct = (
            self.pool is not None
            and self.owner is not None
            and self.tick_lower is not None
            and self.tick_upper is not None
        )
        if [nft, discovered, direct].count(True) != 1:
            raise ValueError(
                "give exactly one of: position_manager + token_id; position_manager + owner + "
                "discover: true; pool + owner + tick_lower + tick_upper"
            )
        if (
            direct
            and self.tick_lower is not None
            and self.tick_upper is not None
            and self.tick_lower >= self.tick_upper
        ):
            raise ValueError("tick_lower must be < tick_upper")
        return self


def _position_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "v2"))
    return str(getattr(value, "kind", "v2"))


PositionConfig = Annotated[
    Annotated[V2PositionConfig, Tag("v2")]
    | Annotated[V3PositionConfig, Tag("v3")]
    | Annotated[V4PositionConfig, Tag("v4")],
    Discriminator(_position_kind),
]


class PaperVenueConfig(_Section):
    """The in-process simulated venue used in paper mode."""

    state_path: Path = Path("var/paper-venue.json")
    initial_balance: PositiveDecimal = Decimal(100_000)
    taker_fee_bps: NonNegativeDecimal = Decimal(5)
    maker_fee_bps: NonNegativeDecimal = Decimal(2)
    slippage_bps_base: NonNegativeDecimal = Decimal(1)
    slippage_bps_per_base: NonNegativeDecimal = Decimal("0.05")
    funding_rate: Annotated[Decimal, Field(ge=-1, le=1)] = Decimal("0.0001")
    funding_interval_s: Annotated[int, Field(gt=0)] = 8 * 3600
    basis_bps: Decimal = Decimal(0)
    amount_step: PositiveDecimal = Decimal("0.001")
    price_tick: PositiveDecimal = Decimal("0.01")
    min_amount: PositiveDecimal = Decimal("0.001")
    min_notional: NonNegativeDecimal = Decimal(5)
    market_data: MarketDataSettings | None = None  # a live venue's public data; None: the pool


class ExchangeConfig(_Section, VenueCadenceFields):
    """The perp venue: the paper venue, or a real exchange through ccxt (and the lean
    cadence's ``balance_interval_s``/``balance_refresh_move``: ``exchange.cadence_settings``)."""

    kind: Literal["paper", "ccxt"] = "paper"
    symbol: str = "ETH/USDT:USDT"
    leverage: Annotated[int, Field(ge=1, le=125)] = 3
    margin_mode: Literal["isolated", "cross"] = "isolated"
    paper: PaperVenueConfig = PaperVenueConfig()
    exchange_id: str = "binanceusdm"
    sandbox: bool = False
    demo_trading: bool = False
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None  # hyperliquid: the agent (API wallet) private key
    password: SecretStr | None = None  # okx: the API passphrase
    wallet_address: Address | None = None  # hyperliquid: the master account
    vault_address: Address | None = None  # hyperliquid: a vault or sub-account to trade
    builder: BuilderConfig | None = None  # hyperliquid: a builder fee the user opts into
    urls: dict[str, str] = Field(default_factory=dict)
    timeout_ms: Annotated[int, Field(gt=0)] = 10_000
    max_response_bytes: Annotated[int, Field(ge=1024)] = MAX_RESPONSE_BYTES  # larger: refused
    sync_time: bool = True  # measure the venue's clock at start; re-sync once on a -1021
    # at start, when the venue's position/orders/fills disagree with the store: alert, then
    # adopt the venue's truth as the new baseline, or stay paused until an operator resumes
    on_mismatch: Literal["adopt", "pause"] = "pause"

    def missing_secrets(self) -> list[str]:
        """``field: reason`` lines when a live venue lacks its keys, or has keys of a form that
        cannot work (Hyperliquid: ``venue_credential_problems``), checked by ``load_config``
        for commands that trade and ``check-config``; ``kill``/``report`` touch no venue."""
        if self.kind != "ccxt":
            return []
        return venue_missing_secrets(
            self.exchange_id,
            api_key=self.api_key is not None,
            api_secret=self.api_secret is not None,
            password=self.password is not None,
            wallet_address=self.wallet_address is not None,
        ) + venue_credential_problems(
            self.exchange_id,
            api_key=self.api_key,
            api_secret=self.api_secret,
            wallet_address=self.wallet_address,
            vault_address=self.vault_address,
            builder=self.builder,
        )


class LoggingConfig(_Section):
    """structlog output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console", "auto"] = "auto"


class Settings(BaseSettings):
    """The whole configuration of one bot."""

    model_config = SettingsConfigDict(
        env_prefix="HEDGEBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    bot_id: str = Field(default="hedgebot", pattern=BOT_ID_PATTERN)
    chain: ChainConfig  # the primary chain: the first of ``chains``
    chains: dict[ChainName, ChainConfig] = Field(min_length=1)
    positions: list[PositionConfig] = Field(min_length=1)
    hedge_asset: HedgeAssetConfig
    hedge: HedgeConfig = HedgeConfig()
    risk: RiskSettings = RiskSettings()
    exchange: ExchangeConfig = ExchangeConfig()
    store: StoreConfig = StoreConfig()
    logging: LoggingConfig = LoggingConfig()
    mqtt: MqttSettings | None = None
    metrics: MetricsSettings = MetricsSettings()
    alerts: AlertsSettings = AlertsSettings()  # apprise URLs from env only

    @model_validator(mode="before")
    @classmethod
    def _named_chains(cls, data: Any) -> Any:
        return normalise_chains(data)

    @model_validator(mode="wrap")
    @classmethod
    def _ascii_numbers(cls, data: Any, handler: ModelWrapValidatorHandler[Settings]) -> Settings:
        """Numbers typed as text (YAML strings, env vars) in ASCII decimal notation only."""
        return refuse_loose_number_text("Settings", data, handler)

    @field_validator("positions")
    @classmethod
    def _unique_ids(cls, positions: list[PositionConfig], info: ValidationInfo) -> list[Any]:
        problems = position_id_problems(positions, info.data.get("chains"))
        if problems:
            raise ValueError("; ".join(problems))
        return positions

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment overrides the YAML file (which arrives as init kwargs)."""
        return (env_settings, init_settings)


def _describe(error: Any) -> str:
    """One readable reason from a pydantic error dict."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    readable = {
        "greater_than": "must be > {gt}",
        "greater_than_equal": "must be >= {ge}",
        "less_than": "must be < {lt}",
        "less_than_equal": "must be <= {le}",
        "missing": "required",
        "extra_forbidden": "unknown field",
        "string_pattern_mismatch": "invalid format (expected {pattern})",
    }
    template = readable.get(kind)
    if template is not None:
        try:
            return template.format(**ctx)
        except KeyError:
            return template
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def format_validation_error(exc: ValidationError) -> list[str]:
    """``field.path: reason`` lines, one per bad field."""
    lines = []
    for error in exc.errors():
        # drop the union tag pydantic puts in the location (positions.0.v2.pool)
        parts = [
            str(part)
            for i, part in enumerate(error["loc"])
            if not (i > 0 and part in ("v2", "v3", "v4") and isinstance(error["loc"][i - 1], int))
        ]
        where = ".".join(parts) or "(root)"
        lines.append(f"{where}: {_describe(error)}")
    return lines


def _refuse_file_secrets(data: dict[str, Any]) -> list[str]:
    problems = []
    for section, key in sorted(_SECRET_FIELDS):
        block = data.get(section)
        if isinstance(block, dict) and block.get(key) not in (None, ""):
            env = f"HEDGEBOT_{section.upper()}__{key.upper()}"
            problems.append(f"{section}.{key}: secrets are read from the environment ({env})")
    return problems


def load_config(
    path: Path, env: dict[str, str] | None = None, *, require_secrets: bool = True
) -> Settings:
    """Load and validate ``path``; raise ``ConfigError`` naming every bad field.

    ``require_secrets=False`` is for commands that touch no venue (``kill``, ``report``): a
    ccxt config then loads without ``HEDGEBOT_EXCHANGE__API_KEY/SECRET``.
    Numbers must be finite (NaN, ±Infinity and values beyond float range are refused).
    """
    data = load_yaml_mapping(path)
    problems = _refuse_file_secrets(data)
    saved = None
    if env is not None:
        saved = dict(os.environ)
        os.environ.update(env)
    try:  # a list or section in the env that is not JSON is named too (config_env)
        settings, found = validated(Settings, data, format_validation_error)
        problems.extend(one_report_per_chain_field(found, data))  # chain: is validated twice
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)
    if settings is not None:
        problems.extend(non_finite_fields(settings))
        problems.extend(address_role_clashes(settings))
        problems.extend(fee_share_clashes(settings))
        problems.extend(chain_problems(settings))
        if require_secrets:
            problems.extend(settings.exchange.missing_secrets())
    if problems or settings is None:
        raise ConfigError("\n".join(problems))
    return settings


def secret_urls(settings: Settings) -> list[str]:
    """Every configured URL that may carry a credential (RPC, MQTT, venue overrides)."""
    urls = [*chain_urls(settings), *settings.exchange.urls.values()]
    if settings.mqtt is not None:
        urls.append(settings.mqtt.url)
    urls += [u.get_secret_value() for u in settings.alerts.urls]
    return urls


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective config as plain data, secrets shown as ``**********`` and every URL
    reduced to scheme, host and port (``bot.safety.mask_url``): keys hide in URL paths."""
    dumped: dict[str, Any] = settings.model_dump(mode="json")
    for section, key in _SECRET_FIELDS:
        block = dumped.get(section)
        if isinstance(block, dict) and block.get(key) is not None:
            block[key] = "**********"
    mask_chain_urls(dumped)
    venue_urls = dumped["exchange"]["urls"]
    dumped["exchange"]["urls"] = {name: mask_url(url) for name, url in venue_urls.items()}
    if isinstance(dumped.get("mqtt"), dict):
        dumped["mqtt"]["url"] = mask_url(dumped["mqtt"]["url"])
    if dumped["store"].get("url"):  # no password (refused), the query string hidden
        dumped["store"]["url"] = shown_store_url(dumped["store"]["url"])
    return dumped
