"""The chaos scenario, shared by tests/e2e/test_chaos.py (CI-sized) and
tests/bench/bench_chaos.py (the long run): the whole pipeline (order-ingest, order-writer,
stock-publisher as processes) on a private broker, under mixed load (sales of simple and variant
items, some refunded, some cancelled, and Rackbeat stock changes), while a random service is
SIGKILLed and restarted every few seconds and the broker is SIGKILLed once and started again.

Afterwards, once every service answers ready again and every consumer group is stable (the
broker has dropped the SIGKILLed members: "whole"), it measures how long until every
basket has its one order (cancels cancelled, refunds their own negative order) and every bound
SKU/branch in Shopbox shows Rackbeat's figure (`StockWorld.differences()`), and then what is
still wrong. Random choices are seeded; what was killed when is printed as it happens.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from domain.sales.orders import order_reference
from infra.simulators.rackbeat.records import Order
from schemas.topics import ensure_topics
from tests.e2e.sales_harness import Catalog, check_orders, orders_by_reference, sale_lines
from tests.e2e.stock_setup import StockWorld, change_stock, converge_time, prepare
from tests.fixtures.kafka import unique
from tests.fixtures.private_broker import PrivateBroker
from tests.fixtures.services import RunningService, Services

HOOK_SECRET = "chaos-hook-secret"
KILLED = ("order-ingest", "order-writer", "stock-publisher")


@dataclass(frozen=True)
class Plan:
    load_s: float
    broker_kill_at_s: float
    sales_per_s: float = 4.0
    stock_changes_per_s: float = 2.0
    refund_share: float = 0.1
    cancel_share: float = 0.06
    kill_every_s: tuple[float, float] = (6.0, 10.0)
    broker_down_s: float = 3.0
    seed: int = 14


@dataclass
class Outcome:
    sales: int = 0
    refunds: int = 0
    cancels: int = 0
    stock_changes: int = 0
    orders: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    stock_wrong: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    ready_after_load_s: float = 0.0
    stable_after_ready_s: float = 0.0
    stock_after_ready_s: float | None = None
    orders_after_whole_s: float | None = None
    stock_after_whole_s: float | None = None
    logs: dict[str, str] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        return {
            "sales": self.sales,
            "refunds": self.refunds,
            "cancels": self.cancels,
            "rackbeat_stock_changes": self.stock_changes,
            "orders": self.orders,
            "lost": len(self.lost),
            "doubled": len(self.doubled),
            "wrong_lines_or_state": len(self.wrong),
            "stock_spots_wrong_at_end": len(self.stock_wrong),
            "service_kills": sum("SIGKILL" in f and "broker" not in f for f in self.faults),
            "broker_kills": sum("SIGKILL broker" in f for f in self.faults),
            "services_ready_after_load_s": round(self.ready_after_load_s, 2),
            "groups_stable_after_ready_s": round(self.stable_after_ready_s, 2),
            "stock_converged_after_ready_s": _figure(self.stock_after_ready_s),
            "orders_complete_after_whole_s": _figure(self.orders_after_whole_s),
            "stock_converged_after_whole_s": _figure(self.stock_after_whole_s),
        }


def _figure(seconds: float | None) -> float:
    return -1.0 if seconds is None else round(seconds, 2)  # -1: never, within the wait


async def run(
    shopbox: Any, rackbeat: Any, broker: PrivateBroker, services: Services, plan: Plan
) -> Outcome:
    """Run the scenario; `broker` is not started yet, `services` starts processes."""
    world, running = await _start(shopbox, rackbeat, broker, services)
    outcome = Outcome()
    began = time.monotonic()
    until = began + plan.load_s

    def note(text: str) -> None:
        line = f"{time.monotonic() - began:6.1f} s  {text}"
        outcome.faults.append(line)
        print(f"chaos: {line}", flush=True)

    await asyncio.gather(
        _sell(shopbox, world, plan, until, outcome),
        _move_stock(world, plan, until, outcome),
        _kill_services(running, plan, until, note),
        _kill_broker(broker, plan, note),
    )
    load_end = time.monotonic()
    for service in running.values():
        await service.wait_ready(timeout=120)
    ready = time.monotonic()
    note("every service ready again")
    await asyncio.sleep(1)  # a restarted consumer joins its group just after it says ready
    await _wait_groups_stable(broker.bootstrap, world.env["KAFKA_TOPIC_NAMESPACE"])
    whole = time.monotonic()
    note("every consumer group stable: the system is whole")
    outcome.ready_after_load_s = ready - load_end
    outcome.stable_after_ready_s = whole - ready
    await _settle(shopbox, rackbeat, world, whole, outcome)
    if outcome.stock_after_whole_s is not None:
        outcome.stock_after_ready_s = outcome.stock_after_whole_s + whole - ready
    outcome.logs = {name: s.log_tail(15) for name, s in running.items()}
    return outcome


async def _start(
    shopbox: Any, rackbeat: Any, broker: PrivateBroker, services: Services
) -> tuple[StockWorld, dict[str, RunningService]]:
    await asyncio.to_thread(broker.up)  # a blocking script: the simulators share this loop
    namespace = unique("chaos") + "."
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await ensure_topics(admin, namespace, partitions=2)
    finally:
        await admin.close()
    world = await prepare(
        shopbox,
        rackbeat,
        broker.bootstrap,
        namespace,
        items=30,
        variant_products=4,
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        # back within seconds of the broker, not the 30 s default cap of the connect backoff
        KAFKA_CONNECT_RETRY_MAX_S="2",
        SHOPBOX_WEBHOOK_SECRET=HOOK_SECRET,
    )
    publisher = await world.start(services.start)
    others = {k: v for k, v in world.env.items() if k not in ("HTTP_PORT", "STOCK_PUBLIC_URL")}
    ingest = await services.start("order-ingest", env=others)
    writer = await services.start("order-writer", env=others)
    await shopbox.set_webhook(f"{ingest.url}/webhooks/shopbox", HOOK_SECRET)
    await converge_time(world, time.monotonic(), timeout=60)  # the start-up sweep
    return world, {"order-ingest": ingest, "order-writer": writer, "stock-publisher": publisher}


async def _paced(rate: float, until: float, step: Callable[[], Awaitable[None]]) -> None:
    """Call `step` `rate` times a second until `until`, on a fixed schedule (a slow call is
    caught up, not shifted)."""
    next_at = time.monotonic()
    while next_at < until:
        await step()
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def _sell(shopbox: Any, world: StockWorld, plan: Plan, until: float, out: Outcome) -> None:
    rng = random.Random(plan.seed)
    open_sales: list[int] = []  # neither refunded nor cancelled yet

    async def step() -> None:
        roll = rng.random()
        if open_sales and roll < plan.refund_share:
            uid = open_sales.pop(rng.randrange(len(open_sales)))
            await shopbox.refund(uid, _refund_lines(rng, shopbox.state.shop.baskets[uid]))
            out.refunds += 1
        elif open_sales and roll < plan.refund_share + plan.cancel_share:
            await shopbox.cancel(open_sales.pop(rng.randrange(len(open_sales))))
            out.cancels += 1
        else:
            basket = await shopbox.sale(rng.choice([1, 2]), sale_lines(rng, world.items))
            open_sales.append(basket["uid"])
            out.sales += 1

    await _paced(plan.sales_per_s, until, step)


def _refund_lines(rng: random.Random, basket: Any) -> list[dict[str, Any]] | None:
    """All of the basket (None) or one unit of its first line."""
    if rng.random() < 0.5:
        return None
    item = basket.items[0]
    line: dict[str, Any] = {"product": item.product, "quantity": 1}
    if item.product_variance is not None:
        line["product_variance"] = item.product_variance
    return [line]


async def _move_stock(world: StockWorld, plan: Plan, until: float, out: Outcome) -> None:
    rng = random.Random(plan.seed + 1)

    async def step() -> None:
        item = rng.choice(world.items)
        await change_stock(world, item, rng.choice((1, 2)), rng.randint(-3, 4))
        out.stock_changes += 1

    await _paced(plan.stock_changes_per_s, until, step)


async def _kill_services(
    running: dict[str, RunningService], plan: Plan, until: float, note: Callable[[str], None]
) -> None:
    rng = random.Random(plan.seed + 2)
    while True:
        at = time.monotonic() + rng.uniform(*plan.kill_every_s)
        if at >= until:
            return
        await asyncio.sleep(at - time.monotonic())
        name = rng.choice(KILLED)
        victim = running[name]
        victim.kill()
        victim.start()  # at once, as a supervisor would; readiness is awaited after the load
        victim.restarts += 1
        note(f"SIGKILL {name}, started again")


async def _kill_broker(broker: PrivateBroker, plan: Plan, note: Callable[[str], None]) -> None:
    await asyncio.sleep(plan.broker_kill_at_s)
    await asyncio.to_thread(broker.kill)
    note("SIGKILL broker")
    await asyncio.sleep(plan.broker_down_s)
    await asyncio.to_thread(broker.up)
    note("broker answers again")


async def _wait_groups_stable(bootstrap: str, namespace: str, timeout: float = 60) -> None:
    """Until every consumer group of the namespace is Stable (or Empty) with one member (each
    service runs one consumer per group here): after a SIGKILL the broker keeps the dead member,
    and the partitions it had, until its session times out, even through a rebalance."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            listed = await admin.list_consumer_groups()
            names = [g[0] if isinstance(g, tuple) else g["group_id"] for g in listed]
            found = {
                name: _state_and_members((await admin.describe_consumer_groups([name]))[0])
                for name in names
                if name.startswith(namespace)
            }
            if all(state in ("Stable", "Empty") and n <= 1 for state, n in found.values()):
                return
            assert time.monotonic() < deadline, f"consumer groups not settled: {found}"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def _state_and_members(description: Any) -> tuple[str, int]:
    """describe_consumer_groups answers a protocol response: (error, id, state, protocol type,
    protocol, members, ...) per group."""
    (group,) = description.groups
    return str(group[2]), len(group[5])


