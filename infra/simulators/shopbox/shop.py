"""The Shopbox shop the simulator keeps in memory: catalog, branches, stock and baskets.

Plain typed domain logic without HTTP. Money is integer øre incl. VAT, as in the real API
(apis-addendum A1). Quantities are floats, as the API sends them. Every uid is an int from one
counter per kind; the API serialises them as JSON numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.simulators.shopbox.bodies import (
    BasketBody,
    BasketItemBody,
    InventoryBody,
    ProductBody,
    VariantBody,
)


class Problem(Exception):
    """A request the shop refuses; the HTTP layer turns it into a status and a body."""


class NotFoundProblem(Problem):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidProblem(Problem):
    """422 with Laravel-style field errors (`{"basket_items.0.product": ["..."]}`)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Variance:
    uid: int
    product: int
    sku_code: str
    code: str | None
    name: str | None
    description: str | None
    selling_price: int | None
    stock_price: int | None
    variance_values: list[dict[str, Any]]


@dataclass
class Product:
    uid: int
    name: str
    sku_code: str
    code: str | None
    description: str | None
    selling_price: int
    stock_price: int | None
    tag: int | None
    inventory_on_variants: bool
    updated_at: int
    variances: dict[int, Variance] = field(default_factory=dict)


@dataclass
class CashRegister:
    uid: int
    name: str
    branch: int


@dataclass
class Branch:
    uid: int
    name: str
    cash_registers: list[int]


@dataclass
class BasketItem:
    product: int | None
    product_variance: int | None
    sku_code: str | None
    name: str | None
    quantity: float
    selling_price: int
    discount: float

    @property
    def total(self) -> int:
        """Line total in øre: quantity x unit price less `discount` percent (a guess, A5)."""
        return round(self.quantity * self.selling_price * (1 - self.discount / 100))


@dataclass
class Basket:
    uid: int
    creation_time: int
    updated_at: int
    cash_register: int
    branch: int
    items: list[BasketItem]
    discount_margin: int
    payment_type: int | None
    staff: int | None
    external_id: str | None
    order_hash: str | None
    canceled: bool = False

    @property
    def total(self) -> int:
        return sum(item.total for item in self.items) - self.discount_margin


StockKey = tuple[int, int, int | None]
"""(branch uid, product uid, variance uid or None)."""


