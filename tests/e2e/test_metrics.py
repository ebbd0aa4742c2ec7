"""`/metrics` of every service, scraped after a little load: 20 sales through order-ingest and
order-writer (real processes, the simulators over HTTP) and one undecodable record on the sales
topic, which must show up as a dead letter. The other services are scraped for their families.
"""

from __future__ import annotations

import random
from collections import defaultdict

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from schemas.topics import Topics
from tests.e2e.sales_harness import build_catalog, publish_bindings, sale_lines, service_env
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.support import eventually

pytestmark = pytest.mark.covers_profiles

HOOK_SECRET = "metrics-hook-secret"
SALES = 20

Samples = dict[str, list[tuple[dict[str, str], float]]]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = defaultdict(list)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name].append((dict(sample.labels), sample.value))
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for found, value in samples.get(name, [])
        if all(found.get(k) == v for k, v in labels.items())
    )


async def test_every_service_exports_sane_metrics_after_a_little_load(
    kafka_bootstrap: str,
    topic_namespace: str,
    group_id: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    catalog = build_catalog(demo_shop())
    await rackbeat_sim.seed(catalog.rackbeat_seed)
    await rackbeat_sim.set_faults(rate_limit_per_minute=None)
    await publish_bindings(kafka_bootstrap, topic_namespace, catalog.items)
    env = service_env(
        topic_namespace, shopbox_sim, rackbeat_sim, HOOK_SECRET, ORDER_WRITER_GROUP_ID=group_id
    )
    ingest = await start_service("order-ingest", env)
    writer = await start_service("order-writer", env)
    others = [
        await start_service(name, env, ready=False)
        for name in ("stock-publisher", "item-mapper", "dashboard")
    ]
    await shopbox_sim.set_webhook(f"{ingest.url}/webhooks/shopbox", HOOK_SECRET)
    rng = random.Random(18)
    for _ in range(SALES):
        await shopbox_sim.sale(rng.choice([1, 2]), sale_lines(rng, catalog.items))
    sales = Topics(topic_namespace).sales
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(sales, b"{not json", key=b"bad")
    finally:
        await producer.stop()

    async def writer_done() -> bool:
        got = await scrape(writer.url)
        return (
            total(got, "sync_sale_to_order_seconds_count") >= SALES
            and total(got, "sync_dead_letters_written_total") >= 1
        )

    await eventually(writer_done, timeout=90, every=0.5)
    written = await scrape(writer.url)
    assert total(written, "sync_dead_letters_written_total", topic=sales) == 1
    assert total(written, "faststream_received_messages_total", handler=sales) >= SALES + 1
    mean = total(written, "sync_sale_to_order_seconds_sum") / total(
        written, "sync_sale_to_order_seconds_count"
    )
    assert 0 < mean < 60, mean
    ok_calls = total(written, "sync_upstream_requests_total", api="Rackbeat", status_class="2xx")
    assert ok_calls >= SALES
    endpoints = {labels["endpoint"] for labels, _ in written["sync_upstream_requests_total"]}
    assert all(not any(ch.isdigit() for ch in e) for e in endpoints), endpoints  # no ids
    assert total(written, "sync_upstream_last_success_timestamp_seconds", api="Rackbeat") > 0

    async def lag_sampled() -> bool:
        got = await scrape(writer.url)
        rows = [
            (lb, v) for lb, v in got.get("sync_consumer_lag_records", []) if lb["topic"] == sales
        ]
        return bool(rows) and all(v == 0 and lb["group"] == group_id for lb, v in rows)

    await eventually(lag_sampled, timeout=40, every=1)

    ingested = await scrape(ingest.url)
    assert total(ingested, "faststream_published_messages_total", destination=sales) >= SALES
    assert total(ingested, "sync_upstream_requests_total", api="Shopbox", status_class="2xx") > 0

    for service in others:  # the shared families and the process collector are there

        async def exported(url: str = service.url) -> bool:
            try:
                got = await scrape(url)
            except httpx.HTTPError:
                return False  # started without waiting for ready: may still be coming up
            return (
                "sync_consumer_lag_sample_failures_total" in got
                and "python_gc_objects_collected_total" in got
            )

        await eventually(exported, timeout=60, every=0.5)
