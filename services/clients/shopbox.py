"""Typed async client for the Shopbox API v3 (reference/apis.md §2 and the addendum A).

Auth is the `api-token` query parameter (the vendor plugin's way); it never appears in errors
(`ApiError` redacts) or in httpx's request log (redacted by `services.clients.http`).

Money: the API speaks integer øre incl. VAT. Models expose `Decimal` kroner incl. VAT, converted
only by `ore_to_kroner` / `kroner_to_ore`. Uids are read as strings whether the API sends
numbers or strings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from schemas.money import kroner_to_ore, ore_to_kroner
from services.clients.http import ApiClient, RetryPolicy


def _ore_field(value: Any) -> Any:
    return None if value is None else ore_to_kroner(value)


Kroner = Annotated[Decimal, BeforeValidator(_ore_field)]
"""A money field the API sends in øre incl. VAT, held as Decimal kroner incl. VAT."""


def _unix_seconds(value: Any) -> Any:
    """Unix seconds from a number or an ISO 8601 time (a time without a zone is UTC)."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    return int(float(value)) if isinstance(value, float | str) else value


UnixSeconds = Annotated[int, BeforeValidator(_unix_seconds)]
"""A time the API may send as unix seconds (int or float) or as an ISO 8601 string: the read
shapes of Shopbox's timestamps are unconfirmed (docs/api-assumptions.md S1, S10)."""


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


class VarianceValue(_Read):
    name: str | None = None
    variance_type: str | None = None


class ProductVariance(_Read):
    uid: str
    sku_code: str = Field("", validation_alias=AliasChoices("sku_code", "sku"))
    code: str | None = None
    name: str | None = None
    description: str | None = None
    selling_price: Kroner | None = None
    variance_values: list[VarianceValue] = []


class Product(_Read):
    uid: str
    name: str
    sku_code: str = Field("", validation_alias=AliasChoices("sku_code", "sku"))
    code: str | None = None
    description: str | None = None
    selling_price: Kroner | None = None
    stock_price: Kroner | None = None
    tag: str | None = None
    inventory_on_variants: bool = False
    product_variances: list[ProductVariance] = []
    updated_at: UnixSeconds | None = None


class CashRegister(_Read):
    uid: str
    name: str | None = None
    branch: str | None = None


class Branch(_Read):
    uid: str
    name: str
    cash_registers: list[CashRegister] = []


class InventoryRow(_Read):
    """Stock of one product (or variance) in one branch. `uid` is the PRODUCT uid (A4)."""

    uid: str
    product_variance: str | None = None
    sku_code: str | None = None
    quantity: Decimal

    @property
    def product_uid(self) -> str:
        return self.uid


class BasketItem(_Read):
    product: str | None = None
    product_variance: str | None = None
    sku_code: str | None = None
    name: str | None = None
    quantity: Decimal
    selling_price: Kroner = Field(description="unit price incl. VAT")
    discount: Decimal = Decimal(0)
    total: Kroner | None = None


class Payment(_Read):
    type: str | None = None
    amount: Kroner | None = None


BASKET_TIME_KEYS = ("creation_time", "crdate", "created_at", "created")
"""The keys integrators guess for a basket's creation time, the confirmed one first."""


def unix_seconds(value: Any) -> int | None:
    """A time as `UnixSeconds` reads it, or None when it is not one."""
    try:
        return int(_unix_seconds(value))
    except (TypeError, ValueError):
        return None


class Basket(_Read):
    uid: str
    creation_time: UnixSeconds = Field(validation_alias=AliasChoices(*BASKET_TIME_KEYS))
    """The read key is unconfirmed (docs/api-assumptions.md S10): the keys integrators guess,
    unix seconds or an ISO 8601 time."""
    updated_at: UnixSeconds | None = None
    canceled: bool = False
    cash_register: str | None = None
    branch: str | None = None
    external_id: str | None = None
    total: Kroner | None = None
    discount_margin: Decimal | None = Field(None, description="unit UNCONFIRMED (A1)")
    basket_items: list[BasketItem] = Field(
        default_factory=list, validation_alias=AliasChoices("basket_items", "sales")
    )
    payments: list[Payment] = []
    lines_listed: bool = True
    """False when the row had no lines key at all (list rows may carry lines only on the
    detail record; docs/api-assumptions.md S10): the lines must be fetched singly."""

    @model_validator(mode="before")
    @classmethod
    def _note_missing_lines(cls, data: Any) -> Any:
        if isinstance(data, dict) and "basket_items" not in data and "sales" not in data:
            return {**data, "lines_listed": False}
        return data

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.creation_time, tz=UTC)

    @property
    def is_refund(self) -> bool:
        """A refund is a basket whose product lines all have negative quantities (A6)."""
        lines = [item for item in self.basket_items if item.product is not None]
        return bool(lines) and all(item.quantity < 0 for item in lines)


def listing_order(rows: list[Basket]) -> str:
    """ "newest_first", "oldest_first" or "unknown", from one page's creation times."""
    times = [basket.creation_time for basket in rows]
    if len(set(times)) < 2:
        return "unknown"
    if times == sorted(times, reverse=True):
        return "newest_first"
    return "oldest_first" if times == sorted(times) else "unknown"