@dataclass
class Shop:
    """All domain data of one Shopbox client (a shop with its branches)."""

    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    client: dict[str, Any] = field(default_factory=lambda: {"uid": 1, "name": "Simulated shop"})
    products: dict[int, Product] = field(default_factory=dict)
    branches: dict[int, Branch] = field(default_factory=dict)
    registers: dict[int, CashRegister] = field(default_factory=dict)
    tags: dict[int, str] = field(default_factory=dict)
    payment_types: dict[int, str] = field(default_factory=dict)
    stock: dict[StockKey, float] = field(default_factory=dict)
    baskets: dict[int, Basket] = field(default_factory=dict)
    next_product_uid: int = 100001
    next_variance_uid: int = 200001
    next_basket_uid: int = 900001

    # ---- seeding ---------------------------------------------------------------------------

    def load(self, fixture: dict[str, Any]) -> None:
        """Replace everything with a fixture in the `demo_shop.json` format."""
        fresh = Shop(clock=self.clock)
        self.__dict__.update(fresh.__dict__)
        self.client = dict(fixture.get("client") or self.client)
        for branch in fixture.get("branches", []):
            registers = [r["uid"] for r in branch.get("cash_registers", [])]
            self.branches[branch["uid"]] = Branch(branch["uid"], branch["name"], registers)
            for register in branch.get("cash_registers", []):
                self.registers[register["uid"]] = CashRegister(
                    register["uid"], register["name"], branch["uid"]
                )
        self.tags = {t["uid"]: t["name"] for t in fixture.get("tags", [])}
        self.payment_types = {p["uid"]: p["name"] for p in fixture.get("payment_types", [])}
        for raw in fixture.get("products", []):
            self._load_product(raw)
        for row in fixture.get("stock", []):
            key = (row["branch"], row["product"], row.get("product_variance"))
            self.stock[key] = float(row["quantity"])

    def _load_product(self, raw: dict[str, Any]) -> None:
        body = ProductBody.model_validate(raw)
        uid = int(raw["uid"])
        self.next_product_uid = max(self.next_product_uid, uid + 1)
        for variant in body.variants or []:
            if variant.uid:
                self.next_variance_uid = max(self.next_variance_uid, variant.uid + 1)
        self.products[uid] = self._new_product(uid, body)
        self._apply_variants(self.products[uid], body.variants or [], seeding=True)

    # ---- products --------------------------------------------------------------------------

    def product(self, uid: int) -> Product:
        product = self.products.get(uid)
        if product is None:
            raise NotFoundProblem(f"Product {uid} not found")
        return product

    def products_by_sku(self, sku: str) -> list[tuple[Product, Variance | None]]:
        """Every product or variance whose SKU is `sku` (duplicates are possible in Shopbox)."""
        hits: list[tuple[Product, Variance | None]] = []
        for product in self.products.values():
            if product.sku_code == sku:
                hits.append((product, None))
            hits.extend((product, v) for v in product.variances.values() if v.sku_code == sku)
        return hits

    def upsert_product(self, body: ProductBody, *, replace_variants: bool = False) -> Product:
        """`POST /products/create-or-update`: uid null/0 creates, an existing uid updates.
        `replace_variants`: a `variants` list removes the product's variants it leaves out."""
        self._check_tag(body.tag)
        known = self.product(body.uid).variances if body.uid else {}
        for index, variant in enumerate(body.variants or []):
            if variant.uid and variant.uid not in known:
                message = f"Variance {variant.uid} is not on this product"
                raise InvalidProblem({f"variants.{index}.uid": [message]})
        if body.uid:
            product = self.product(body.uid)
            self._update_product(product, body)
            if replace_variants and body.variants is not None:
                named = {variant.uid for variant in body.variants}
                product.variances = {u: v for u, v in product.variances.items() if u in named}
        else:
            missing = {
                name: [f"The {name} field is required."]
                for name in ("name", "selling_price")
                if getattr(body, name) is None
            }
            if missing:
                raise InvalidProblem(missing)
            product = self._new_product(self.next_product_uid, body)
            self.next_product_uid += 1
            self.products[product.uid] = product
        self._apply_variants(product, body.variants or [])
        product.updated_at = self.clock()
        return product

    def _check_tag(self, tag: int | None) -> None:
        if tag is not None and self.tags and tag not in self.tags:
            raise InvalidProblem({"tag": [f"Tag {tag} does not exist"]})

    def _new_product(self, uid: int, body: ProductBody) -> Product:
        return Product(
            uid=uid,
            name=body.name or "",
            sku_code=body.sku_code or "",
            code=body.code,
            description=body.description,
            selling_price=body.selling_price or 0,
            stock_price=body.stock_price,
            tag=body.tag,
            inventory_on_variants=bool(body.inventory_on_variants or body.variants),
            updated_at=self.clock(),
        )

    @staticmethod
    def _update_product(product: Product, body: ProductBody) -> None:
        for name in ("name", "sku_code", "code", "description", "selling_price", "stock_price"):
            value = getattr(body, name)
            if value is not None:
                setattr(product, name, value)
        if body.tag is not None:
            product.tag = body.tag
        if body.inventory_on_variants is not None:
            product.inventory_on_variants = body.inventory_on_variants

    def _apply_variants(
        self, product: Product, variants: Iterable[VariantBody], *, seeding: bool = False
    ) -> None:
        """Upsert variants by uid; variants not named are kept (the plugin always sends all).

        Callers check that a given uid belongs to the product; only seeding brings new uids.
        """
        for body in variants:
            if body.uid and (body.uid in product.variances or seeding):
                variance = product.variances.get(body.uid) or self._new_variance(
                    body.uid, product.uid
                )
            else:
                variance = self._new_variance(self.next_variance_uid, product.uid)
                self.next_variance_uid += 1
            product.variances[variance.uid] = variance
            for name in ("sku_code", "code", "name", "description", "selling_price"):
                value = getattr(body, name)
                if value is not None:
                    setattr(variance, name, value)
            if body.stock_price is not None:
                variance.stock_price = body.stock_price
            values = body.value_list()
            if values is not None:
                variance.variance_values = values

    @staticmethod
    def _new_variance(uid: int, product: int) -> Variance:
        return Variance(uid, product, "", None, None, None, None, None, [])

    # ---- branches and stock ----------------------------------------------------------------

    def branch(self, uid: int) -> Branch:
        branch = self.branches.get(uid)
        if branch is None:
            raise NotFoundProblem(f"Branch {uid} not found")
        return branch

    def register(self, uid: int) -> CashRegister:
        register = self.registers.get(uid)
        if register is None:
            raise NotFoundProblem(f"Cash register {uid} not found")
        return register

    def stock_keys(self, branch: int) -> list[StockKey]:
        """One row per product, or per variance when the product keeps stock on variants."""
        keys: list[StockKey] = []
        for product in self.products.values():
            if product.inventory_on_variants and product.variances:
                keys.extend((branch, product.uid, v) for v in product.variances)
            else:
                keys.append((branch, product.uid, None))
        return keys

    def quantity(self, key: StockKey) -> float:
        return self.stock.get(key, 0.0)

    def set_stock(self, body: InventoryBody) -> StockKey:
        """`POST /product-inventories`: set an ABSOLUTE level (addendum A4)."""
        self.branch(body.branch)
        product = self.product(body.product)
        if body.product_variance is not None and body.product_variance not in product.variances:
            raise InvalidProblem(
                {"product_variance": [f"Variance {body.product_variance} is not on this product"]}
            )
        key = (body.branch, body.product, body.product_variance)
        self.stock[key] = body.quantity
        return key

    # ---- baskets ---------------------------------------------------------------------------

    def basket(self, uid: int) -> Basket:
        basket = self.baskets.get(uid)
        if basket is None:
            raise NotFoundProblem(f"Basket {uid} not found")
        return basket

    def create_basket(self, body: BasketBody) -> Basket:
        """`POST /baskets`: a completed sale (or a refund, with negative quantities)."""
        if body.cash_register not in self.registers:
            raise InvalidProblem(
                {"cash_register": [f"Cash register {body.cash_register} not found"]}
            )
        register = self.registers[body.cash_register]
        items = [self._item(index, item) for index, item in enumerate(body.basket_items)]
        now = self.clock()
        basket = Basket(
            uid=self.next_basket_uid,
            creation_time=body.creation_time or now,
            updated_at=now,
            cash_register=register.uid,
            branch=register.branch,
            items=items,
            discount_margin=round(body.discount_margin),
            payment_type=body.type,
            staff=body.staff,
            external_id=body.external_id,
            order_hash=body.order_hash,
        )
        self.next_basket_uid += 1
        self.baskets[basket.uid] = basket
        self._move_stock(basket, direction=-1)
        return basket

    def _item(self, index: int, body: BasketItemBody) -> BasketItem:
        where = f"basket_items.{index}"
        if body.product is None:  # free-text line such as shipping
            if body.selling_price is None:
                raise InvalidProblem({f"{where}.selling_price": ["Required without a product"]})
            return BasketItem(
                None, None, None, body.name, body.quantity, body.selling_price, body.discount
            )
        product = self.products.get(body.product)
        if product is None:
            raise InvalidProblem({f"{where}.product": [f"Product {body.product} not found"]})
        variance: Variance | None = None
        if body.product_variance is not None:
            variance = product.variances.get(body.product_variance)
            if variance is None:
                raise InvalidProblem(
                    {f"{where}.product_variance": [f"Variance {body.product_variance} not found"]}
                )
        default_price = (variance.selling_price if variance else None) or product.selling_price
        return BasketItem(
            product=product.uid,
            product_variance=variance.uid if variance else None,
            sku_code=variance.sku_code if variance else product.sku_code,
            name=body.name or (variance.name if variance and variance.name else product.name),
            quantity=body.quantity,
            selling_price=body.selling_price if body.selling_price is not None else default_price,
            discount=body.discount,
        )

    def cancel_basket(self, uid: int) -> Basket:
        """`PUT /baskets/{uid}/cancel`: void the sale and put its stock back."""
        basket = self.basket(uid)
        if basket.canceled:
            raise InvalidProblem({"uid": [f"Basket {uid} is already canceled"]})
        basket.canceled = True
        basket.updated_at = self.clock()
        self._move_stock(basket, direction=+1)
        return basket

    def _move_stock(self, basket: Basket, direction: int) -> None:
        for item in basket.items:
            if item.product is None:
                continue
            key = (basket.branch, item.product, item.product_variance)
            self.stock[key] = self.quantity(key) + direction * item.quantity

    def refund_body(
        self, uid: int, lines: list[tuple[int, int | None, float]] | None
    ) -> BasketBody:
        """The body of a refund basket for `uid`: the given (product, variance, qty) or all lines.

        A refund is a new basket with negative quantities and positive unit prices (A6).
        """
        original = self.basket(uid)
        wanted = lines or [
            (i.product, i.product_variance, i.quantity)
            for i in original.items
            if i.product is not None
        ]
        items = []
        for product, variance, quantity in wanted:
            sold = next(
                (
                    i
                    for i in original.items
                    if (i.product, i.product_variance) == (product, variance)
                ),
                None,
            )
            if sold is None:
                raise InvalidProblem(
                    {"lines": [f"Product {product}/{variance} not in basket {uid}"]}
                )
            items.append(
                BasketItemBody(
                    product=product,
                    product_variance=variance,
                    quantity=-abs(quantity),
                    selling_price=sold.selling_price,
                    discount=sold.discount,
                    name=sold.name,
                )
            )
        return BasketBody(
            cash_register=original.cash_register,
            basket_items=items,
            external_id=f"refund-{uid}",
            type=original.payment_type,
        )
