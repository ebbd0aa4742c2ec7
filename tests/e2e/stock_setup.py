"""Shared set-up for the stock-direction e2e tests and benchmark: 50 simple products (and,
when asked, products with variants: one Rackbeat item with a variation, stock per option) on both
simulators with stock in two locations, bindings published on the namespace, stock-publisher as
a process with its webhook registered in the Rackbeat simulator, and the convergence check.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from infra.simulators.common import free_port
from tests.e2e.sales_harness import (
    Catalog,
    CatalogItem,
    build_catalog,
    publish_bindings,
    service_env,
)
from tests.fixtures.shopbox_sim import demo_shop

BRANCH_LOCATIONS = {1: 1, 2: 2}


@dataclass
class StockWorld:
    items: list[CatalogItem]
    shopbox: Any
    rackbeat: Any
    env: dict[str, str]
    url: str

    port: int

    async def start(self, start_service: Any) -> Any:
        """Run stock-publisher on the port its webhook URL names (registered at start)."""
        service = await start_service("stock-publisher", env=self.env, ready=False)
        service.port = self.port
        try:
            await service.wait_ready()
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{service.log_tail()}") from None
        return service

    def rackbeat_figure(self, item: CatalogItem, location: int) -> Decimal:
        option = (item.option_id,) if item.option_id else None
        level = self.rackbeat.state.store.totals(item.rackbeat_item, location=location, key=option)
        return max(Decimal(0), Decimal(level.stock - level.in_order))

    def shopbox_figure(self, item: CatalogItem, branch: int) -> Decimal:
        return Decimal(str(self.shopbox.stock(branch, item.product, item.variant)))

    def differences(self) -> list[str]:
        return [
            f"{item.sku}@{branch}: shopbox {self.shopbox_figure(item, branch)} "
            f"rackbeat {self.rackbeat_figure(item, location)}"
            for item in self.items
            for branch, location in BRANCH_LOCATIONS.items()
            if self.shopbox_figure(item, branch) != self.rackbeat_figure(item, location)
        ]

    async def stock_writes(self) -> int:
        counts = await self.shopbox.request_counts()
        return sum(n for k, n in counts.items() if k.startswith("POST") and "inventor" in k)

    async def status(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            body: dict[str, Any] = (await client.get(f"{self.url}/status")).json()
        return body


async def prepare(
    shopbox: Any,
    rackbeat: Any,
    bootstrap: str,
    namespace: str,
    items: int = 50,
    variant_products: int = 0,
    **extra: str,
) -> StockWorld:
    catalog = build_catalog(demo_shop(), simple=items, variant_products=variant_products)
    await rackbeat.seed({**catalog.rackbeat_seed, "products": seeded_stock(catalog, 20)})
    await rackbeat.set_faults(rate_limit_per_minute=None)
    await publish_bindings(bootstrap, namespace, catalog.items)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(
        namespace,
        shopbox,
        rackbeat,
        "unused-hook-secret",
        **{
            "HTTP_PORT": str(port),
            "STOCK_PUBLIC_URL": url,
            "STOCK_POLL_INTERVAL_S": "1",
            "STOCK_FULL_SWEEP_INTERVAL_S": "15",
            **extra,
        },
    )
    return StockWorld(catalog.items, shopbox, rackbeat, env, url, port)


def seeded_stock(catalog: Catalog, quantity: int) -> list[dict[str, Any]]:
    """The Rackbeat seed's products with `quantity` in both locations, per option for variants."""
    options: dict[str, list[int]] = {}
    for item in catalog.items:
        if item.option_id:
            options.setdefault(item.rackbeat_item, []).append(item.option_id)
    return [
        {
            **p,
            "stock": [
                {"location": loc, "quantity": quantity, **({"option_ids": [o]} if o else {})}
                for loc in (1, 2)
                for o in options.get(p["number"], [None])
            ],
        }
        for p in catalog.rackbeat_seed["products"]
    ]


async def adjust_randomly(
    world: StockWorld, count: int, seed: int = 5, parallel: int = 10
) -> float:
    """`count` stock changes in Rackbeat (each fires inventory.changed); returns when the last
    one was made (time.monotonic)."""
    rng = random.Random(seed)
    changes = [
        (rng.choice(world.items), rng.choice((1, 2)), rng.randint(-3, 4)) for _ in range(count)
    ]
    for start in range(0, count, parallel):
        await asyncio.gather(
            *(change_stock(world, i, loc, q) for i, loc, q in changes[start : start + parallel])
        )
    return time.monotonic()


async def change_stock(world: StockWorld, item: CatalogItem, location: int, quantity: int) -> None:
    """One stock change in Rackbeat (per option for a variant); fires inventory.changed."""
    options = [item.option_id] if item.option_id else []
    await world.rackbeat.stock(item.rackbeat_item, location, quantity=quantity, option_ids=options)


async def converge_time(world: StockWorld, since: float, timeout: float = 30) -> float:
    """Seconds from `since` until Shopbox equals Rackbeat everywhere (fails after timeout)."""
    deadline = since + timeout
    while time.monotonic() < deadline:
        if not world.differences():
            return time.monotonic() - since
        await asyncio.sleep(0.05)
    raise AssertionError(f"not converged after {timeout} s: {world.differences()[:10]}")


@contextlib.asynccontextmanager
async def sampling(world: StockWorld, item: CatalogItem) -> AsyncIterator[list[Decimal]]:
    """Shopbox's figure of `item` at branch 1 every 5 ms while the block runs (a flap shows)."""
    samples: list[Decimal] = []

    async def sample() -> None:
        while True:
            samples.append(world.shopbox_figure(item, 1))
            await asyncio.sleep(0.005)

    task = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
