"""`syncctl drift` as an operator (or cron) runs it: a process against the real Kafka broker and
both simulators over HTTP. A synced world (items and stock copied by the initial sync's own
code, a sale booked and on the ledger) reports nothing and exits 0. Then each cause is staged
once or more (a problem binding, hand edits on either side, a dead-lettered product and sale, a
sale in flight, a sale no path saw, a sale of an unbound product, variant stock) and the report
must name exactly those differences with exactly those labels, and exit 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from domain.items.rules import PriceRules, problem_binding, shopbox_snapshot
from domain.sales.baskets import sale_events
from schemas.topics import Topics, dlq_name
from services.clients.rackbeat import RackbeatClient
from services.clients.shopbox import ShopboxClient
from services.common.bindings import binding_event
from services.common.settings import SyncSettings
from services.item_mapper.pollers import product_event
from services.syncctl.initial_sync import InitialSync
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.shopbox_sim import FAST_RETRY, ShopboxSim
from tests.support import ledger_entry

REPO = Path(__file__).resolve().parents[2]
SKUS = {"BRD-0002", "BRD-0003", "BRD-0004", "BRD-0005", "BRD-0006", "TOJ-0001"}
BRANCHES = {"1": 1, "2": 2}
UNEXPLAINED = "manual-edit-or-missed-event"


class World:
    """Both simulators, the namespace's topics, and ways to put records on them."""

    def __init__(
        self, bootstrap: str, namespace: str, shopbox: ShopboxSim, rackbeat: RackbeatSim
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = Topics(namespace)
        self.shopbox = shopbox
        self.rackbeat = rackbeat
        self.sb = ShopboxClient(shopbox.api_url, shopbox.token, retry=FAST_RETRY)
        self.rb = RackbeatClient(rackbeat.api_url, rackbeat.token, requests_per_minute=None)
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC_NAMESPACE": namespace,
            "SHOPBOX_BASE_URL": shopbox.api_url,
            "SHOPBOX_API_TOKEN": shopbox.token,
            "RACKBEAT_BASE_URL": rackbeat.api_url,
            "RACKBEAT_API_TOKEN": rackbeat.token,
            "RACKBEAT_REQUESTS_PER_MINUTE": "60000",
            "SYNC_BRANCH_LOCATIONS": json.dumps(BRANCHES),
            "SYNC_ITEM_MASTER": "shopbox",
            "COLUMNS": "200",
        }

    async def close(self) -> None:
        await self.producer.stop()
        await self.sb.aclose()
        await self.rb.aclose()

    async def send(
        self, topic: str, key: str, event: BaseModel, headers: dict[str, str] | None = None
    ) -> None:
        await self.producer.send_and_wait(
            topic,
            event.model_dump_json().encode(),
            key=key.encode(),
            headers=[(k, v.encode()) for k, v in (headers or {}).items()],
        )

    async def synced(self) -> None:
        """Items and stock of SKUS copied into Rackbeat by the initial sync's code; bindings."""
        await self.producer.start()
        await self.rackbeat.set_faults(rate_limit_per_minute=None)
        sync = InitialSync(
            self.sb,
            self.rb,
            SyncSettings(branch_locations=BRANCHES),
            PriceRules(Decimal(25)),
            group=1,
            publisher=None,
        )
        products, stock, _ = await sync.load()
        report = await sync.run([p for p in products if p.sku in SKUS], stock)
        assert {o.action for o in report.outcomes} == {"created"}
        for outcome in report.outcomes:
            for binding in outcome.bindings:
                event = binding_event(binding, source="test", causation_id=None)
                await self.send(self.topics.bindings, binding.sku, event)

    async def sell(self, branch: int, sku: str, quantity: int = 1, **extra: Any) -> str:
        basket = await self.shopbox.sale(branch, [{"sku": sku, "quantity": quantity}], **extra)
        return str(basket["uid"])

    async def stream_sale(self, uid: str, dead_letter: str | None = None) -> None:
        """order-ingest's part: the basket's events on the sales stream (and, for a sale
        order-writer gave up on, the dead letter it wrote with its reason)."""
        for event in sale_events(await self.sb.get_basket(uid), source="test"):
            await self.send(self.topics.sales, uid, event)
            if dead_letter:
                headers = {"x-dlq-reason": dead_letter, "x-dlq-origin-topic": self.topics.sales}
                await self.send(dlq_name(self.topics.sales), uid, event, headers)

    async def book(self, uid: str, sku: str, location: int, quantity: int) -> None:
        """order-writer's part: Rackbeat absorbs the sale, then the ledger records it."""
        await self.rackbeat.stock(sku, location, quantity=-quantity)
        await self.send(self.topics.orders_synced, uid, ledger_entry(uid, location))

    async def drift(self, *args: str) -> tuple[int, dict[str, Any], str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.syncctl",
            "drift",
            *args,
            cwd=REPO,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        text = out.decode(errors="replace")
        body = json.loads(text) if "--json" in args else {}
        return process.returncode or 0, body, text + err.decode(errors="replace")


def labels(body: dict[str, Any]) -> Counter[tuple[str, str, str]]:
    return Counter((d["section"], d["subject"], d["cause"]) for d in body["differences"])


async def make_world(
    kafka_bootstrap: str, topic_namespace: str, shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> World:
    world = World(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    await world.synced()
    # A sale fully through the pipeline: in Shopbox, on the stream, booked, on the ledger.
    booked = await world.sell(2, "BRD-0006")
    await world.stream_sale(booked)
    await world.book(booked, "BRD-0006", 2, 1)
    return world


async def test_a_synced_world_reports_no_drift_and_exits_0(
    kafka_bootstrap: str, topic_namespace: str, shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    world = await make_world(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    try:
        code, body, output = await world.drift("--json")
        assert code == 0, output
        assert body["differences"] == []
        assert body["unexplained"] == 0
        # 6 products, 4 of them variants of TOJ-0001: 9 SKUs x 2 branches; the booked basket.
        assert body["checked"] == {"bindings": 9, "products": 6, "stock spots": 18, "baskets": 1}

        code, _, table = await world.drift()
        assert code == 0, table
        assert "no unexplained drift" in table
    finally:
        await world.close()


async def test_negative_stock_copied_by_the_initial_sync_is_reported_not_counted_as_drift(
    kafka_bootstrap: str, topic_namespace: str, shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    await shopbox_sim.set_stock(1, -2, sku="BRD-0002")  # oversold at the till before go-live
    world = await make_world(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    try:
        assert rackbeat_sim.state.store.totals("BRD-0002", location=1).stock == -2
        await shopbox_sim.set_stock(1, 0, sku="BRD-0002")  # what stock-publisher writes back
        code, body, output = await world.drift("--json")
        assert code == 0, output
        assert body["differences"] == []
        assert body["negative_stock"] == [
            {"sku": "BRD-0002", "location": 1, "rackbeat": "-2", "shopbox": "0"}
        ]
        _, _, table = await world.drift()
        assert "negative stock: BRD-0002 at Rackbeat location 1 is -2" in table
    finally:
        await world.close()


async def test_each_cause_is_found_and_labelled_and_the_exit_code_is_1(
    kafka_bootstrap: str, topic_namespace: str, shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    world = await make_world(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    topics = world.topics
    try:
        # unmapped: a binding item-mapper reported with a problem; a sale of an unbound product.
        dup = problem_binding("BRD-0001", "SKU 'BRD-0001' is used by 2 Shopbox items")
        await world.send(
            topics.bindings, dup.sku, binding_event(dup, source="t", causation_id=None)
        )
        unbound = await world.sell(1, "BRD-0007")
        await world.stream_sale(unbound)
        option = next(
            o.id
            for v in rackbeat_sim.state.store.variations.values()
            for t in v.types
            for o in t.options
            if o.name == "S"
        )
        # missed event: a variant's stock changed in Rackbeat and no stock-publisher pushed it.
        await rackbeat_sim.stock("TOJ-0001", 1, quantity=3, option_ids=[option])

        # pending-sales: a sale on the stream that order-writer has not booked yet.
        pending = await world.sell(1, "BRD-0002", 2)
        await world.stream_sale(pending)

        # dead-letter: a sale order-writer gave up on; a product change item-mapper could not
        # apply (the Shopbox price edit never reached Rackbeat).
        dead = await world.sell(2, "BRD-0003")
        await world.stream_sale(dead, dead_letter="ApiError: Rackbeat answered 422 on POST /orders")
        await shopbox_sim.edit_product(sku_code="BRD-0005", selling_price=9900)
        (edited,) = [p async for p in world.sb.iter_products() if p.sku_code == "BRD-0005"]
        event = product_event(shopbox_snapshot(edited), "test")
        reason = {"x-dlq-reason": "Permanent: Rackbeat answered 422 on PUT /products/BRD-0005"}
        await world.send(dlq_name(topics.shopbox_products), edited.uid, event, reason)

        # manual-edit-or-missed-event: hand edits on the side that follows, and a sale that no
        # path (webhook, poll, sweep) put on the stream.
        await rackbeat_sim.edit_product("BRD-0004", name="Renamed by hand")
        await shopbox_sim.set_stock(2, 99, sku="BRD-0005")
        ten_minutes_ago = int(datetime.now(UTC).timestamp()) - 600
        missed = await world.sell(1, "BRD-0004", creation_time=ten_minutes_ago)

        code, body, output = await world.drift("--json")
        assert code == 1, output
        assert labels(body) == Counter(
            {
                ("items", "BRD-0001", "unmapped"): 1,
                ("items", "BRD-0004", UNEXPLAINED): 1,
                ("items", "BRD-0005", "dead-letter"): 1,
                ("stock", "TOJ-0001-S@1", UNEXPLAINED): 1,
                ("stock", "BRD-0002@1", "pending-sales"): 1,
                ("stock", "BRD-0003@2", "dead-letter"): 1,
                ("stock", "BRD-0005@2", UNEXPLAINED): 1,
                ("stock", "BRD-0004@1", UNEXPLAINED): 1,
                ("sales", unbound, "unmapped"): 1,
                ("sales", pending, "pending-sales"): 1,
                ("sales", dead, "dead-letter"): 1,
                ("sales", missed, UNEXPLAINED): 1,
            }
        ), json.dumps(body["differences"], indent=1)
        rows = {(d["section"], d["subject"]): d for d in body["differences"]}
        assert rows[("items", "BRD-0004")]["actual"] == "Renamed by hand"
        assert rows[("items", "BRD-0005")]["field"] == "sales_price"
        assert rows[("items", "BRD-0005")]["expected"] == "79.20"  # 99.00 incl. 25% VAT
        assert "422 on POST /orders" in rows[("sales", dead)]["reason"]
        assert "422 on POST /orders" in rows[("stock", "BRD-0003@2")]["reason"]
        assert rows[("stock", "BRD-0005@2")]["actual"] == "99"
        assert "BRD-0007" in rows[("sales", unbound)]["reason"]
        assert body["unexplained"] == 5
        assert body["summary"]["stock"]["pending-sales"] == 1

        code, _, table = await world.drift()
        assert code == 1
        assert "5 unexplained differences" in table
    finally:
        await world.close()


async def test_a_deleted_bound_item_is_labelled_and_an_api_error_makes_the_report_incomplete(
    kafka_bootstrap: str, topic_namespace: str, shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    world = await make_world(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    try:
        # Deleted by hand in Rackbeat (the simulator's API refuses once stock was registered;
        # Rackbeat's UI can): every per-item read now answers 404.
        del rackbeat_sim.state.store.products["BRD-0004"]
        # And one deleted in Shopbox (its stock rows are gone with it).
        shop = shopbox_sim.state.shop
        (uid,) = [u for u, p in shop.products.items() if p.sku_code == "BRD-0005"]
        del shop.products[uid]
        code, body, output = await world.drift("--json")
        assert code == 0, output
        assert labels(body) == Counter(
            {
                ("items", "BRD-0004", "missing-item"): 1,
                ("stock", "BRD-0004", "missing-item"): 1,
                ("items", "BRD-0005", "missing-item"): 1,
                ("stock", "BRD-0005", "missing-item"): 1,
            }
        ), json.dumps(body["differences"], indent=1)
        rows = {(d["section"], d["subject"]): d for d in body["differences"]}
        assert rows[("stock", "BRD-0004")]["actual"] == "not found in Rackbeat"
        assert rows[("stock", "BRD-0005")]["actual"] == "not found in Shopbox"
        assert body["complete"] is True
        assert body["exit_code"] == 0
        assert body["checked"]["stock spots"] == 14  # the other 7 SKUs x 2 branches

        # Any other API error: an `error` row, the rest still checked, exit code 2.
        await rackbeat_sim.fail_next(1, status=403)
        code, body, output = await world.drift("--json")
        assert code == 2, output
        errors = [d for d in body["differences"] if d["cause"] == "error"]
        assert [(d["section"], d["subject"]) for d in errors] == [("items", "(section)")]
        assert "403" in errors[0]["reason"]
        assert body["complete"] is False
        assert body["checked"]["stock spots"] == 14
        assert ("stock", "BRD-0004", "missing-item") in labels(body)

        await rackbeat_sim.fail_next(1, status=403)
        code, _, table = await world.drift()
        assert code == 2
        assert "incomplete: 1 API errors" in table
        assert "Traceback" not in table
    finally:
        await world.close()
