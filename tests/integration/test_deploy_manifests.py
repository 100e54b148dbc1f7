"""Deployment files, validated offline: the Kubernetes example (deploy/k8s) against the
Kubernetes JSON schemas that the ``kubernetes-validate`` package ships, the Compose file
against the Compose Specification schema that ``check-jsonschema`` vendors, and every bot's
config in them through ``hedgebot check-config`` (offline) with the environment its container
would get. Docker and Kubernetes themselves cannot run here (docs/deploy.md)."""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
COMPOSE = REPO / "docker-compose.yml"
KUBERNETES_VERSION = "1.30.0"  # the oldest minor still in wide use; newer ones accept it too
FLEET_BOTS = ("fleet-a", "fleet-b")
DOTENV = {  # what a fleet operator's .env holds (values of the right shape)
    "FLEET_RPC_URL": "http://node.example:8545",
    "POSTGRES_PASSWORD": "pg-password",
    "MQTT_FLEET_A_PASSWORD": "a-password",
    "MQTT_FLEET_B_PASSWORD": "b-password",
    "MQTT_OPERATOR_PASSWORD": "operator-password",
    "HEDGEBOT_DASHBOARD_TOKEN": "t" * 24,
    "HEDGEBOT_OPERATOR_KEY": "k" * 64,
}
OPERATOR_KEY = "HEDGEBOT_OPERATOR_KEY"
PLACEHOLDER = "replace-with-"  # every example Secret value begins so (bot.telemetry.auth)


def _package_version() -> str:
    match = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert match is not None
    return match.group(1)


def _k8s_documents() -> list[Any]:
    params = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            name = f"{path.name}:{doc['kind']}/{doc['metadata']['name']}"
            params.append(pytest.param(doc, id=name))
    return params


