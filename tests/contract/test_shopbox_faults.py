"""ShopboxClient under the simulator's faults: 429 with Retry-After, 5xx, latency, and secrets."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

from infra.simulators.common import free_port
from services.clients.http import RateLimited, RetryPolicy, ServerError, TransportError
from services.clients.shopbox import ProductUpsert, ShopboxClient
from tests.fixtures.shopbox_sim import FAST_RETRY, ShopboxSim

pytestmark = pytest.mark.simulators


async def exhaust_rate_limit(sim: ShopboxSim, per_minute: int) -> None:
    """Call until refused: a fixed count of calls leaves a token when the loop is slow."""
    await sim.set_faults(rate_limit_per_minute=per_minute)
    async with httpx.AsyncClient() as http:
        for _ in range(2 * per_minute):
            params = {"api-token": sim.token}
            response = await http.get(f"{sim.api_url}/branches", params=params)
            if response.status_code == 429:
                return
    raise AssertionError("the simulator never answered 429")


@pytest.mark.shopbox_switches(rate_limit_retry_after="sent")
async def test_429_is_retried_after_retry_after(shopbox_sim: ShopboxSim) -> None:
    await exhaust_rate_limit(shopbox_sim, per_minute=60)
    refused = (await shopbox_sim.request_counts())["429"]
    patient = RetryPolicy(attempts=4, initial_s=0.05, max_s=1.0, jitter_s=0.0)
    async with ShopboxClient(shopbox_sim.api_url, shopbox_sim.token, retry=patient) as client:
        started = time.monotonic()
        product = await client.get_product("100001")
        elapsed = time.monotonic() - started
    assert product.uid == "100001"
    assert (await shopbox_sim.request_counts())["429"] > refused
    assert elapsed >= 0.9, "the client must wait the Retry-After (1 s), not hammer"


@pytest.mark.shopbox_switches(rate_limit_retry_after="sent")
async def test_429_without_retries_reports_retry_after(shopbox_sim: ShopboxSim) -> None:
    await exhaust_rate_limit(shopbox_sim, per_minute=60)
    once = RetryPolicy(attempts=1, rate_limited_s=0)
    async with ShopboxClient(shopbox_sim.api_url, shopbox_sim.token, retry=once) as client:
        with pytest.raises(RateLimited) as caught:
            await client.get_product("100001")
    assert caught.value.retry_after_s is not None and caught.value.retry_after_s >= 1


async def test_rate_limit_is_per_token(shopbox_sim: ShopboxSim) -> None:
    await exhaust_rate_limit(shopbox_sim, per_minute=60)
    other = "sbx-second-token"
    shopbox_sim.state.config.tokens = (*shopbox_sim.state.config.tokens, other)
    async with ShopboxClient(shopbox_sim.api_url, other, retry=RetryPolicy(attempts=1)) as client:
        assert (await client.get_product("100001")).uid == "100001"


async def test_5xx_is_retried_until_success(shopbox_sim: ShopboxSim) -> None:
    await shopbox_sim.set_faults(error_rate=0.5)
    stubborn = RetryPolicy(attempts=25, initial_s=0.001, max_s=0.005, jitter_s=0.0)
    async with ShopboxClient(shopbox_sim.api_url, shopbox_sim.token, retry=stubborn) as client:
        products = [await client.get_product(str(100001 + i)) for i in range(30)]
    assert len({p.uid for p in products}) == 30
    assert (await shopbox_sim.request_counts())["500"] > 0


async def test_persistent_5xx_gives_server_error_after_all_attempts(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    await shopbox_sim.set_faults(error_rate=1.0)
    with pytest.raises(ServerError) as caught:
        await shopbox_client.get_product("100001")
    assert (await shopbox_sim.request_counts())["500"] == FAST_RETRY.attempts
    assert shopbox_sim.token not in str(caught.value)


async def test_a_create_is_not_retried_after_a_5xx(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    await shopbox_sim.set_faults(error_rate=1.0)
    with pytest.raises(ServerError):
        await shopbox_client.create_or_update_product(ProductUpsert(name="Ny vare", sku_code="N-1"))
    assert (await shopbox_sim.request_counts())["500"] == 1


async def test_slow_api_times_out_as_transport_error(shopbox_sim: ShopboxSim) -> None:
    await shopbox_sim.set_faults(latency_ms=400)
    impatient = RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02, jitter_s=0.0)
    async with ShopboxClient(
        shopbox_sim.api_url, shopbox_sim.token, timeout_s=0.1, retry=impatient
    ) as client:
        with pytest.raises(TransportError, match="timed out"):
            await client.get_product("100001")


async def test_token_is_absent_from_errors_and_logs(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # a test that configured logging quietened it
    messages: list[str] = []
    for call in (shopbox_client.get_product("1"), shopbox_client.get_basket("1")):
        try:
            await call
        except Exception as exc:
            messages.append(str(exc))
    await shopbox_client.get_product("100001")
    dead_port = f"http://127.0.0.1:{free_port()}/api/v3"
    async with ShopboxClient(dead_port, shopbox_sim.token, retry=RetryPolicy(attempts=1)) as dead:
        with pytest.raises(TransportError) as unreachable:
            await dead.get_product("100001")
    messages.append(str(unreachable.value))
    assert len(messages) == 3
    assert "HTTP Request" in caplog.text, "httpx request log should be captured, redacted"
    for text in [*messages, caplog.text]:
        assert shopbox_sim.token not in text


@pytest.mark.shopbox_switches(rate_limit_window="second", rate_limit_retry_after="absent")
async def test_strict_rate_limit_refuses_a_burst_without_retry_after_and_the_client_paces(
    shopbox_sim: ShopboxSim,
) -> None:
    await shopbox_sim.set_faults(rate_limit_per_minute=180)  # 3 a second, no more at once
    async with httpx.AsyncClient() as http:
        responses = await asyncio.gather(
            *(
                http.get(f"{shopbox_sim.api_url}/branches", params={"api-token": shopbox_sim.token})
                for _ in range(16)
            )
        )
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) >= 4
    assert all("Retry-After" not in r.headers for r in refused)

    await asyncio.sleep(1.0)  # the bucket refills
    before = (await shopbox_sim.request_counts())["429"]
    async with ShopboxClient(
        shopbox_sim.api_url, shopbox_sim.token, requests_per_minute=120, retry=FAST_RETRY
    ) as client:
        products = await asyncio.gather(*(client.get_product("100001") for _ in range(4)))
    assert [p.uid for p in products] == ["100001"] * 4
    assert (await shopbox_sim.request_counts())["429"] == before
