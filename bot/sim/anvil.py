"""Run a local anvil node (npm ``@foundry-rs/anvil``) as an async context manager.

``async with Anvil(AnvilOptions()) as node: node.rpc_url`` starts anvil on a free port with
chain id 31337 and the well-known development mnemonic, waits until it answers
``eth_chainId`` and stops it on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import aiohttp

from bot.errors import HedgebotError
from bot.sim.compile import project_root

__all__ = [
    "ANVIL_CHAIN_ID",
    "ANVIL_DEV_KEYS",
    "ANVIL_MNEMONIC",
    "Anvil",
    "AnvilError",
    "AnvilOptions",
    "find_anvil",
]

ANVIL_CHAIN_ID = 31337
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# Public keys of anvil's first accounts, derived from ANVIL_MNEMONIC; local chains only.
# scripts/secret_scan.py allowlists exactly these.
ANVIL_DEV_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
)

_NPM_HINT = "run `npm ci` in the repository root"
_PORT_ATTEMPTS = 3


class AnvilError(HedgebotError):
    """anvil is missing, did not start, or exited."""


@dataclass(frozen=True, slots=True)
class AnvilOptions:
    """How to run anvil. ``block_time_s=None`` automines one block per transaction."""

    port: int = 0  # 0: pick a free port
    host: str = "127.0.0.1"
    chain_id: int = ANVIL_CHAIN_ID
    block_time_s: float | None = None
    no_mining: bool = False
    accounts: int = 10
    balance_eth: int = 10_000
    genesis_timestamp: int | None = None
    binary: Path | None = None
    startup_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if self.no_mining and self.block_time_s is not None:
            raise ValueError("no_mining and block_time_s are mutually exclusive")
        if self.block_time_s is not None and self.block_time_s <= 0:
            raise ValueError("block_time_s must be positive")


def _platform_package() -> str | None:
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system())
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if system is None or arch is None:
        return None
    return f"anvil-{system}-{arch}"


def find_anvil(root: Path | None = None) -> Path:
    """The anvil executable installed by ``npm ci``.

    The native binary of the platform package comes first (signals reach anvil itself, no
    node wrapper in between); then ``node_modules/.bin/anvil``; then ``anvil`` on PATH.
    """
    modules = (root or project_root()) / "node_modules"
    candidates: list[Path] = []
    package = _platform_package()
    if package is not None:
        exe = "anvil.exe" if os.name == "nt" else "anvil"
        candidates.append(modules / "@foundry-rs" / package / "bin" / exe)
    candidates.append(modules / ".bin" / "anvil")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("anvil")
    if on_path is not None:
        return Path(on_path)
    raise AnvilError(f"anvil not found under {modules} nor on PATH; {_NPM_HINT}")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class Anvil:
    """One anvil process; use as ``async with Anvil(options) as node``."""

    def __init__(self, options: AnvilOptions | None = None) -> None:
        self.options = options or AnvilOptions()
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: IO[bytes] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port anvil listens on (after start)."""
        if self._port is None:
            raise AnvilError("anvil is not running")
        return self._port

    @property
    def rpc_url(self) -> str:
        """HTTP JSON-RPC endpoint."""
        return f"http://{self.options.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._process is not None and self._process.returncode is None

    def _argv(self, binary: Path, port: int) -> list[str]:
        opts = self.options
        argv = [
            str(binary),
            "--host",
            opts.host,
            "--port",
            str(port),
            "--chain-id",
            str(opts.chain_id),
            "--mnemonic",
            ANVIL_MNEMONIC,
            "--accounts",
            str(opts.accounts),
            "--balance",
            str(opts.balance_eth),
            "--silent",
        ]
        if opts.block_time_s is not None:
            argv += ["--block-time", f"{opts.block_time_s:g}"]
        if opts.no_mining:
            argv.append("--no-mining")
        if opts.genesis_timestamp is not None:
            argv += ["--timestamp", str(opts.genesis_timestamp)]
        return argv

    async def start(self) -> None:
        """Start anvil and wait until it answers ``eth_chainId``."""
        if self.running:
            return
        binary = self.options.binary or find_anvil()
        fixed_port = self.options.port != 0
        attempts = 1 if fixed_port else _PORT_ATTEMPTS
        last_error = ""
        for _ in range(attempts):
            port = self.options.port if fixed_port else _free_port(self.options.host)
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
            try:
                self._process = await asyncio.create_subprocess_exec(
                    *self._argv(binary, port),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=self._stderr,
                )
            except OSError as exc:
                self._close_stderr()
                raise AnvilError(f"cannot execute {binary}: {exc}; {_NPM_HINT}") from exc
            self._port = port
            try:
                await self._wait_ready()
            except AnvilError as exc:
                last_error = str(exc)
                await self.stop()
                continue
            return
        raise AnvilError(last_error)

    async def _wait_ready(self) -> None:
        payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.startup_timeout_s
        probe = aiohttp.ClientTimeout(total=1.0)
        async with aiohttp.ClientSession(timeout=probe) as session:
            while True:
                if self._process is None or self._process.returncode is not None:
                    raise AnvilError(f"anvil exited during start-up: {self._stderr_text()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                    async with session.post(self.rpc_url, json=payload) as response:
                        body = await response.json(content_type=None)
                        if int(body["result"], 16) == self.options.chain_id:
                            return
                if loop.time() > deadline:
                    raise AnvilError(
                        f"anvil did not answer on {self.rpc_url} within "
                        f"{self.options.startup_timeout_s:g}s: {self._stderr_text()}"
                    )
                await asyncio.sleep(0.05)

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return text[-2000:] or "(no output)"

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate anvil (SIGTERM, then SIGKILL after ``timeout_s``)."""
        process, self._process = self._process, None
        try:
            if process is not None and process.returncode is None:
                process.terminate()
                try:
                    async with asyncio.timeout(timeout_s):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
        finally:
            self._close_stderr()
            self._port = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
