"""Hyperliquid's order dialect, pure: hex client ids and back, the price rule, IOC answers,
and what the config check says a hyperliquid/okx venue lacks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from eth_utils.address import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from bot.config import load_config
from bot.domain import OrderIntent, Side
from bot.errors import ConfigError
from bot.exchange.ccxt.client import build_client
from bot.exchange.ccxt.dialect import HyperliquidDialect, hyperliquid_price
from bot.exchange.ccxt.settings import CcxtPerpSettings
from bot.exchange.client_ids import (
    client_id_prefix,
    client_order_id,
    hex_client_id,
    hex_client_id_prefix,
    text_client_id,
)
from bot.exchange.credentials_settings import venue_missing_secrets

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@given(
    bot=st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
    block=st.integers(0, 16**12 - 1),
    seq=st.integers(0, 16**8 - 1),
)
def test_hex_ids_round_trip_with_the_bot_prefix(bot: str, block: int, seq: int) -> None:
    """Every (bot, block, seq) id has a 0x + 32 hex form that starts with the bot's hex
    prefix and turns back into the same text id."""
    try:
        text = client_order_id(bot, block, seq)
    except ValueError:  # longer than Binance's 36 characters: never made
        return
    venue = hex_client_id(text)
    assert len(venue) == 34
    assert venue.startswith(hex_client_id_prefix(bot))
    int(venue, 16)
    assert text_client_id(venue) == text
    assert text_client_id(venue.upper().replace("0X", "0x")) == text
    assert text.startswith(client_id_prefix(bot))


def test_foreign_and_oversized_ids() -> None:
    """A foreign cloid stays as the venue wrote it; an id that does not fit is refused."""
    assert text_client_id("0x" + "12" * 16) == "0x" + "12" * 16
    with pytest.raises(ValueError, match="not a hedgebot"):
        hex_client_id("someone-else-1")
    with pytest.raises(ValueError, match="too large"):
        hex_client_id("hb-0123abcd-281474976710656-1")


@pytest.mark.parametrize(
    ("price", "side", "sz", "expected"),
    [
        ("1990.03", Side.SELL, 4, "1990.1"),  # 5 significant figures, sells up
        ("2010.07", Side.BUY, 4, "2010.0"),  # buys down
        ("12345.6", Side.BUY, 4, "12345"),  # 5 figures leave no decimal
        ("2000", Side.SELL, 4, "2000"),  # an integer price is always valid
        ("0.0123456", Side.BUY, 0, "0.012345"),  # leading zeros are not significant
        ("0.0123456", Side.BUY, 2, "0.0123"),  # at most 6 - szDecimals decimals
        ("1.234567", Side.SELL, 1, "1.2346"),
    ],
)
def test_price_rule(price: str, side: Side, sz: int, expected: str) -> None:
    """Hyperliquid's tick rule, rounded so a slippage cap is never looser."""
    assert hyperliquid_price(Decimal(price), side, sz) == Decimal(expected)


@given(
    price=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=7),
    sz=st.integers(0, 5),
    side=st.sampled_from(list(Side)),
)
def test_price_rule_is_never_looser(price: Decimal, sz: int, side: Side) -> None:
    """A buy cap never goes up, a sell cap never down, and the result obeys the rule."""
    rounded = hyperliquid_price(price, side, sz)
    assert rounded <= price if side is Side.BUY else rounded >= price
    if rounded != rounded.to_integral_value():
        digits = rounded.normalize().as_tuple()
        assert -int(digits.exponent) <= 6 - sz
        assert len(digits.digits) <= 5


def test_filled_ioc_answer_reads_filled_or_partial() -> None:
    """ccxt's status None with a fill: all of it is closed, part of it canceled (partial),
    for the intent's amount; a resting answer keeps its status."""
    dialect = HyperliquidDialect(4)
    sent = OrderIntent(
        "hb-0123abcd-1-1", "ETH/USDC:USDC", Side.SELL, Decimal("0.5"), False, Decimal(1990)
    )
    full = dialect.settled_answer({"status": None, "filled": 0.5, "amount": 0.5}, sent)
    part = dialect.settled_answer({"status": None, "filled": 0.25, "amount": 0.25}, sent)
    assert (full["status"], full["amount"]) == ("closed", 0.5)
    assert (part["status"], part["amount"]) == ("canceled", 0.5)
    assert dialect.settled_answer({"status": "open", "filled": 0}, sent)["status"] == "open"


def test_config_check_names_what_a_venue_lacks() -> None:
    """hyperliquid: the account address and the agent key; okx: the passphrase."""
    hl = venue_missing_secrets(
        "hyperliquid", api_key=False, api_secret=False, password=False, wallet_address=False
    )
    assert any("wallet_address" in line for line in hl)
    assert any("HEDGEBOT_EXCHANGE__API_SECRET" in line for line in hl)
    assert (
        venue_missing_secrets(
            "hyperliquid", api_key=False, api_secret=True, password=False, wallet_address=True
        )
        == []
    )
    okx = venue_missing_secrets(
        "okx", api_key=True, api_secret=True, password=False, wallet_address=False
    )
    assert okx == [
        "exchange: okx needs its API passphrase in HEDGEBOT_EXCHANGE__PASSWORD (env only)"
    ]
    assert (
        venue_missing_secrets(
            "okx", api_key=True, api_secret=True, password=True, wallet_address=False
        )
        == []
    )


def test_hyperliquid_testnet_config_and_okx_passphrase(tmp_path: Path) -> None:
    """config/hyperliquid-testnet.yaml loads with the account and agent key from env and
    builds a sandboxed hyperliquid client; okx's passphrase from env reaches ccxt's
    ``password`` and one written in the file is refused."""
    env = {
        "HEDGEBOT_EXCHANGE__WALLET_ADDRESS": "0x" + "ab" * 20,
        "HEDGEBOT_EXCHANGE__API_SECRET": "0x" + "22" * 32,
    }
    settings = load_config(ROOT / "config/hyperliquid-testnet.yaml", env)
    ccxt_settings = CcxtPerpSettings.from_config(settings.exchange)
    client = build_client(ccxt_settings)
    assert client.walletAddress == to_checksum_address("0x" + "ab" * 20)
    assert client.options["sandboxMode"] is True
    assert client.options["refSet"] is True
    assert client.options["approvedBuilderFee"] is False
    with pytest.raises(ConfigError, match="wallet_address"):
        load_config(
            ROOT / "config/hyperliquid-testnet.yaml", {"HEDGEBOT_EXCHANGE__API_SECRET": "x"}
        )
    data = yaml.safe_load((ROOT / "config/testnet.yaml").read_text())
    data["exchange"] = {
        **data["exchange"],
        "exchange_id": "okx",
        "demo_trading": False,
        "sandbox": True,
    }
    okx_file = tmp_path / "okx.yaml"
    okx_file.write_text(yaml.safe_dump(data))
    keys = {"HEDGEBOT_EXCHANGE__API_KEY": "k", "HEDGEBOT_EXCHANGE__API_SECRET": "s"}
    with pytest.raises(ConfigError, match="PASSWORD"):
        load_config(okx_file, keys)
    okx = load_config(okx_file, {**keys, "HEDGEBOT_EXCHANGE__PASSWORD": "pass-phrase"})
    assert build_client(CcxtPerpSettings.from_config(okx.exchange)).password == "pass-phrase"
    data["exchange"]["password"] = "in-the-file"
    okx_file.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ConfigError, match=r"exchange\.password: secrets are read from the environment"
    ):
        load_config(okx_file, {**keys, "HEDGEBOT_EXCHANGE__PASSWORD": "pass-phrase"})
