"""Size x colour end to end: the demo shop's size x colour products after `syncctl initial-sync`
are Rackbeat items with a two-type variation; a sale of one variant becomes one order whose line
picks an option of each type, and a Rackbeat stock change of one combination reaches exactly that
Shopbox variant (order-ingest, order-writer and stock-publisher as processes, real Kafka)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from tests.e2e.sales_harness import service_env
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.integration.test_item_initial_sync import FAST, cli_env, run_cli
from tests.support import eventually

SHOES = "SKO-0001"


def variances_of(sku: str) -> list[dict[str, Any]]:
    product = next(p for p in demo_shop()["products"] if p["sku_code"] == sku)
    variances: list[dict[str, Any]] = product["product_variances"]
    return variances


def combination(rackbeat: RackbeatSim, variance: dict[str, Any]) -> tuple[int, ...]:
    """The Rackbeat options (one per type) named by a Shopbox variance's values."""
    store = rackbeat.state.store
    variation = store.variations[store.products[SHOES].variation_id or -1]
    options = {(t.name, o.name): o.id for t in variation.types for o in t.options}
    return tuple(
        sorted(options[(v["variance_type"], v["name"])] for v in variance["variance_values"])
    )


def available(rackbeat: RackbeatSim, key: tuple[int, ...]) -> Decimal:
    level = rackbeat.state.store.totals(SHOES, location=1, key=key)
    return Decimal(level.stock - level.in_order)


async def test_a_size_x_colour_sale_picks_both_options_and_stock_flows_per_combination(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=FAST)
    code, out = await run_cli(cli_env(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim))
    assert code == 0, out
    store = rackbeat_sim.state.store
    variation = store.variations[store.products[SHOES].variation_id or -1]
    assert sorted(t.name for t in variation.types) == ["Farve", "Størrelse"]
    assert len(variation.variant_keys()) == 8

    env = service_env(topic_namespace, shopbox_sim, rackbeat_sim, "unused")
    for service in ("stock-publisher", "order-ingest", "order-writer"):
        await start_service(service, env=env)
    product = next(p["uid"] for p in demo_shop()["products"] if p["sku_code"] == SHOES)
    before = {v["uid"]: shopbox_sim.stock(1, product, v["uid"]) for v in variances_of(SHOES)}
    sold = next(v for v in variances_of(SHOES) if before[v["uid"]] >= 2)
    changed, *others = [v for v in variances_of(SHOES) if v is not sold]
    sold_key, changed_key = combination(rackbeat_sim, sold), combination(rackbeat_sim, changed)
    assert available(rackbeat_sim, sold_key) == Decimal(str(before[sold["uid"]]))

    # 1. a sale of one variant: one order, its line picks the option of each type
    await shopbox_sim.sale(
        1, [{"product": product, "product_variance": sold["uid"], "quantity": 2}]
    )

    def booked() -> list[Any]:
        return [o for o in store.orders.values() if o.is_booked]

    await eventually(lambda: len(booked()) == 1, timeout=30)
    (line,) = booked()[0].lines
    assert (line.item_number, line.option_ids, line.quantity) == (SHOES, sold_key, 2)
    sold_left = Decimal(str(before[sold["uid"]])) - 2
    await eventually(lambda: available(rackbeat_sim, sold_key) == sold_left, timeout=15)

    # 2. a Rackbeat stock change of another combination reaches exactly that Shopbox variant
    began = time.monotonic()
    await rackbeat_sim.stock(SHOES, 1, quantity=5, option_ids=list(changed_key))
    raised = before[changed["uid"]] + 5
    await eventually(lambda: shopbox_sim.stock(1, product, changed["uid"]) == raised, timeout=20)
    print(f"\nRackbeat -> Shopbox for one combination in {time.monotonic() - began:.1f} s")
    assert shopbox_sim.stock(1, product, sold["uid"]) == before[sold["uid"]] - 2
    assert all(shopbox_sim.stock(1, product, v["uid"]) == before[v["uid"]] for v in others)
    assert len(booked()) == 1
