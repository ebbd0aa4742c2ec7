"""`make deploy-test` on a machine where it cannot work: one line naming what is missing, a
non-zero exit, and nothing started (infra/deploy/deploy-test.sh; docs/deploying.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy import REPO

SCRIPT = REPO / "infra" / "deploy" / "deploy-test.sh"


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT)],
        cwd=REPO,
        env={"PYTHON": sys.executable, "HOME": os.environ.get("HOME", "/root"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_a_docker_cli_it_names_it_in_one_line(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # bash and the basics, but no docker
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "env", "cat", "mktemp", "rm"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    done = run({"PATH": str(bin_dir)})
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("deploy-test: the docker CLI is required")


def test_an_unknown_engine_is_refused_in_one_line() -> None:
    done = run({"PATH": os.environ["PATH"], "DEPLOY_ENGINE": "kubernetes"})
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "deploy-test: DEPLOY_ENGINE must be auto, docker or podman (got kubernetes)"
    ]
