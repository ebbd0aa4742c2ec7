"""`make run` as a merchant runs it: the broker, both simulators, the initial sync, the four
services and the dashboard come up, and one SIGTERM (what Ctrl-C does, too) stops every one of
them, the JVM included. Runs the Makefile's own command line with a private broker (own ports
and data dir), so the shared test broker is never stopped; the demo's fixed ports must be free.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from infra.processes import SERVICES, SIMULATORS
from infra.simulators.common import free_port
from tests.fixtures.kafka import REPO

READY_LINE = "Everything is up."
# a real broker: its own, started by make run itself
pytestmark = [pytest.mark.kafka, pytest.mark.covers_profiles]


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, grandchildren, ...), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def wait_for_line(process: subprocess.Popen[bytes], log: Path, line: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if line in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise AssertionError(f"no {line!r} within {timeout} s:\n{tail(log)}")


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def demo_ports_free() -> None:
    for proc in (*SIMULATORS, *SERVICES):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", proc.port)) == 0:
                pytest.fail(f"port {proc.port} ({proc.name}) is taken: is a `make run` running?")


@pytest.mark.usefixtures("demo_ports_free")
def test_make_run_comes_up_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    kafka_port = free_port()
    kafka_home = tmp_path / "kafka"
    env = {
        **os.environ,
        "KAFKA_PORT": str(kafka_port),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_HOME_DIR": str(kafka_home),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
    }
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:  # a file, not a pipe: nobody reads a pipe while it stops
        process = subprocess.Popen(
            ["make", "run"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        wait_for_line(process, log, READY_LINE, timeout=240)
        started = descendants(process.pid)
        commands = [cmdline(pid) for pid in started]
        for proc in (*SIMULATORS, *SERVICES):
            assert any(proc.module in command for command in commands), f"{proc.name} not up"
        broker = int((kafka_home / "broker.pid").read_text())  # the JVM runs in its own session
        assert alive(broker) and "java" in cmdline(broker)

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: SIGINT to the foreground process group
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in (*started, broker)):
        time.sleep(0.2)
    left = [cmdline(pid) for pid in (*started, broker) if alive(pid)]
    assert left == [], f"left running after Ctrl-C: {left}\n{tail(log)}"
    assert "stopping..." in log.read_text(errors="replace")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""
