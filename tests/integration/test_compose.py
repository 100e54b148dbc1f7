"""Container files: docker-compose.yml, Dockerfile and the Mosquitto config/ACL.

The Compose file is validated against the Compose Specification JSON schema that the
``check-jsonschema`` package vendors (no network needed); when that package is missing the
schema test is skipped and the structural checks below still run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import json
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
MOSQUITTO_DIR = REPO / "config" / "mosquitto"
PROFILES = {"paper", "testnet", "fleet"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _our_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("hedgebot") or "build" in service
    }


def test_compose_matches_the_compose_specification_schema(compose: dict[str, Any]) -> None:
    """docker-compose.yml validates against the vendored Compose Specification schema."""
    jsonschema = pytest.importorskip("jsonschema")
    try:
        vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
        schema = json.loads((vendor / "compose-spec.json").read_text())
    except ModuleNotFoundError:
        pytest.skip("check-jsonschema (which vendors the compose-spec schema) is not installed")
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_compose_structure(compose: dict[str, Any]) -> None:
    """Every service is in a profile, depends on services that exist, uses declared volumes."""
    allowed_top = {"name", "services", "volumes", "networks", "configs", "secrets"}
    assert {k for k in compose if not k.startswith("x-")} <= allowed_top
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        assert set(service.get("profiles", [])) <= PROFILES, name
        assert service.get("profiles"), f"{name}: every service belongs to a profile"
        depends = service.get("depends_on", {})
        for dependency, spec in depends.items() if isinstance(depends, dict) else []:
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert spec["condition"] in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if spec["condition"] == "service_healthy":
                assert "test" in services[dependency].get("healthcheck", {}), dependency
            shared = set(services[dependency].get("profiles", []))
            assert set(service["profiles"]) <= shared, f"{name} needs {dependency} in its profiles"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} not declared"
        for port in service.get("ports", []):
            assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", str(port)), f"{name}: bind {port} locally"
        command = service.get("command")
        if command is not None:
            assert isinstance(command, list), f"{name}: use the exec (list) form"
            assert all(isinstance(part, str) for part in command), name
    for profile in PROFILES:
        members = {n for n, s in services.items() if profile in s["profiles"]}
        assert "mosquitto" in members, profile
        assert any(
            s.get("command", [None])[0] == "run" for n, s in services.items() if n in members
        )


def test_anvil_version_matches_package_json(compose: dict[str, Any]) -> None:
    """The anvil container runs the same @foundry-rs/anvil version as package.json pins."""
    pinned = json.loads((REPO / "package.json").read_text())["dependencies"]["@foundry-rs/anvil"]
    assert f"--package=@foundry-rs/anvil@{pinned}" in compose["services"]["anvil"]["command"]


def _hedgebot_subcommands() -> dict[str, argparse.ArgumentParser]:
    try:
        from bot.cli import build_parser
    except ImportError as exc:  # bot/cli.py is someone else's and may lag behind
        pytest.skip(f"bot.cli.build_parser is not importable: {exc}")
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("hedgebot has no subcommands")


def _hedgebot_services() -> list[Any]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    params = []
    for name, service in services.items():
        if not (str(service.get("image", "")).startswith("hedgebot") or "build" in service):
            continue
        params.append(pytest.param(name, service["command"], id=name))
    return params


@pytest.mark.parametrize(("service", "command"), _hedgebot_services())
def test_service_command_exists_in_the_cli(service: str, command: list[str]) -> None:
    """Each hedgebot container runs a real subcommand with options that subcommand accepts."""
    subcommands = _hedgebot_subcommands()
    assert command[0] in subcommands, f"{service}: hedgebot has no subcommand {command[0]!r}"
    accepted = set(subcommands[command[0]]._option_string_actions)
    for option in (part.split("=", 1)[0] for part in command if part.startswith("--")):
        assert option in accepted, f"{service}: `hedgebot {command[0]}` has no option {option}"
    subcommands[command[0]].parse_args(command[1:])


def test_dockerfile_essentials() -> None:
    """Slim Python 3.11 base, package-only install, non-root user, /healthz check, entrypoint."""
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^RUN pip install \. ", text, re.M), "install the package only, no extras"
    user = re.search(r"^USER (\S+)", text, re.M)
    assert user is not None
    assert user.group(1) not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*?/healthz", text, re.M)
    assert 'ENTRYPOINT ["hedgebot"]' in text
    for copied in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for source in copied.split():
            if source not in {"pyproject.toml", "README.md"}:
                assert (REPO / source).exists(), source


# ---- the ACL, enforced by a real mosquitto ---------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def acl_broker() -> Iterator[int]:
    """Mosquitto with the repository's acl and mosquitto.conf auth settings on a free port."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    passwd = shutil.which("mosquitto_passwd")
    if not Path(mosquitto).exists() or passwd is None:
        pytest.skip("mosquitto / mosquitto_passwd not installed")
    conf = (MOSQUITTO_DIR / "mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^acl_file ", conf, re.M)
    assert re.search(r"^password_file ", conf, re.M)
    workdir = Path(tempfile.mkdtemp(prefix="hedgebot-acl-"))
    workdir.chmod(0o755)
    for user, password in (("bot-a", "pa"), ("bot-b", "pb"), ("operator", "po")):
        create = ["-c"] if user == "bot-a" else []
        subprocess.run([passwd, *create, "-b", str(workdir / "passwd"), user, password], check=True)
    shutil.copy(MOSQUITTO_DIR / "acl", workdir / "acl")
    port = _free_port()
    import getpass

    (workdir / "mosquitto.conf").write_text(
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {workdir / 'passwd'}\nacl_file {workdir / 'acl'}\n"
        "persistence false\nlog_dest none\n"
    )
    for path in workdir.iterdir():
        path.chmod(0o644)
    process = subprocess.Popen([mosquitto, "-c", str(workdir / "mosquitto.conf")])
    try:
        import socket

        for _ in range(250):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


