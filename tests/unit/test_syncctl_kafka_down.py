"""syncctl with Kafka unreachable: one clear line with the address and exit code 3, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", [["status"], ["dlq", "list"], ["topics", "create"]])
def test_kafka_down_is_one_line_with_the_address(command: list[str]) -> None:
    address = f"127.0.0.1:{closed_port()}"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": address}
    run = subprocess.run(
        [sys.executable, "-m", "services.syncctl", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3, run.stdout + run.stderr
    assert f"cannot reach Kafka at {address}" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "╭" not in run.stderr + run.stdout  # no rich traceback box either