def _cancel_problems(
    baskets: dict[int, Any], orders: dict[int, Order], *, cancel_endpoint: bool
) -> list[str]:
    """A cancelled basket's order is cancelled, every other order is not. Without a cancel
    endpoint no order is cancelled: the void waits in the dead letters for the merchant."""
    by_reference = orders_by_reference(orders)
    problems = []
    for uid, basket in baskets.items():
        for order in by_reference.get(order_reference(str(uid)), []):
            if order.is_cancelled != (basket.canceled and cancel_endpoint):
                problems.append(
                    f"basket {uid}: canceled {basket.canceled}, order {order.number} "
                    f"cancelled {order.is_cancelled}"
                )
    return problems


async def _settle(
    shopbox: Any, rackbeat: Any, world: StockWorld, whole: float, out: Outcome
) -> None:
    baskets = shopbox.state.shop.baskets
    orders = rackbeat.state.store.orders
    endpoint = rackbeat.state.switches["order_cancel"] == "endpoint"
    differing = world.differences()
    print(f"chaos: when whole, {len(differing)} stock spots differ {differing[:4]}", flush=True)

    def orders_complete() -> bool:
        found = orders_by_reference(orders)
        every = all(order_reference(str(uid)) in found for uid in baskets)
        return every and not _cancel_problems(baskets, orders, cancel_endpoint=endpoint)

    out.orders_after_whole_s, out.stock_after_whole_s = await asyncio.gather(
        _seconds_until(orders_complete, whole, timeout=90),
        _seconds_until(lambda: not world.differences(), whole, timeout=90),
    )
    await asyncio.sleep(4)  # a sweep runs every 3 s: a doubled order or a flap shows by now
    found = orders_by_reference(orders)
    counts = {uid: len(found.get(order_reference(str(uid)), [])) for uid in baskets}
    out.lost = [f"basket {uid}" for uid, n in counts.items() if n == 0]
    out.doubled = [f"basket {uid}: {n} orders" for uid, n in counts.items() if n > 1]
    shape = [
        p for p in check_orders(baskets, orders, _catalog_of(world)) if not p.endswith(" orders")
    ]
    out.wrong = shape + _cancel_problems(baskets, orders, cancel_endpoint=endpoint)
    out.orders = len(orders)
    out.stock_wrong = world.differences()


def _catalog_of(world: StockWorld) -> Catalog:
    """What `check_orders` reads of a catalog: its items."""
    return Catalog(items=world.items, rackbeat_seed={})


async def _seconds_until(
    condition: Callable[[], bool], since: float, timeout: float
) -> float | None:
    """Seconds from `since` until `condition()` holds; None if it did not within `timeout`."""
    while time.monotonic() < since + timeout:
        if condition():
            return time.monotonic() - since
        await asyncio.sleep(0.05)
    return None
