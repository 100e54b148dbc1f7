"""An agent (API wallet) key approved for another master must not start the bot: the venue
acts for the agent's own master whatever wallet the client reads, so its orders would land
on that other account while the bot reads its own, flat, and sells again every tick.

The real ccxt hyperliquid client against the emulator serving several masters: HL_MASTER
with HL_AGENT, and OTHER_MASTER with OTHER_AGENT. The start asks the venue's ``userRole`` of
the signer and refuses with ``AuthenticationError`` naming both addresses, before any signed
action (no leverage set, no order)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from emulator_support import HL_AGENT, HL_MASTER, HL_STRANGER, MARK, hyperliquid_settings
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bot import errors
from bot.clock import ManualClock
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.hyperliquid import HyperliquidHandle, start_hyperliquid_emulator

pytestmark = pytest.mark.integration

OTHER_MASTER: LocalAccount = Account.from_key("0x" + "b1" * 32)
OTHER_AGENT: LocalAccount = Account.from_key("0x" + "b2" * 32)


@pytest.fixture
async def venue(clock: ManualClock) -> AsyncIterator[HyperliquidHandle]:
    handle = await start_hyperliquid_emulator(
        "127.0.0.1",
        0,
        HL_MASTER.address,
        clock,
        agents=[HL_AGENT.address],
        other_masters={OTHER_MASTER.address: [OTHER_AGENT.address]},
    )
    handle.set_mark(MARK)
    try:
        yield handle
    finally:
        await handle.close()


async def start_with(handle: HyperliquidHandle, clock: ManualClock, key: LocalAccount) -> None:
    exchange = CcxtPerpExchange(hyperliquid_settings(handle, agent=key), clock)
    try:
        await exchange.start()
    finally:
        await exchange.close()


@pytest.mark.parametrize(
    ("key", "what"),
    [
        (OTHER_AGENT, f"an API wallet of {OTHER_MASTER.address.lower()}"),
        (OTHER_MASTER, "role 'user'"),
    ],
)
async def test_a_key_not_approved_for_the_wallet_refuses_to_start(
    venue: HyperliquidHandle, clock: ManualClock, key: LocalAccount, what: str
) -> None:
    """Another master's agent, another master's own key: each start fails with
    AuthenticationError naming the signer and the wallet; the venue saw no signed action
    (no leverage set, no order)."""
    with pytest.raises(errors.AuthenticationError) as raised:
        await start_with(venue, clock, key)
    message = str(raised.value)
    assert key.address.lower() in message
    assert HL_MASTER.address.lower() in message
    assert what in message
    assert venue.emulator.venue.order_log() == []
    assert venue.emulator.state()["builder_fields_seen"] == []


async def test_the_wallets_own_agent_and_key_start(
    venue: HyperliquidHandle, clock: ManualClock
) -> None:
    """HL_MASTER's approved agent, and HL_MASTER's own key, start; the venue answers the
    roles of both masters' wallets."""
    await start_with(venue, clock, HL_AGENT)
    await start_with(venue, clock, HL_MASTER)
    registry = venue.emulator.registry
    assert registry.role(HL_AGENT.address) == {
        "role": "agent",
        "data": {"user": HL_MASTER.address.lower()},
    }
    assert registry.role(OTHER_AGENT.address)["data"] == {"user": OTHER_MASTER.address.lower()}
    assert registry.role(OTHER_MASTER.address) == {"role": "user"}
    assert [a["address"] for a in registry.extra_agents(OTHER_MASTER.address)] == [
        OTHER_AGENT.address.lower()
    ]


async def test_an_unknown_key_is_refused_by_the_venue_itself(
    venue: HyperliquidHandle, clock: ManualClock
) -> None:
    """A key the venue does not know (userRole ``missing``) trades nothing: its first signed
    action is refused with the venue's own text, an AuthenticationError."""
    with pytest.raises(errors.AuthenticationError, match="does not exist"):
        await start_with(venue, clock, HL_STRANGER)
    assert venue.emulator.venue.order_log() == []
