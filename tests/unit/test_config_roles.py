"""One address in two roles that cannot be the same contract is refused by `check-config`.

``hedge_asset.base_token == quote_token`` passed `check-config` (and ``--online``), then every
tick of `run` failed. A token is not a pool, a pool or Multicall owns no LP position: each such
config is refused naming the field, before anything reads the chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.config import load_config
from bot.errors import ConfigError

pytestmark = pytest.mark.unit

BASE, QUOTE, POOL, OWNER, MANAGER, MULTICALL = ("0x" + d * 40 for d in "123456")


def config(tmp_path: Path, *, positions: list[dict[str, Any]] | None = None, **fields: Any) -> Path:
    """A config with one address per role, some overridden by ``fields``."""
    data = {
        "chain": {"rpc_urls": ["http://127.0.0.1:8545"], "multicall": fields.get("multicall")},
        "positions": positions or [{"id": "lp", "kind": "v2", "pool": POOL, "owner": OWNER}],
        "hedge_asset": {
            "base_token": fields.get("base", BASE),
            "quote_token": fields.get("quote", QUOTE),
        },
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_base_token_equal_to_quote_token_is_refused_by_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-config` exits 2 naming hedge_asset.quote_token, in any letter case."""
    assert main(["check-config", str(config(tmp_path, quote=BASE))]) == 2
    err = capsys.readouterr().err
    assert "hedge_asset.quote_token: must differ from hedge_asset.base_token" in err
    mixed = "0x" + "Ab" * 20
    assert "hedge_asset.quote_token" in refusal(
        config(tmp_path, base=mixed.lower(), quote=mixed.upper().replace("0X", "0x"))
    )


@pytest.mark.parametrize(
    ("positions", "fields", "line"),
    [
        (
            [{"id": "lp", "kind": "v2", "pool": BASE, "owner": OWNER}],
            {},
            "positions.0.pool: the same address as hedge_asset.base_token: a pool cannot be a "
            "token",
        ),
        (
            [{"id": "lp", "kind": "v2", "pool": POOL, "owner": POOL}],
            {},
            "positions.0.owner: the same address as positions.0.pool: a pool owns no LP position",
        ),
        (
            [{"id": "lp", "kind": "v2", "pool": POOL, "owner": OWNER}],
            {"multicall": POOL},
            "positions.0.pool: the same address as chain.multicall",
        ),
        (
            [
                {"id": "a", "kind": "v2", "pool": POOL, "owner": OWNER},
                {"id": "b", "kind": "v3", "position_manager": POOL, "token_id": 1},
            ],
            {},
            "positions.1.position_manager: the same address as positions.0.pool: a "
            "position_manager cannot be a pool",
        ),
        (
            [
                {
                    "id": "a",
                    "kind": "v3",
                    "position_manager": MANAGER,
                    "owner": MANAGER,
                    "discover": True,
                }
            ],
            {},
            "positions.0.owner: the same address as positions.0.position_manager",
        ),
        (
            [{"id": "a", "kind": "v3", "position_manager": QUOTE, "token_id": 3}],
            {},
            "positions.0.position_manager: the same address as hedge_asset.quote_token",
        ),
    ],
)
def test_an_address_in_two_roles_is_refused_naming_the_field(
    tmp_path: Path, positions: list[dict[str, Any]], fields: dict[str, Any], line: str
) -> None:
    """Pool = token, owner = pool, pool = Multicall, manager = pool, owner = its own
    manager, manager = token: refused, the line naming the field and the other field."""
    assert line in refusal(config(tmp_path, positions=positions, **fields))


def test_addresses_that_may_legitimately_repeat_pass(tmp_path: Path) -> None:
    """Two positions in one pool, one owner for two positions, and an owner that is also a
    token (unusual, not certainly wrong) still load."""
    positions = [
        {"id": "a", "kind": "v2", "pool": POOL, "owner": OWNER},
        {"id": "b", "kind": "v2", "pool": POOL, "owner": BASE},
        {"id": "c", "kind": "v3", "position_manager": MANAGER, "owner": OWNER, "discover": True},
    ]
    settings = load_config(config(tmp_path, positions=positions, multicall=MULTICALL))
    assert len(settings.positions) == 3