class VariantUpsert(BaseModel):
    uid: str | None = None
    sku_code: str | None = None
    name: str | None = None
    description: str | None = None
    selling_price: Decimal | None = Field(None, description="kroner incl. VAT")
    code: str | None = None


def _completed(variance: ProductVariance, change: VariantUpsert | None) -> VariantUpsert:
    """A variant with all its fields as read and `change`'s values over them."""
    fields = variance.model_dump(include=set(VariantUpsert.model_fields))
    fields["sku_code"] = variance.sku_code or None  # never write back a SKU that was not read
    return VariantUpsert.model_validate(
        fields | (change.model_dump(exclude_none=True) if change else {})
    )


class ProductUpsert(BaseModel):
    """What `create_or_update_product` writes; money in kroner incl. VAT, None = leave as is."""

    uid: str | None = None
    name: str | None = None
    sku_code: str | None = None
    description: str | None = None
    selling_price: Decimal | None = None
    stock_price: Decimal | None = None
    code: str | None = None
    tag: str | None = None
    variants: list[VariantUpsert] | None = None

    def with_every_variant(self, current: Product) -> ProductUpsert:
        """This update with every variant of `current`, each with all its fields as read and
        this update's values over them, plus the new ones: a partial `variants` list may remove
        the variants left out (docs/api-assumptions.md S3)."""
        if not current.product_variances and self.variants is None:
            return self
        given = {v.uid: v for v in self.variants or [] if v.uid is not None}
        complete = [_completed(v, given.get(v.uid)) for v in current.product_variances]
        known = {variance.uid for variance in current.product_variances}
        others = [v for v in self.variants or [] if v.uid is None or v.uid not in known]
        return self.model_copy(update={"variants": complete + others})

    def to_api(self) -> dict[str, Any]:
        body = _money_to_ore(self.model_dump(exclude_none=True, exclude={"variants"}))
        if self.variants is not None:
            body["variants"] = [
                _money_to_ore(v.model_dump(exclude_none=True)) for v in self.variants
            ]
        return body


def _money_to_ore(fields: dict[str, Any]) -> dict[str, Any]:
    for name in ("selling_price", "stock_price"):
        if name in fields:
            fields[name] = kroner_to_ore(fields[name])
    return fields


M = TypeVar("M", bound=BaseModel)


