"""Money conversions: øre <-> kroner and VAT, explicit and exact to the øre."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from schemas.money import excl_vat, incl_vat, kroner_to_ore, ore_to_kroner


def test_ore_and_kroner_convert_both_ways() -> None:
    assert ore_to_kroner(12500) == Decimal("125.00")
    assert ore_to_kroner(-995) == Decimal("-9.95")
    assert kroner_to_ore(Decimal("125.00")) == 12500
    assert kroner_to_ore(Decimal("0.005")) == 1  # half-up, not banker's rounding


def test_vat_is_removed_and_added_at_25_percent() -> None:
    assert excl_vat(Decimal("125.00"), Decimal(25)) == Decimal("100.00")
    assert incl_vat(Decimal("100.00"), Decimal(25)) == Decimal("125.00")
    assert excl_vat(Decimal("9.95"), Decimal(25)) == Decimal("7.96")


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_ore_round_trip_is_lossless(ore: int) -> None:
    assert kroner_to_ore(ore_to_kroner(ore)) == ore


@given(st.integers(min_value=0, max_value=10**8))
def test_vat_round_trip_is_within_one_ore(ore: int) -> None:
    gross = ore_to_kroner(ore)
    back = incl_vat(excl_vat(gross, Decimal(25)), Decimal(25))
    assert abs(back - gross) <= Decimal("0.01")
