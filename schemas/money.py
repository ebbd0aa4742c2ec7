"""Money is Decimal with a currency; conversions between øre and kroner and VAT are explicit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import Field

from schemas.envelope import Model

CENTS = Decimal("0.01")


class Money(Model):
    amount: Decimal = Field(description="in major units (kroner), two decimals")
    currency: str = "DKK"


def ore_to_kroner(ore: int | float | str | Decimal) -> Decimal:
    """Integer øre (as Shopbox sends it) to kroner with two decimals: 12995 -> Decimal('129.95').

    A fractional øre amount is refused rather than rounded: it means the unit is not øre.
    """
    value = Decimal(str(ore))
    if value != value.to_integral_value():
        raise ValueError(f"{ore!r} is not a whole number of øre")
    return (value / 100).quantize(CENTS)


def kroner_to_ore(kroner: Decimal) -> int:
    """Kroner to integer øre, half away from zero: 129.955 -> 12996."""
    return int((kroner * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def excl_vat(gross: Decimal, vat_percent: Decimal) -> Decimal:
    """Net from a VAT-inclusive price, rounded half-up to øre."""
    return (gross * 100 / (100 + vat_percent)).quantize(CENTS, rounding=ROUND_HALF_UP)


def incl_vat(net: Decimal, vat_percent: Decimal) -> Decimal:
    return (net * (100 + vat_percent) / 100).quantize(CENTS, rounding=ROUND_HALF_UP)
