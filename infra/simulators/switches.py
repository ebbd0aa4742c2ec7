"""Named switches for behaviours of the real APIs that the simulators can only guess.

Each switch has a value per profile: `evidence` (the default: the most likely real behaviour per
docs/api-assumptions.md), `strict` (the least convenient plausible variant) and `legacy` (what
the simulator did before the evidence, kept so an old test can pin it explicitly). A profile is
chosen by `<PREFIX>_PROFILE` and any switch can be overridden by `<PREFIX>_<NAME>` (upper case),
or in code through the simulator's config. infra/simulators/README.md lists every switch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PROFILES = ("evidence", "strict", "legacy")


@dataclass(frozen=True)
class Switch:
    name: str
    choices: tuple[str, ...]
    evidence: str
    strict: str
    legacy: str
    source: str
    """Where the `evidence` value comes from, or "unknown"."""

    def value_in(self, profile: str) -> str:
        value: str = getattr(self, profile)
        return value


def resolve(
    switches: Sequence[Switch],
    prefix: str,
    profile: str | None = None,
    overrides: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every switch's value: the profile's, then the environment's, then `overrides`."""
    env = os.environ if environ is None else environ
    chosen = profile or env.get(f"{prefix}_PROFILE", "") or "evidence"
    if chosen not in PROFILES:
        raise ValueError(f"{prefix}_PROFILE={chosen!r}: choose one of {', '.join(PROFILES)}")
    values = {s.name: s.value_in(chosen) for s in switches}
    for s in switches:
        if from_env := env.get(f"{prefix}_{s.name.upper()}"):
            values[s.name] = from_env
    values |= dict(overrides or {})
    by_name = {s.name: s for s in switches}
    for name, value in values.items():
        if name not in by_name:
            raise ValueError(f"unknown switch {name!r}; known: {', '.join(by_name)}")
        if value not in by_name[name].choices:
            choices = ", ".join(by_name[name].choices)
            raise ValueError(f"switch {name}={value!r}: choose one of {choices}")
    return values


RATE_LIMIT_SWITCHES = (
    Switch(
        name="rate_limit_window",
        choices=("minute", "second"),
        evidence="minute",
        strict="second",
        legacy="minute",
        source="unknown (no API's limit window was found; Rackbeat's wrapper counts per minute)",
    ),
    Switch(
        name="rate_limit_retry_after",
        choices=("sent", "absent"),
        evidence="sent",
        strict="absent",
        legacy="sent",
        source="unknown (no 429 of either API was seen; Laravel's throttle sends it)",
    ),
)
"""How the common middleware's rate limit refuses, for both simulators (common.py)."""
