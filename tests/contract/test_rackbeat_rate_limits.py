"""Contract: the client's pacing and its 429 handling against the simulator's rate-limit switches
(`rate_limit_window`: a per-second limit; `rate_limit_retry_after`: 429 without the header)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.clients.http import RateLimited, RetryPolicy
from tests.fixtures.rackbeat_sim import FAST_RETRY, RackbeatSim

# A 429 retried quickly, for longer than `attempts` would allow: the budget must decide.
PATIENT = RetryPolicy(attempts=2, initial_s=0.05, max_s=0.4, jitter_s=0.05, rate_limited_s=10)


async def admitted(sim: RackbeatSim) -> list[float]:
    times: list[float] = (await sim.control.get("admitted")).json()["admitted"]
    return times


async def burst(sim: RackbeatSim, calls: int) -> list[httpx.Response]:
    async with sim.raw() as http:
        return list(await asyncio.gather(*(http.get("self") for _ in range(calls))))


async def spend_the_bucket(sim: RackbeatSim) -> httpx.Response:
    """Call until refused; returns the 429."""
    async with sim.raw() as http:
        for _ in range(100):
            response = await http.get("self")
            if response.status_code == 429:
                return response
    raise AssertionError("the simulator never answered 429")


@pytest.mark.rackbeat_switches(rate_limit_window="second")
async def test_the_client_spreads_its_minute_over_the_minute(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=180)  # 3 per second, no more at once
    client = rackbeat_sim.client(requests_per_minute=120, retry=FAST_RETRY)
    try:
        accounts = await asyncio.gather(*(client.account() for _ in range(8)))
    finally:
        await client.aclose()
    assert {account.id for account in accounts} == {1}
    assert (await rackbeat_sim.requests()).get("429", 0) == 0
    times = await admitted(rackbeat_sim)
    assert len(times) == 8
    # 120/min: 2 at once, then one every 0.5 s; a whole-minute bucket would send all 8 at once.
    assert times[-1] - times[0] >= 2.9

    refused = [r for r in await burst(rackbeat_sim, 16) if r.status_code == 429]
    assert len(refused) >= 4, "calls sent at once are refused by the per-second limit"


@pytest.mark.rackbeat_switches(rate_limit_window="second", rate_limit_retry_after="absent")
async def test_a_429_without_retry_after_is_backed_off_until_it_goes_through(
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=30)  # one every 2 s
    refused = await spend_the_bucket(rackbeat_sim)
    assert "Retry-After" not in refused.headers
    before = (await rackbeat_sim.requests())["429"]
    client = rackbeat_sim.client(requests_per_minute=None, retry=PATIENT)
    try:
        assert (await client.account()).id == 1
    finally:
        await client.aclose()
    assert (await rackbeat_sim.requests())["429"] - before > PATIENT.attempts


@pytest.mark.rackbeat_switches(rate_limit_window="second", rate_limit_retry_after="absent")
async def test_a_create_refused_with_429_is_retried_and_made_once(
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=30)
    await spend_the_bucket(rackbeat_sim)
    before = (await rackbeat_sim.requests())["429"]
    variations = len(rackbeat_sim.state.store.variations)
    client = rackbeat_sim.client(requests_per_minute=None, retry=PATIENT)
    try:
        created = await client.create_variation("Størrelse", {"Størrelse": ["S", "M"]})
    finally:
        await client.aclose()
    assert created.name == "Størrelse"
    assert len(rackbeat_sim.state.store.variations) == variations + 1
    assert (await rackbeat_sim.requests())["429"] - before > PATIENT.attempts


@pytest.mark.rackbeat_switches(rate_limit_window="second", rate_limit_retry_after="absent")
async def test_429s_give_up_once_the_budget_is_spent_without_the_token(
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=1)  # the next token in a minute
    await spend_the_bucket(rackbeat_sim)
    before = (await rackbeat_sim.requests())["429"]
    short = RetryPolicy(attempts=6, initial_s=0.05, max_s=0.1, jitter_s=0.0, rate_limited_s=0.5)
    client = rackbeat_sim.client(requests_per_minute=None, retry=short)
    try:
        with pytest.raises(RateLimited) as caught:
            await client.account()
    finally:
        await client.aclose()
    assert caught.value.retry_after_s is None
    assert (await rackbeat_sim.requests())["429"] - before >= 2  # retried, then gave up
    assert rackbeat_sim.token not in str(caught.value)


@pytest.mark.parametrize("rackbeat_sim", ["evidence", "strict"], indirect=True)
async def test_strict_profile_limits_per_second_and_drops_retry_after(
    rackbeat_sim: RackbeatSim, request: pytest.FixtureRequest
) -> None:
    strict = request.node.callspec.params["rackbeat_sim"] == "strict"
    responses = await burst(rackbeat_sim, 24)  # the default 480/min: 8 a second under strict
    refused = [r for r in responses if r.status_code == 429]
    if strict:
        assert len(refused) >= 4
        assert all("Retry-After" not in r.headers for r in refused)
    else:
        assert refused == []
