"""The simulators' README lists every switch with its value in each profile: a switch added in
code but not in the table is a guess nobody can see."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.simulators.rackbeat.switches import SWITCHES as RACKBEAT
from infra.simulators.shopbox.switches import SWITCHES as SHOPBOX
from infra.simulators.switches import PROFILES, Switch

README = Path(__file__).parents[2] / "infra" / "simulators" / "README.md"


def table_row(simulator: str, name: str) -> list[str]:
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] == simulator and cells[1] == f"`{name}`":
            return cells
    raise AssertionError(f"{simulator} switch {name!r} is not in {README.name}'s switch table")


@pytest.mark.parametrize(
    ("simulator", "switch"),
    [("Rackbeat", s) for s in RACKBEAT] + [("Shopbox", s) for s in SHOPBOX],
    ids=lambda value: value.name if isinstance(value, Switch) else value,
)
def test_every_switch_is_in_the_readme_with_each_profiles_value(
    simulator: str, switch: Switch
) -> None:
    cells = table_row(simulator, switch.name)
    for column, profile in enumerate(PROFILES, start=2):
        assert cells[column].startswith(f"`{switch.value_in(profile)}`"), (profile, cells)
