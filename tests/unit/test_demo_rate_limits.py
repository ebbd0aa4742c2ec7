"""`make run`'s rate limits are defaults the environment can set (a benchmark lifts them)."""

from __future__ import annotations

import os
import subprocess
import sys

SHOW = "from infra.processes import DEMO_ENV as E; print(E['RACKBEAT_REQUESTS_PER_MINUTE'], E['RACKBEAT_SIM_RATE_LIMIT'])"  # noqa: E501


def demo_limits(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RACKBEAT_")}
    out = subprocess.run(
        [sys.executable, "-c", SHOW], env={**clean, **env}, check=True, capture_output=True
    )
    return out.stdout.decode().strip()


def test_the_demo_limits_default_to_6000_per_minute() -> None:
    assert demo_limits() == "6000 6000"


def test_the_environment_sets_the_demo_limits() -> None:
    assert demo_limits(RACKBEAT_REQUESTS_PER_MINUTE="480", RACKBEAT_SIM_RATE_LIMIT="0") == "480 0"
