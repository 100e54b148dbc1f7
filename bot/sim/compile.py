"""Compile the simulation contracts (``bot/sim/contracts``) and load contract artifacts.

Compilation runs ``scripts/compile-contracts.mjs`` (npm ``solc``) only when
``build/contracts.json`` is missing or older than a source; ``python -m bot.sim.compile``
forces it. Uniswap artifacts are read as shipped in ``node_modules/@uniswap``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import HedgebotError

__all__ = [
    "Artifact",
    "CompileError",
    "compiled_contracts",
    "ensure_compiled",
    "project_root",
    "uniswap_v2_artifact",
]

_COMPILE_TIMEOUT_S = 120.0


class CompileError(HedgebotError):
    """The simulation contracts could not be compiled or an artifact is missing."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """ABI and creation bytecode (``0x``-prefixed) of one contract."""

    name: str
    abi: list[dict[str, Any]] = field(hash=False)
    bytecode: str


def project_root() -> Path:
    """The repository root (holds ``package.json`` and ``node_modules``)."""
    return Path(__file__).resolve().parents[2]


def _sources(root: Path) -> list[Path]:
    return sorted((root / "bot" / "sim" / "contracts").glob("*.sol"))


def _is_stale(out: Path, inputs: list[Path]) -> bool:
    if not out.exists():
        return True
    built = out.stat().st_mtime
    return any(path.stat().st_mtime > built for path in inputs)


def ensure_compiled(root: Path | None = None, *, force: bool = False) -> Path:
    """Path of ``build/contracts.json``, compiling first when missing or stale."""
    root = root or project_root()
    out = root / "build" / "contracts.json"
    script = root / "scripts" / "compile-contracts.mjs"
    sources = _sources(root)
    if not sources:
        raise CompileError(f"no Solidity sources in {root / 'bot' / 'sim' / 'contracts'}")
    if not force and not _is_stale(out, [*sources, script]):
        return out
    node = shutil.which("node")
    if node is None:
        raise CompileError("`node` not found on PATH; install Node.js and run `npm ci`")
    if not (root / "node_modules" / "solc").is_dir():
        raise CompileError("npm package `solc` missing; run `npm ci`")
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [node, str(script), str(sources[0].parent), str(out)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=_COMPILE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CompileError(f"running {script.name} failed: {exc}") from exc
    if done.returncode != 0:
        raise CompileError(f"solc failed:\n{done.stderr.strip() or done.stdout.strip()}")
    return out


def compiled_contracts(root: Path | None = None) -> dict[str, Artifact]:
    """Every simulation contract by name (``TestToken``, ``WETH9``, ``Multicall``)."""
    path = ensure_compiled(root)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: Artifact(name=name, abi=entry["abi"], bytecode=entry["bytecode"])
            for name, entry in raw["contracts"].items()
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompileError(f"{path} is unreadable ({exc}); delete it and retry") from exc


def uniswap_v2_artifact(name: str, root: Path | None = None) -> Artifact:
    """A contract of ``@uniswap/v2-core`` (``UniswapV2Factory``, ``UniswapV2Pair``)."""
    path = (root or project_root()) / "node_modules" / "@uniswap" / "v2-core" / "build"
    path = path / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        bytecode = raw.get("bytecode") or raw["evm"]["bytecode"]["object"]
    except FileNotFoundError as exc:
        raise CompileError(f"{path} not found; run `npm ci`") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompileError(f"{path} is unreadable: {exc}") from exc
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return Artifact(name=name, abi=raw["abi"], bytecode=bytecode)


def main() -> int:
    """``python -m bot.sim.compile``: recompile and report where the output went."""
    try:
        out = ensure_compiled(force=True)
    except CompileError as exc:
        print(f"compile: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"compile: wrote {out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
