"""Readers for the deployment files (no Docker engine here): the Dockerfile's instructions by
stage, the .dockerignore rules, the compose file, and the image's /app laid out from the
Dockerfile's COPY lines, so tests can check what the image would contain and run.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "infra" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "infra" / "compose.yaml"
COMPOSE_ENV_EXAMPLE = REPO / "infra" / "compose.env.example"


@dataclass(frozen=True)
class Instruction:
    stage: str  # the stage name ("" before the first FROM)
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest of the (continued) line

    def words(self) -> list[str]:
        return shlex.split(self.args)


def dockerfile_instructions(text: str | None = None) -> list[Instruction]:
    """Instructions in order, continuation lines joined, comments and directives dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8") if text is None else text
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stage, out = "", []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            stage = words[2] if len(words) >= 3 and words[1].upper() == "AS" else words[0]
        out.append(Instruction(stage, keyword, args.strip()))
    return out


def stages(instructions: list[Instruction]) -> list[str]:
    return [i.stage for i in instructions if i.keyword == "FROM"]


def _ignore_rules() -> list[tuple[bool, str]]:
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, line.lstrip("!").strip("/")))
    return rules


def _regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: `**/` any directories, `*` and `?` within one path element."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _matches(pattern: str, path: str) -> bool:
    """A pattern matches the path or one of its parent directories (excluding a directory
    excludes what is in it)."""
    parts = path.split("/")
    regex = _regex(pattern)
    return any(regex.fullmatch("/".join(parts[: n + 1])) for n in range(len(parts)))


def ignored(path: str) -> bool:
    """Whether `path` (relative to the repo root) is left out of the build context."""
    excluded = False
    for negated, pattern in _ignore_rules():
        if _matches(pattern, path):
            excluded = not negated
    return excluded


def context_files() -> list[str]:
    """Files of the repository (git-tracked or not, except ignored by git) in the context."""
    files = []
    for path in REPO.rglob("*"):
        rel = path.relative_to(REPO).as_posix()
        if path.is_file() and not rel.startswith((".git/", ".venv/")) and not ignored(rel):
            files.append(rel)
    return files


def final_stage_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of the final stage's COPY lines that copy from the context."""
    instructions = dockerfile_instructions()
    final = stages(instructions)[-1]
    copies = []
    for ins in instructions:
        if ins.stage == final and ins.keyword == "COPY":
            words = [w for w in ins.words() if not w.startswith("--")]
            if any(w.startswith("--from") for w in ins.words()):
                continue
            copies.append((words[:-1], words[-1]))
    return copies


def lay_out_app(dest: Path) -> None:
    """Copy what the final stage's COPY lines take from the build context into `dest` (its
    WORKDIR /app), honouring .dockerignore, as `docker build` would."""
    for sources, target in final_stage_copies():
        for source in sources:
            src = REPO / source.rstrip("/")
            into = dest / target
            if src.is_dir():
                for path in src.rglob("*"):
                    rel = path.relative_to(REPO).as_posix()
                    if path.is_file() and not ignored(rel):
                        out = into / path.relative_to(src)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, out)
            elif not ignored(source):
                into.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, into / src.name)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def env_file(path: Path = COMPOSE_ENV_EXAMPLE) -> dict[str, str]:
    """KEY=VALUE lines of an env file (compose's plain format: no quotes used here)."""
    values = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
