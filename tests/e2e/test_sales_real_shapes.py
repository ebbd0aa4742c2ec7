"""order-ingest against the basket shapes the real Shopbox may have (docs/api-assumptions.md S10),
under the simulator's `evidence` and `strict` profiles: strict list rows carry no lines and
baskets no branch (only the cash register). One unusable basket goes to the dead letters with its
reason while the poll moves on past it."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import Topics, dlq_name
from services.common.dead_letters import DeadLetter, read_dead_letters
from services.common.settings import KafkaSettings
from tests.e2e.sales_harness import service_env
from tests.e2e.test_sales_ingest import sales_records
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually

pytestmark = pytest.mark.covers_profiles


@pytest.mark.parametrize("shopbox_sim", ["evidence", "strict"], indirect=True)
async def test_an_unusable_basket_is_dead_lettered_and_the_poll_moves_on(
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    topic_namespace: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    env = service_env(
        topic_namespace, shopbox_sim, rackbeat_sim, "secret", ORDER_INGEST_SWEEP_INTERVAL_S="600"
    )
    topic = Topics(topic_namespace).sales
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    await start_service("order-ingest", env)
    # A basket discount on lines worth nothing cannot be spread over them: unusable.
    bad = await shopbox_sim.sale(
        1, [{"sku": "BRD-0002", "quantity": 1, "selling_price": 0}], discount_margin=500
    )
    good = [await shopbox_sim.sale(2, [{"sku": "BRD-0002", "quantity": 2}]) for _ in range(3)]

    async def dead_letters() -> list[DeadLetter]:
        return await read_dead_letters(kafka, dlq_name(topic))

    async def published(n: int) -> bool:
        return len(await sales_records(kafka_bootstrap, kafka_admin, topic)) >= n

    await eventually(lambda: published(3), timeout=30, every=0.3)
    await eventually(lambda: _non_empty(dead_letters()), timeout=10, every=0.3)
    events = await sales_records(kafka_bootstrap, kafka_admin, topic)
    assert sorted(e.payload.basket_id for e in events) == sorted(str(b["uid"]) for b in good)
    for event in events:  # lines and branch found even where list rows lack them
        assert event.payload.branch_id == "2"
        assert [line.quantity for line in event.payload.lines] == [2]
    [letter] = await dead_letters()
    assert f"unusable basket {bad['uid']}" in letter.reason
    assert "add up to zero" in letter.reason


async def _non_empty(letters: object) -> bool:
    return bool(await letters)  # type: ignore[misc]
