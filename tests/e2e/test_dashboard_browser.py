"""The dashboard in a real browser: Debian's chromium (infra/scripts/ensure-chromium.sh installs
it; never a browser downloaded by playwright), driven by the Python playwright package, over
order-ingest and order-writer as processes on the real broker and the simulators.

It checks what an operator looks for: the page renders without horizontal scrolling at 1280 and
1920 px, a bad sale record shows up as a dead letter with its re-drive command, the charts of
the sales direction have data, a Rackbeat outage shows Rackbeat as failing, and a killed
order-writer shows as down. Screenshots go to test-artifacts/dashboard/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page, async_playwright

from schemas.topics import Topics
from tests.e2e.sales_harness import build_catalog, publish_bindings, sale_lines, service_env
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import REPO, StartService
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.support import eventually

pytestmark = pytest.mark.covers_profiles

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
HOOK_SECRET = "browser-hook-secret"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The test set-up installs Debian's chromium when it is missing."""
    setup = subprocess.run(
        [str(REPO / "infra/scripts/ensure-chromium.sh")], capture_output=True, text=True
    )
    assert setup.returncode == 0 and CHROMIUM.exists(), setup.stderr
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        # --no-sandbox: the tests run as root in CI, where chromium's sandbox refuses to start.
        launched = await p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def shows(page: Page, url: str, selector: str, timeout: float = 60) -> None:
    """Reload until `selector` is on the page, as an operator waiting for it would."""

    async def found() -> bool:
        await page.goto(url)
        return await page.locator(selector).count() > 0

    await eventually(found, timeout=timeout, every=2)


async def fits(page: Page, width: int) -> None:
    await page.set_viewport_size({"width": width, "height": 1000})
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow} px of horizontal scrolling at {width} px"
    await page.screenshot(path=str(ARTIFACTS / f"overview-{width}.png"), full_page=True)


async def test_dashboard_in_a_real_browser(
    browser: Browser,
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
    dashboard = await start_service(
        "dashboard",
        {
            **env,
            "DASHBOARD_ORDER_INGEST_URL": ingest.url,
            "DASHBOARD_ORDER_WRITER_URL": writer.url,
            # The test reloads by itself; a meta refresh mid-check would abort its navigation.
            "DASHBOARD_REFRESH_S": "600",
        },
    )
    await shopbox_sim.set_webhook(f"{ingest.url}/webhooks/shopbox", HOOK_SECRET)
    rng = random.Random(6)
    for _ in range(10):
        await shopbox_sim.sale(1, sale_lines(rng, catalog.items))
    await bad_sale(kafka_bootstrap, Topics(topic_namespace).sales)

    page = await browser.new_page()
    await page.goto(dashboard.url)
    assert await page.title() == "Sync dashboard: Shopbox ⇄ Rackbeat"
    await shows(page, dashboard.url, "#sales td:has-text('invalid record')")
    assert await page.locator("#sales code:has-text('dlq redrive')").count() == 1
    sales_chart = "#sales figure[data-series='throughput']:not([data-points='0'])"
    await shows(page, dashboard.url, sales_chart)
    assert await page.locator("#sales svg polyline, #sales svg circle").count() > 0
    for width in (1280, 1920):
        await fits(page, width)

    await rackbeat_sim.fail_next(40, status=503)  # an outage while sales keep coming
    await shopbox_sim.sale(1, sale_lines(rng, catalog.items))
    await shows(page, dashboard.url, "[data-upstream='Rackbeat']:has-text('failing')")
    await page.screenshot(path=str(ARTIFACTS / "rackbeat-failing.png"), full_page=True)

    writer.kill()
    await asyncio.sleep(1)
    await shows(page, dashboard.url, "#sales.down td:has-text('unreachable')")
    await page.screenshot(path=str(ARTIFACTS / "order-writer-down.png"), full_page=True)


async def bad_sale(bootstrap: str, topic: str) -> None:
    """A sale record no consumer can decode (order-writer dead-letters it at once)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"type": "SaleCompleted"}', key=b"basket-bad")
    finally:
        await producer.stop()