async def test_acl_lets_only_the_operator_command_and_each_bot_its_own_topics(
    acl_broker: int,
) -> None:
    """Operator publishes commands and reads all; a bot writes only hedgebot/<its id>/..."""
    import asyncio

    import aiomqtt

    def client(user: str, password: str) -> aiomqtt.Client:
        return aiomqtt.Client(
            "127.0.0.1",
            acl_broker,
            username=user,
            password=password,
            identifier=f"{user}-{uuid.uuid4().hex[:8]}",
            timeout=5,
        )

    seen: list[tuple[str, bytes]] = []
    async with client("operator", "po") as operator, client("bot-a", "pa") as bot_a:
        await operator.subscribe("hedgebot/#", qos=1)
        await bot_a.subscribe("hedgebot/bot-a/cmd", qos=1)
        await bot_a.subscribe("hedgebot/bot-b/cmd", qos=1)  # not readable by bot-a

        async def drain(c: aiomqtt.Client, who: str) -> None:
            async for message in c.messages:
                assert isinstance(message.payload, bytes)
                seen.append((f"{who}:{message.topic}", message.payload))

        async with client("bot-b", "pb") as bot_b:
            tasks = [
                asyncio.create_task(drain(operator, "operator")),
                asyncio.create_task(drain(bot_a, "bot-a")),
            ]
            await bot_a.publish("hedgebot/bot-a/state", b"ok-state", qos=1)
            await bot_a.publish("hedgebot/bot-a/cmd", b"self-command", qos=1)
            await bot_b.publish("hedgebot/bot-a/state", b"spoofed", qos=1)
            await bot_b.publish("hedgebot/bot-b/cmd", b"b-self-command", qos=1)
            await operator.publish("hedgebot/bot-a/cmd", b"operator-command", qos=1)
            await operator.publish("hedgebot/bot-b/cmd", b"operator-command-b", qos=1)
            await bot_a.publish("hedgebot/bot-a/cmd/ack", b"ack", qos=1)
            await asyncio.sleep(0.5)
            for task in tasks:
                task.cancel()
    payloads = {payload for _, payload in seen}
    assert (("operator:hedgebot/bot-a/state", b"ok-state")) in seen
    assert ("bot-a:hedgebot/bot-a/cmd", b"operator-command") in seen
    assert ("operator:hedgebot/bot-a/cmd/ack", b"ack") in seen
    assert b"self-command" not in payloads
    assert b"b-self-command" not in payloads
    assert b"spoofed" not in payloads
    assert ("bot-a:hedgebot/bot-b/cmd", b"operator-command-b") not in seen
