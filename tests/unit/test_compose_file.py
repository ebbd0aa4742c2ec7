"""infra/compose.yaml, checked without a Docker engine: valid against the Compose Specification
JSON schema (the copy vendored by the check-jsonschema dev dependency), and the deployment's
invariants: health checks, start order, restart policies, the same commands as `make run`, and
no secret written into the file.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
import re
import subprocess
from importlib import resources
from typing import Any

import jsonschema
import pytest
from pydantic_settings import BaseSettings

import services
from infra.processes import OPTIONAL, SERVICES, SIMULATORS, Process
from tests.deploy import COMPOSE_ENV_EXAMPLE, REPO, compose, env_file

APP_SERVICES = {p.name: p for p in (*SERVICES, *OPTIONAL)}
SIMULATOR_SERVICES = {p.name: p for p in SIMULATORS}
INFRA = {"kafka", "topics"}
MONITORING = {"prometheus", "grafana"}
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|CREDENTIAL", re.IGNORECASE)


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def long_running() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if n != "topics"}


def test_the_schema_is_the_compose_specification() -> None:
    schema = compose_schema()
    assert schema["title"] == "Compose Specification"
    assert "service" in schema["$defs"]


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    assert schema_errors(compose()) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["services"]["order-writer"].update(healtcheck={}), "healtcheck"),
        (
            lambda d: d["services"]["order-writer"]["depends_on"]["kafka"].update(
                condition="service_up"
            ),
            "service_up",
        ),
        (lambda d: d["services"]["kafka"].update(restart=["always"]), "restart"),
    ],
    ids=["misspelt key", "unknown depends_on condition", "wrong type"],
)
def test_the_schema_check_catches_mistakes(mutate: Any, expected: str) -> None:
    broken = copy.deepcopy(compose())
    mutate(broken)
    errors = schema_errors(broken)
    assert errors and any(expected in e for e in errors), errors


def test_services_are_exactly_the_processes_of_make_run_plus_kafka_and_topics() -> None:
    """A process added to infra/processes.py without a container (or the reverse) fails here."""
    expected = INFRA | set(APP_SERVICES) | set(SIMULATOR_SERVICES) | MONITORING
    assert set(compose()["services"]) == expected


def test_default_services_are_the_ones_make_run_starts_and_extras_are_behind_profiles() -> None:
    services_ = compose()["services"]
    default = {n for n, s in services_.items() if not s.get("profiles")}
    assert default == INFRA | {p.name for p in SERVICES}
    for process in OPTIONAL:
        assert services_[process.name]["profiles"] == ["audit"]
    for process in SIMULATORS:
        assert services_[process.name]["profiles"] == ["demo"]
    for name in MONITORING:
        assert services_[name]["profiles"] == ["monitoring"]


@pytest.mark.parametrize("process", [*SERVICES, *OPTIONAL], ids=lambda p: p.name)
def test_service_command_and_port_are_the_ones_make_run_uses(process: Process) -> None:
    service = compose()["services"][process.name]
    assert service["command"] == process.argv("python")
    assert service["environment"]["HTTP_PORT"] == str(process.port)
    assert service["environment"]["HTTP_HOST"] == "0.0.0.0"  # reachable from other containers
    assert f"127.0.0.1:{process.port}/health/ready" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("process", SIMULATORS, ids=lambda p: p.name)
def test_simulator_command_is_make_runs_listening_on_all_interfaces(process: Process) -> None:
    expected = process.argv("python")
    expected[expected.index("--host") + 1] = "0.0.0.0"
    service = compose()["services"][process.name]
    assert service["command"] == expected
    assert f"127.0.0.1:{process.port}/" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(long_running()), ids=lambda n: f"service={n}")
def test_every_long_running_service_has_a_health_check_and_a_restart_policy(name: str) -> None:
    service = long_running()[name]
    check = service["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1
    assert {"interval", "timeout", "retries", "start_period"} <= set(check)
    assert service["restart"] in {"unless-stopped", "always"}


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_every_service_waits_for_healthy_kafka_and_created_topics(name: str) -> None:
    depends = compose()["services"][name]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"


def test_topics_step_runs_syncctl_once_after_kafka_is_healthy() -> None:
    topics = compose()["services"]["topics"]
    assert topics["command"] == ["python", "-m", "services.syncctl", "topics", "create"]
    assert topics["restart"] == "no"
    assert topics["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert "healthcheck" not in topics  # a one-shot: "completed successfully" is its signal


def test_kafka_is_the_official_image_in_kraft_mode_with_its_data_on_a_volume() -> None:
    document = compose()
    kafka = document["services"]["kafka"]
    env = kafka["environment"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in json.dumps(env).upper()
    volume, _, mount = kafka["volumes"][0].partition(":")
    assert mount == env["KAFKA_LOG_DIRS"]
    assert volume in document["volumes"]
    # Without a mounted server.properties the image builds the config from KAFKA_* alone.
    required = {
        "KAFKA_NODE_ID",
        "KAFKA_LISTENERS",
        "KAFKA_ADVERTISED_LISTENERS",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
        "KAFKA_CONTROLLER_QUORUM_VOTERS",
        "KAFKA_CONTROLLER_LISTENER_NAMES",
        "KAFKA_INTER_BROKER_LISTENER_NAME",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
    }
    assert required <= set(env)
    # Our settings must never reach the broker: it would turn KAFKA_* into server properties.
    assert "env_file" not in kafka


def test_services_reach_kafka_on_its_advertised_internal_listener() -> None:
    advertised = compose()["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    internal = dict(item.split("://") for item in advertised.split(","))["PLAINTEXT"]
    assert env_file()["KAFKA_BOOTSTRAP_SERVERS"] == internal == "kafka:19092"


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (str(k), *_strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [str(node)]


def test_no_secret_is_written_in_the_compose_file() -> None:
    document = compose()
    for name, service in document["services"].items():
        environment = service.get("environment", {})
        secret_keys = [key for key in environment if SECRET_WORDS.search(key)]
        assert secret_keys == [], f"{name} sets {secret_keys} inline: put them in compose.env"
    text = " ".join(_strings(document))
    example = env_file()
    for key, value in example.items():
        if SECRET_WORDS.search(key) and value:
            assert value not in text, f"the value of {key} is written in compose.yaml"
    assert not re.search(r"(?i)(password|secret|token)\s*[:=]\s*\S", text)


def test_settings_come_from_the_git_ignored_env_file() -> None:
    for name in APP_SERVICES:
        assert compose()["services"][name]["env_file"] == "compose.env"
    result = subprocess.run(
        ["git", "check-ignore", "-q", "infra/compose.env"], cwd=REPO, check=False
    )
    assert result.returncode == 0, "infra/compose.env (real credentials) must be git-ignored"


def _known_settings() -> set[str]:
    """Every environment variable a settings class of ours reads (prefix + field name)."""
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if module.name.endswith((".settings", ".app")):
            importlib.import_module(module.name)
    names: set[str] = set()
    classes = list(BaseSettings.__subclasses__())
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if cls.__module__.startswith("services."):
            prefix = str(cls.model_config.get("env_prefix", ""))
            names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return names


def test_env_example_sets_only_real_settings() -> None:
    unknown = set(env_file()) - _known_settings()
    assert unknown == set(), f"{COMPOSE_ENV_EXAMPLE.name} sets unknown variables {unknown}"


def test_env_example_covers_the_shared_settings_of_the_local_env_example() -> None:
    """The shared settings (Kafka, APIs, merchant choices) documented for `make run` are offered
    to the containers too. Direction settings (ORDER_*, STOCK_*, ITEM_MAPPER_*) have working
    defaults and are left to docs/settings.md, so adding one does not break this test."""
    shared = ("KAFKA_", "RETRY_", "LOG_", "SHOPBOX_", "RACKBEAT_", "SYNC_")
    local = {key for key in env_file(REPO / ".env.example") if key.startswith(shared)}
    missing = local - set(env_file())
    assert missing == set(), f"add {missing} to {COMPOSE_ENV_EXAMPLE.name}"
