"""`python -m infra.simulators.shopbox` starts a seeded simulator with the given token and
faults; the Rackbeat simulator's options give the same faults, its 480/min limit by default."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from infra.simulators.common import faults_from, free_port
from infra.simulators.rackbeat.__main__ import parse_args as rackbeat_args

pytestmark = pytest.mark.simulators


def test_cli_serves_the_demo_shop_with_the_given_token_and_faults() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.simulators.shopbox",
            "--port",
            str(port),
            "--token",
            "cli-token",
            "--rate-limit",
            "100",
            "--webhook-drop-rate",
            "0.3",
            "--lost-response-rate",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                products = httpx.get(f"{base}/api/v3/products", params={"api-token": "cli-token"})
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        assert products.json()["meta"]["pagination"]["total"] == 302
        refused = httpx.get(f"{base}/api/v3/products", params={"api-token": "other"})
        assert refused.status_code == 401
        faults = httpx.get(f"{base}/_control/faults").json()
        assert faults["rate_limit_per_minute"] == 100
        assert faults["webhook_drop_rate"] == 0.3 and faults["lost_response_rate"] == 0.1
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_rackbeat_cli_keeps_its_rate_limit_and_takes_every_fault() -> None:
    assert faults_from(rackbeat_args([])).rate_limit_per_minute == 480
    faults = faults_from(rackbeat_args(["--webhook-reorder-window", "4", "--error-rate", "0.2"]))
    assert faults.webhook_reorder_window == 4 and faults.error_rate == 0.2
