"""`python -m infra.simulators.shopbox` starts a seeded simulator with the given token."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from infra.simulators.common import free_port

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
        assert products.json()["meta"]["pagination"]["total"] == 300
        refused = httpx.get(f"{base}/api/v3/products", params={"api-token": "other"})
        assert refused.status_code == 401
        assert httpx.get(f"{base}/_control/faults").json()["rate_limit_per_minute"] == 100
    finally:
        process.terminate()
        process.wait(timeout=10)
