"""Money is Decimal with a currency; conversions between øre and kroner and VAT are explicit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import Field

from schemas.envelope import Model

CENTS = Decimal("0.01")


class Money(Model):
    amount: Decimal = Field(description="in major units (kroner), two decimals")
    currency: str = "DKK"


def ore_to_kroner(ore: int) -> Decimal:
    """Shopbox sends integer øre (minor units)."""
    return (Decimal(ore) / 100).quantize(CENTS)


def kroner_to_ore(kroner: Decimal) -> int:
    return int((kroner * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def excl_vat(gross: Decimal, vat_percent: Decimal) -> Decimal:
    """Net from a VAT-inclusive price, rounded half-up to øre."""
    return (gross * 100 / (100 + vat_percent)).quantize(CENTS, rounding=ROUND_HALF_UP)


def incl_vat(net: Decimal, vat_percent: Decimal) -> Decimal:
    return (net * (100 + vat_percent) / 100).quantize(CENTS, rounding=ROUND_HALF_UP)
