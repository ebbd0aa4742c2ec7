"""Contract: rate limit (429 + Retry-After), 5xx retries and secrecy of the token."""

from __future__ import annotations

import time

import pytest

from services.clients.http import RateLimited, RetryPolicy, ServerError
from tests.fixtures.rackbeat_sim import RackbeatSim


@pytest.mark.rackbeat_switches(rate_limit_retry_after="sent")
async def test_429_carries_retry_after_and_the_client_waits_it_out(
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=60)
    async with rackbeat_sim.raw() as http:
        for _ in range(100):  # spend the bucket
            response = await http.get("self")
            if response.status_code == 429:
                break
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"message": "Too Many Attempts."}

    limited_before = (await rackbeat_sim.requests())["429"]
    client = rackbeat_sim.client(requests_per_minute=None)
    try:
        started = time.monotonic()
        account = await client.account()
        waited = time.monotonic() - started
    finally:
        await client.aclose()
    assert account.id == 1
    assert (await rackbeat_sim.requests())["429"] > limited_before
    assert waited >= 0.9  # it honoured Retry-After rather than hammering


@pytest.mark.rackbeat_switches(rate_limit_retry_after="sent")
async def test_429_is_raised_when_retries_are_off(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=1)
    off = RetryPolicy(attempts=1, rate_limited_s=0)
    client = rackbeat_sim.client(requests_per_minute=None, retry=off)
    try:
        await client.account()
        with pytest.raises(RateLimited) as caught:
            await client.account()
    finally:
        await client.aclose()
    assert caught.value.retry_after_s == 60


async def test_server_errors_are_retried_until_success(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.fail_next(2, status=503)
    client = rackbeat_sim.client()
    try:
        assert (await client.account()).id == 1
    finally:
        await client.aclose()
    counts = await rackbeat_sim.requests()
    assert counts["503"] == 2
    assert counts["GET /api/self"] == 3  # two answered 503, the third succeeded


async def test_server_errors_surface_after_the_last_attempt(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.fail_next(10)
    client = rackbeat_sim.client()  # 4 attempts
    try:
        with pytest.raises(ServerError) as caught:
            await client.get_product("X")
    finally:
        await client.aclose()
    assert caught.value.status == 500
    assert (await rackbeat_sim.requests())["500"] == 4
    assert rackbeat_sim.token not in str(caught.value)


async def test_random_error_rate_fault_applies(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.set_faults(error_rate=1.0)
    async with rackbeat_sim.raw() as http:
        response = await http.get("self")
        control = await rackbeat_sim.control.get("state")
    assert response.status_code == 500
    assert control.status_code == 200  # faults never touch the control surface


async def test_reset_restores_the_default_rate_limit(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=None, error_rate=0.5)
    await rackbeat_sim.control.post("reset")
    faults = (await rackbeat_sim.control.get("faults")).json()
    assert faults["rate_limit_per_minute"] == 480
    assert faults["error_rate"] == 0
