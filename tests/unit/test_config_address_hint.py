"""An unquoted address in YAML is a hex integer to the YAML reader (issue 12 review 2 item 10):
it was refused as "Input should be a valid string" with no hint. Now each such field says to
quote it; a quoted address loads as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError

pytestmark = pytest.mark.unit

OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
HINT = (
    "an address must be text: quote it ('0x70997970...'): YAML reads an unquoted 0x... as a number"
)


def _config(tmp_path: Path, owner: str, base: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        "bot_id: addr\n"
        "chain: {rpc_urls: ['http://127.0.0.1:8545']}\n"
        f"positions: [{{id: lp, kind: v2, pool: '0x{'4' * 40}', owner: {owner}}}]\n"
        f"hedge_asset: {{base_token: {base}, quote_token: '0x{'2' * 40}'}}\n"
    )
    return path


def test_unquoted_addresses_are_refused_with_the_hint(tmp_path: Path) -> None:
    """``owner: 0x7099...`` and ``base_token: 0x1111...`` unquoted: each field is named with the
    hint to quote it."""
    with pytest.raises(ConfigError) as refused:
        load_config(_config(tmp_path, OWNER, "0x" + "1" * 40), env={})
    message = str(refused.value)
    assert f"positions.0.owner: {HINT}" in message
    assert f"hedge_asset.base_token: {HINT}" in message
    assert "valid string" not in message


def test_quoted_addresses_load(tmp_path: Path) -> None:
    """The same addresses quoted load, checksummed."""
    settings = load_config(_config(tmp_path, f"'{OWNER}'", f"'0x{'1' * 40}'"), env={})
    assert settings.positions[0].owner == OWNER