class ShopboxClient(ApiClient):
    api_name = "Shopbox"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        requests_per_minute: int | None = None,
        timeout_s: float = 15.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(
            base_url,
            params={"api-token": token},
            requests_per_minute=requests_per_minute,
            timeout_s=timeout_s,
            retry=retry or RetryPolicy(),
        )
        self._register_branches: dict[str, str] = {}

    async def __aenter__(self) -> ShopboxClient:
        return self

    # ---- generic paging ---------------------------------------------------------------------

    async def _pages(
        self,
        path: str,
        model: type[M],
        params: Mapping[str, Any],
        *,
        size_param: str = "per-page",
        per_page: int = 100,
    ) -> AsyncIterator[M]:
        """Every row of a list endpoint, page by page. Page 1 is asked without `page`, since
        one integrator saw `GET /baskets?page=1` answer 500 (apis.md §2.1)."""
        page = 1
        while True:
            rows, total_pages = await self._page(path, model, params, page, size_param, per_page)
            for row in rows:
                yield row
            if not rows or page >= total_pages:
                return
            page += 1

    async def _page(
        self,
        path: str,
        model: type[M],
        params: Mapping[str, Any],
        page: int,
        size_param: str = "per-page",
        per_page: int = 100,
    ) -> tuple[list[M], int]:
        """One page of a list endpoint and the number of pages the answer says there are."""
        query = {**params, size_param: per_page}
        if page > 1:
            query["page"] = page
        body = await self._request("GET", path, params=query)
        rows = [model.model_validate(row) for row in body.get("data", [])]
        pagination = body.get("meta", {}).get("pagination", {})
        return rows, int(pagination.get("total_pages", page))

    # ---- products ---------------------------------------------------------------------------

    async def iter_products(
        self, *, updated_since: int | None = None, per_page: int = 100
    ) -> AsyncIterator[Product]:
        """All products; `updated_since` (unix s) is a simulator filter, UNCONFIRMED for real."""
        params = {} if updated_since is None else {"updated_since": updated_since}
        async for product in self._pages("products", Product, params, per_page=per_page):
            yield product

    async def get_product(self, uid: str) -> Product:
        return Product.model_validate(await self._request("GET", f"products/{uid}"))

    async def create_or_update_product(
        self, product: ProductUpsert, *, current: Product | None = None
    ) -> Product:
        """Upsert by uid. A create (no uid) is retried only on 429, never after a 5xx that may
        already have created it; the caller looks it up by SKU before trying again. An update
        sends every variant of the product, completed from `current` (the product as just read;
        read here when not given), since variants left out may be removed."""
        if product.uid is not None:
            product = product.with_every_variant(current or await self.get_product(product.uid))
        body = await self._request(
            "POST",
            "products/create-or-update",
            json=product.to_api(),
            idempotent=product.uid is not None,
        )
        return Product.model_validate(body)

    # ---- branches and stock -----------------------------------------------------------------

    async def find_by_sku(self, sku: str) -> list[Product]:
        """Products whose own SKU is exactly `sku` (the `sku_code` filter is unconfirmed on the
        real API, so the answer is matched again here)."""
        rows, pages = await self._page("products", Product, {"sku_code": sku}, 1, per_page=50)
        if pages > 1 or any(product.sku_code != sku for product in rows):
            # The filter was ignored: only reading every product finds the match.
            return [product async for product in self.iter_products() if product.sku_code == sku]
        return [product for product in rows if product.sku_code == sku]

    async def branches(self) -> list[Branch]:
        return [b async for b in self._pages("branches", Branch, {}, per_page=100)]

    async def get_branch(self, uid: str) -> Branch:
        return Branch.model_validate(await self._request("GET", f"branches/{uid}"))

    async def get_cash_register(self, uid: str) -> CashRegister:
        return CashRegister.model_validate(await self._request("GET", f"cash-registers/{uid}"))

    async def iter_stock(self, branch: str, *, per_page: int = 250) -> AsyncIterator[InventoryRow]:
        params = {"branch": branch}
        async for row in self._pages(
            "product-inventories",
            InventoryRow,
            params,
            size_param="num_per_page",
            per_page=per_page,
        ):
            yield row

    async def stock(self, branch: str) -> list[InventoryRow]:
        return [row async for row in self.iter_stock(branch)]

    async def set_stock(
        self,
        branch: str,
        product: str,
        quantity: Decimal | int,
        *,
        product_variance: str | None = None,
        note: str = "stock from Rackbeat",
    ) -> None:
        """Set the ABSOLUTE stock level of a product or variance in a branch (A4). The answer's
        shape is unknown (docs/api-assumptions.md S9), so any 2xx is success and its body is
        not read: the level written is the one sent."""
        body: dict[str, Any] = {
            "branch": branch,
            "product": product,
            "quantity": float(quantity),
            "note": note,
        }
        if product_variance is not None:
            body["product_variance"] = product_variance
        await self._request("POST", "product-inventories", json=body)

    # ---- baskets (sales) --------------------------------------------------------------------

    async def iter_baskets(
        self, *, since: int | None = None, per_page: int = 50
    ) -> AsyncIterator[Basket]:
        """Baskets created at or after `since` (unix s) when given, each once, in list order.

        Neither the list's order nor its `since` filter is confirmed (docs/api-assumptions.md
        S10), so `since` is applied here too and the order is read off the first page: newest
        first, the walk stops at the first older basket; oldest first, it starts at the last page
        and walks back; an order it cannot tell (one row, equal times), it reads every page.
        Pages shift when sales arrive mid-walk, so a basket listed twice is yielded once.
        """
        params = {} if since is None else {"since": since}
        first, total_pages = await self._page("baskets", Basket, params, 1, per_page=per_page)
        order = listing_order(first)
        seen: set[str] = set()
        async for rows in self._basket_pages(params, first, total_pages, order, per_page):
            fresh = [b for b in rows if since is None or b.creation_time >= since]
            for basket in fresh:
                if basket.uid not in seen:
                    seen.add(basket.uid)
                    yield await self._completed(basket)
            if len(fresh) < len(rows) and order != "unknown":
                return  # every basket on the pages still to read is older still

    async def _basket_pages(
        self,
        params: Mapping[str, Any],
        first: list[Basket],
        total_pages: int,
        order: str,
        per_page: int,
    ) -> AsyncIterator[list[Basket]]:
        """The pages in the order the walk needs: from the last page back when the list is oldest
        first, else forward."""
        if order == "oldest_first":
            for page in range(total_pages, 1, -1):
                yield (await self._page("baskets", Basket, params, page, per_page=per_page))[0]
            yield first
            return
        yield first
        page = 1
        while first and page < total_pages:  # the count can grow while sales arrive
            page += 1
            rows, total_pages = await self._page("baskets", Basket, params, page, per_page=per_page)
            if not rows:
                return
            yield rows

    async def get_basket(self, uid: str) -> Basket:
        basket = Basket.model_validate(await self._request("GET", f"baskets/{uid}"))
        return await self._completed(basket)

    async def _completed(self, basket: Basket) -> Basket:
        """The basket with its lines (fetched singly when the list row had none) and its branch
        (from the register's branch when the basket names none; docs/api-assumptions.md S10)."""
        if not basket.lines_listed:
            basket = Basket.model_validate(await self._request("GET", f"baskets/{basket.uid}"))
        if basket.branch or not basket.cash_register:
            return basket
        branch = await self._branch_of_register(basket.cash_register)
        return basket.model_copy(update={"branch": branch}) if branch else basket

    async def _branch_of_register(self, register: str) -> str | None:
        if register not in self._register_branches:
            for branch in await self.branches():
                detail = branch if branch.cash_registers else await self.get_branch(branch.uid)
                for known in detail.cash_registers:
                    self._register_branches[known.uid] = branch.uid
        return self._register_branches.get(register)
