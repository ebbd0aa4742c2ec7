"""`syncctl status` on a namespace with none of the pipeline's topics says so and exits 4; on
the namespace the services use it says which one it read and exits 0 (real broker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.kafka import unique

REPO = Path(__file__).resolve().parents[2]


def status(bootstrap: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "KAFKA_TOPIC_NAMESPACE"}
    return subprocess.run(
        [sys.executable, "-m", "services.syncctl", "status", *args],
        cwd=REPO,
        env={**base, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_namespace_without_the_pipeline_warns_and_fails(kafka_bootstrap: str) -> None:
    empty = unique("nothing-here") + "."
    result = status(kafka_bootstrap, KAFKA_TOPIC_NAMESPACE=empty)
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"none of the pipeline's topics exist in namespace '{empty}'" in result.stderr
    assert "from environment variable KAFKA_TOPIC_NAMESPACE" in result.stderr

    as_json = status(kafka_bootstrap, "--json", KAFKA_TOPIC_NAMESPACE=empty)
    assert as_json.returncode == 4
    assert "none of the pipeline's topics" in json.loads(as_json.stdout)["warning"]


def test_the_namespace_of_the_pipeline_is_named_and_passes(
    kafka_bootstrap: str, topic_namespace: str
) -> None:
    result = status(kafka_bootstrap, KAFKA_TOPIC_NAMESPACE=topic_namespace)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stderr
    assert f"Reading namespace '{topic_namespace}', from environment variable" in result.stdout
    body = json.loads(
        status(kafka_bootstrap, "--json", KAFKA_TOPIC_NAMESPACE=topic_namespace).stdout
    )
    assert body["warning"] is None
