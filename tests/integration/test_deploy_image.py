"""What the image would run, run here without Docker: /app laid out from the Dockerfile's COPY
lines (and .dockerignore), each compose command started from it with the compose settings, and
judged by the compose health check command itself. Real broker, real processes.

Not covered (no Docker engine): the image build, the base image, the non-root user at run time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from infra.processes import OPTIONAL, SERVICES, SIMULATORS
from infra.simulators.common import free_port
from tests.deploy import compose, env_file, lay_out_app
from tests.support import eventually


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image") / "app"
    lay_out_app(root)
    return root


def image_env(app: Path, extra: dict[str, str]) -> dict[str, str]:
    """The container's environment: the Dockerfile's ENV, compose.env, then `environment:`.
    The venv's interpreter stands in for /opt/venv; PYTHONPATH is the image's /app."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {
        **keep,
        "PYTHONPATH": str(app),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "HTTP_HOST": "0.0.0.0",
        "LOG_FORMAT": "json",
        **env_file(),
        **extra,
    }


def run_in_image(app: Path, argv: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, *argv[1:]] if argv[0] == "python" else argv,
        cwd=app,
        env=env or image_env(app, {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_layout_has_the_code_and_none_of_the_rest(app_dir: Path) -> None:
    assert (app_dir / "services/common/runtime.py").is_file()
    assert (app_dir / "infra/simulators/fixtures/demo_shop.json").is_file()
    assert (app_dir / "infra/healthcheck.py").is_file()
    assert not (app_dir / "tests").exists()
    assert not (app_dir / "infra/run_all.py").exists()
    assert not list(app_dir.rglob("__pycache__"))


def test_every_compose_command_finds_its_code_in_the_image(app_dir: Path) -> None:
    modules = [f"{p.module}.app" for p in (*SERVICES, *OPTIONAL)]
    modules += ["services.syncctl.cli", "infra.healthcheck", "infra.processes"]
    modules += [f"{p.module}.app" for p in SIMULATORS]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(sys.argv[1]), (name, module.__file__)\n"
        "print('ok', len(sys.modules))\n"
    )
    assert run_in_image(app_dir, ["python", "-c", code, str(app_dir)]).startswith("ok")
    topics = compose()["services"]["topics"]["command"]
    assert "create" in run_in_image(app_dir, [*topics[:-1], "--help"])
    for process in SIMULATORS:
        command = compose()["services"][process.name]["command"]
        assert "--seed" in run_in_image(app_dir, [*command[:3], "--help"])


async def health(app: Path, command: list[str]) -> int:
    """Run a compose health check (`[CMD, python, -m, infra.healthcheck, URL]`) from /app."""
    assert command[0] == "CMD" and command[1] == "python"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[2:],
        cwd=app,
        env=image_env(app, {}),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_compose_health_check_says_unhealthy_when_nothing_listens(app_dir: Path) -> None:
    check = compose()["services"]["order-writer"]["healthcheck"]["test"]
    port = free_port()
    assert await health(app_dir, [p.replace(":8002/", f":{port}/") for p in check]) == 1


def spawn(app: Path, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a compose `command` (python -m ...) from /app, output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, *argv[1:]], cwd=app, env=env, stdout=out, stderr=out
        )


@pytest.mark.parametrize("name", ["order-writer", "audit"])
async def test_service_started_as_compose_does_becomes_healthy(
    name: str,
    app_dir: Path,
    kafka_bootstrap: str,
    topic_namespace: str,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    service = compose()["services"][name]
    port = free_port()
    environment = {k: str(v) for k, v in service["environment"].items()}
    default_port = environment["HTTP_PORT"]
    environment["HTTP_PORT"] = str(port)
    env = image_env(
        app_dir,
        {
            **environment,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_TOPIC_NAMESPACE": topic_namespace,
            "ORDER_WRITER_GROUP_ID": f"{topic_namespace}order-writer",
            "AUDIT_GROUP_ID": f"audit-{uuid.uuid4().hex[:8]}",
        },
    )
    log = tmp_path / f"{name}.log"
    processes.append(spawn(app_dir, service["command"], env, log))
    check = [p.replace(f":{default_port}/", f":{port}/") for p in service["healthcheck"]["test"]]

    async def healthy() -> bool:
        assert processes[-1].poll() is None, log.read_text()
        return await health(app_dir, check) == 0

    await eventually(healthy, timeout=60, every=0.5)


@pytest.fixture
async def stopped_health_server() -> AsyncIterator[str]:
    """An HTTP server that answers 503 like /health/ready before Kafka is reached."""

    async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b'{"status": "not ready", "reasons": ["Kafka unreachable"]}'
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/health/ready"


async def test_compose_health_check_says_unhealthy_on_503(
    app_dir: Path, stopped_health_server: str
) -> None:
    assert (
        await health(app_dir, ["CMD", "python", "-m", "infra.healthcheck", stopped_health_server])
        == 1
    )