def _validate_k8s(doc: dict[str, Any]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("doc", _k8s_documents())
def test_every_kubernetes_manifest_matches_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    """Each document of deploy/k8s validates strictly (no unknown field) against the
    Kubernetes 1.30 JSON schema, offline."""
    _validate_k8s(doc)


def test_the_schema_check_is_not_vacuous() -> None:
    """A misspelt field and a wrong type are refused by the same validation."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    deployment = next(d for d in _docs("fleet-a.yaml") if d["kind"] == "Deployment")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["replica"] = misspelt["spec"].pop("replicas")
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "x"
    for bad in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def _docs(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((K8S / name).read_text()))


@pytest.mark.parametrize("bot", FLEET_BOTS)
def test_each_bot_is_one_deployment_with_its_secret_config_probes_and_metrics(bot: str) -> None:
    """One replica, recreated (never two processes of one bot_id), keys only from its own
    Secret as env, its ConfigMap's bot_id equal to its name, liveness/readiness/startup on
    ``/healthz`` of the metrics port, resources set, a non-root read-only container, and a
    Service selecting exactly this bot's pod on the metrics port."""
    docs = {d["kind"]: d for d in _docs(f"{bot}.yaml")}
    assert set(docs) == {"ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service"}
    deployment = docs["Deployment"]["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"]["type"] == "Recreate"
    pod = deployment["template"]["spec"]
    (container,) = pod["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": docs["Secret"]["metadata"]["name"]}}]
    assert "env" not in container  # secrets never in the manifest's plain env
    config = yaml.safe_load(docs["ConfigMap"]["data"]["config.yaml"])
    assert config["bot_id"] == bot
    assert container["args"] == ["run", "--config", "/etc/hedgebot/config.yaml"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
    assert claim == docs["PersistentVolumeClaim"]["metadata"]["name"]
    port = container["ports"][0]
    assert port == {"name": "metrics", "containerPort": config["metrics"]["port"]}
    for probe in ("livenessProbe", "startupProbe"):  # 200 while waiting for the store
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, probe
    # 503 while the store is unreachable (bot.telemetry.outage_health)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    service = docs["Service"]["spec"]
    labels = deployment["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert service["selector"]["app.kubernetes.io/instance"] == bot
    assert service["ports"][0]["targetPort"] == "metrics"
    secret_keys = set(docs["Secret"]["stringData"])
    assert {"HEDGEBOT_EXCHANGE__API_KEY", "HEDGEBOT_EXCHANGE__API_SECRET"} <= secret_keys
    assert all(key.startswith("HEDGEBOT_") for key in secret_keys)


@pytest.mark.parametrize("bot", FLEET_BOTS)
def test_each_kubernetes_bot_gets_its_operator_key_from_its_secret(bot: str) -> None:
    """Commands reach the bot: HEDGEBOT_OPERATOR_KEY is a key of the Secret the container
    takes its environment from (envFrom secretRef), never in the ConfigMap or plain env, and
    every committed Secret value is a recognisable placeholder (refused by the bot)."""
    docs = {d["kind"]: d for d in _docs(f"{bot}.yaml")}
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    secret = docs["Secret"]
    refs = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
    assert refs == [secret["metadata"]["name"]]
    assert OPERATOR_KEY in secret["stringData"]
    assert OPERATOR_KEY not in docs["ConfigMap"]["data"]["config.yaml"]
    assert "env" not in container
    for key, value in secret["stringData"].items():
        assert value.startswith(PLACEHOLDER), key


def test_the_kubernetes_image_is_the_one_compose_builds(compose: dict[str, Any]) -> None:
    """Every Deployment runs ``hedgebot:<package version>``, the tag compose's ``build``
    gives the Dockerfile's image (docs/deploy.md: docker build -t hedgebot:<version> .)."""
    tag = f"hedgebot:{_package_version()}"
    built = {s["image"] for s in compose["services"].values() if "build" in s}
    assert built == {tag}
    for bot in FLEET_BOTS:
        deployment = next(d for d in _docs(f"{bot}.yaml") if d["kind"] == "Deployment")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == tag


def _check_config(config_file: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HEDGEBOT_", "MQTT_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "check-config", str(config_file)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("bot", FLEET_BOTS)
def test_each_kubernetes_bot_config_passes_check_config(bot: str, tmp_path: Path) -> None:
    """The ConfigMap's config.yaml, with the Secret's variables as the environment, passes
    ``hedgebot check-config`` offline (exit 0), and the secrets are masked in what it prints."""
    docs = {d["kind"]: d for d in _docs(f"{bot}.yaml")}
    config_file = tmp_path / "config.yaml"
    config_file.write_text(docs["ConfigMap"]["data"]["config.yaml"])
    secrets = {**docs["Secret"]["stringData"], OPERATOR_KEY: "k" * 64}  # one of your own
    done = _check_config(config_file, secrets)
    assert done.returncode == 0, done.stderr
    assert "store:" in done.stdout
    assert "url: postgresql://" in done.stdout
    for value in secrets.values():
        assert value not in done.stdout
    without_keys = _check_config(config_file, {})
    assert without_keys.returncode == 2  # a ccxt venue needs its keys: they come from the Secret
    assert "HEDGEBOT_EXCHANGE__API_KEY" in without_keys.stderr
    as_committed = _check_config(config_file, docs["Secret"]["stringData"])
    assert as_committed.returncode == 2  # the example's operator key is public: refused
    assert f"{OPERATOR_KEY} is the example's placeholder" in as_committed.stderr


# ---- docker-compose.yml: the fleet profile -------------------------------------------------


def _interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR}`` with ``dotenv`` (``$$`` is a literal $)."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return dotenv.get(name) or default

    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", one, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    """docker-compose.yml (fleet profile included) validates against the Compose
    Specification schema vendored by check-jsonschema (offline)."""
    jsonschema = pytest.importorskip("jsonschema")
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(compose))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_fleet_profile_has_the_database_the_broker_two_bots_and_the_dashboard(
    compose: dict[str, Any],
) -> None:
    """``--profile fleet`` starts PostgreSQL, the broker, two bots with different bot_id on
    one store URL (waiting for the database's health check) and the fleet dashboard."""
    services = compose["services"]
    fleet = {name for name, s in services.items() if "fleet" in s.get("profiles", [])}
    assert {"postgres", "mosquitto", "bot-fleet-a", "bot-fleet-b", "fleet-dashboard"} <= fleet
    configs = {}
    for bot in FLEET_BOTS:
        service = services[f"bot-{bot}"]
        assert service["command"][:2] == ["run", "--config"]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        configs[bot] = yaml.safe_load(_host_config(service).read_text())
    assert configs["fleet-a"]["bot_id"] != configs["fleet-b"]["bot_id"]
    assert configs["fleet-a"]["store"]["url"] == configs["fleet-b"]["store"]["url"]
    assert "@postgres:5432/" in configs["fleet-a"]["store"]["url"]
    data_volumes = {
        next(v for v in services[f"bot-{bot}"]["volumes"] if v.endswith(":/data"))
        for bot in FLEET_BOTS
    }
    assert len(data_volumes) == 2  # each bot its own kill switch and paper venue state
    dashboard = services["fleet-dashboard"]["command"]
    assert dashboard[0] == "dashboard"
    assert dashboard[dashboard.index("--mqtt-url") + 1] == "mqtt://mosquitto:1883"


def _host_config(service: dict[str, Any]) -> Path:
    """The repository file a service's ``--config`` path is mounted from."""
    inside = Path(service["command"][service["command"].index("--config") + 1])
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith(".") and inside.is_relative_to(target):
            return REPO / source / inside.relative_to(target)
    raise AssertionError(f"{inside} is not mounted from the repository")


@pytest.mark.parametrize("bot", FLEET_BOTS)
def test_each_compose_fleet_bot_config_passes_check_config(
    compose: dict[str, Any], bot: str
) -> None:
    """The bot's mounted config with its container's environment (compose's interpolation of
    a filled .env) passes ``hedgebot check-config`` offline: the node from FLEET_RPC_URL, the
    store password from the environment only, its own MQTT login."""
    service = compose["services"][f"bot-{bot}"]
    env = {key: _interpolate(str(value), DOTENV) for key, value in service["environment"].items()}
    assert env["HEDGEBOT_STORE__PASSWORD"] == DOTENV["POSTGRES_PASSWORD"]
    done = _check_config(_host_config(service), env)
    assert done.returncode == 0, done.stderr
    assert DOTENV["FLEET_RPC_URL"].rsplit("/", 1)[0] in done.stdout.replace("'", "")
    assert f"username: {bot}" in done.stdout
    assert DOTENV["POSTGRES_PASSWORD"] not in done.stdout


def test_every_compose_bot_gets_the_operator_key_from_the_env_file(
    compose: dict[str, Any],
) -> None:
    """Every `hedgebot run` service and the fleet dashboard pass HEDGEBOT_OPERATOR_KEY, taken
    from .env by interpolation (no value committed), so `hedgebot cmd` reaches the bots."""
    runs = [
        name
        for name, service in compose["services"].items()
        if "build" in service and (service.get("command") or [])[:1] in (["run"], ["dashboard"])
    ]
    assert {"bot", "bot-testnet", "bot-fleet-a", "bot-fleet-b", "fleet-dashboard"} <= set(runs)
    for name in runs:
        value = str(compose["services"][name]["environment"].get(OPERATOR_KEY))
        assert value == "${HEDGEBOT_OPERATOR_KEY:-}", name
        assert _interpolate(value, DOTENV) == DOTENV[OPERATOR_KEY], name


def test_a_bot_bound_beyond_loopback_has_its_dashboard_token(compose: dict[str, Any]) -> None:
    """Every service that binds a bot's metrics and dashboard on 0.0.0.0 passes
    HEDGEBOT_DASHBOARD_TOKEN (the daemon refuses such a bind without it)."""
    for name, service in compose["services"].items():
        if "build" not in service:  # not a hedgebot container
            continue
        env = service.get("environment") or {}
        command = service.get("command") or []
        if env.get("HEDGEBOT_METRICS__HOST") == "0.0.0.0" or command[:1] == ["dashboard"]:
            assert "HEDGEBOT_DASHBOARD_TOKEN" in env, name
