"""A Rackbeat outage is named: order-writer logs the failing attempts at WARNING with the
status, and /health/ready and /status say "Rackbeat failing since T (N errors ...)" until
Rackbeat answers again; then the sale is written and the service is ready again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.stock_setup import prepare
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually

pytestmark = pytest.mark.covers_profiles


async def test_rackbeat_outage_is_named_in_logs_readiness_and_status(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, items=2)
    env = {k: v for k, v in world.env.items() if k not in ("HTTP_PORT", "STOCK_PUBLIC_URL")}
    await start_service("order-ingest", env=env)
    writer = await start_service("order-writer", env={**env, "RETRY_OUTAGE_BUDGET_S": "120"})
    await rackbeat_sim.set_faults(error_rate=1.0)
    await shopbox_sim.sale(1, [{"product": world.items[0].product, "quantity": 1}])
    seen: dict[str, Any] = {}

    async def named() -> bool:
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"{writer.url}/health/ready")
            status = (await http.get(f"{writer.url}/status")).json()
        seen.update(ready=ready.status_code, reasons=ready.json().get("reasons"), status=status)
        reasons = " ".join(ready.json().get("reasons") or [])
        return ready.status_code == 503 and "Rackbeat failing since" in reasons

    await eventually(named, timeout=20, every=0.3)
    assert "errors, last 500" in seen["reasons"][0], seen
    assert seen["status"]["upstream_failing"][0].startswith("Rackbeat failing since"), seen
    log = writer.log_path.read_text()
    warnings = [line for line in log.splitlines() if "Rackbeat call failed" in line]
    assert warnings and all('"warning"' in w and '"status": 500' in w for w in warnings), warnings
    assert world.rackbeat.token not in log

    await rackbeat_sim.set_faults(error_rate=0.0)

    async def recovered() -> bool:
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"{writer.url}/health/ready")
        return ready.status_code == 200 and bool(rackbeat_sim.state.store.orders)

    await eventually(recovered, timeout=60, every=0.3)
