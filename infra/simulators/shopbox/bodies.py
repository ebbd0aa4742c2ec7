"""Request bodies the Shopbox simulator accepts, as the vendor's own plugin sends them (addendum
A2-A5). Unknown keys are ignored, as a lenient PHP backend would; wrong types give 422.

Money fields are integer øre: `12500.0` passes (PHP's round() sends floats), `125.5` does not,
which catches a client that sends kroner by mistake.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

Ore = Annotated[int, Field(ge=0, description="integer øre incl. VAT")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class VariantBody(_Body):
    uid: int | None = None
    sku_code: str | None = Field(None, validation_alias=AliasChoices("sku_code", "sku"))
    code: str | None = Field(None, validation_alias=AliasChoices("code", "barcode"))
    name: str | None = None
    description: str | None = None
    selling_price: Ore | None = None
    stock_price: Ore | None = None
    variance_values: list[dict[str, Any]] | None = None
    variance_value: list[int | str] | None = None  # the write shape: value uids (or names)

    def value_list(self) -> list[dict[str, Any]] | None:
        """Read-shape `variance_values` from either write form."""
        if self.variance_values is not None:
            return self.variance_values
        if self.variance_value is not None:
            return [{"name": str(v), "variance_type": None} for v in self.variance_value]
        return None


class ProductBody(_Body):
    uid: int | None = None
    name: str | None = Field(None, min_length=1, max_length=255)
    sku_code: str | None = Field(None, validation_alias=AliasChoices("sku_code", "sku"))
    code: str | None = None
    description: str | None = None
    selling_price: Ore | None = None
    stock_price: Ore | None = None
    tag: int | None = None
    inventory_on_variants: bool | None = None
    variants: list[VariantBody] | None = Field(
        None, validation_alias=AliasChoices("variants", "product_variances")
    )


class InventoryBody(_Body):
    branch: int
    product: int
    product_variance: int | None = None
    quantity: float
    note: str = ""


class BasketItemBody(_Body):
    product: int | None = None
    product_variance: int | None = None
    quantity: float
    selling_price: Ore | None = None
    discount: float = Field(0.0, ge=0, le=100, description="percent of the line (a guess)")
    name: str | None = None

    @field_validator("quantity")
    @classmethod
    def _not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("quantity must not be zero")
        return value


class BasketBody(_Body):
    cash_register: int
    basket_items: list[BasketItemBody] = Field(min_length=1)
    creation_time: int | None = Field(None, ge=0, description="unix seconds")
    discount_margin: float = Field(0.0, ge=0, description="øre off the basket total (a guess)")
    type: int | None = None
    staff: int | None = None
    external_id: str | None = None
    order_hash: str | None = None


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Pydantic errors as Laravel-style dotted field paths: {"basket_items.0.quantity": [...]}."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "body"
        errors.setdefault(path, []).append(error["msg"])
    return errors
