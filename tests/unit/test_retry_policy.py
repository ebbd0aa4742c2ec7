"""The per-record retry policy of reliable_subscriber: few tries for a bad record, the outage
budget while an API is down, none for a Permanent failure."""

from __future__ import annotations

import pytest

from services.clients.http import ServerError
from services.common.kafka import Permanent, retrying
from services.common.settings import RetrySettings


def fast(attempts: int, outage_budget_s: float = 900) -> RetrySettings:
    """Backoff of a millisecond or two, so the tests run in no time."""
    return RetrySettings(
        attempts=attempts,
        outage_budget_s=outage_budget_s,
        initial_backoff_s=0.001,
        max_backoff_s=0.002,
    )


class Handler:
    """Fails with `failures` in turn, then succeeds; counts its tries."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.tries = 0

    async def run(self, retry: RetrySettings) -> int:
        async for attempt in retrying(retry):
            with attempt:
                self.tries += 1
                if self.tries <= len(self.failures):
                    raise self.failures[self.tries - 1]
        return self.tries


async def test_a_failure_of_the_record_itself_gives_up_after_the_attempts() -> None:
    handler = Handler([LookupError("no binding")] * 10)
    with pytest.raises(LookupError):
        await handler.run(fast(attempts=3))
    assert handler.tries == 3


async def test_an_api_outage_is_waited_out_far_past_the_attempts() -> None:
    handler = Handler([ServerError("Rackbeat", "POST /orders", 503, "down")] * 40)
    assert await handler.run(fast(attempts=3, outage_budget_s=60)) == 41


async def test_an_outage_longer_than_its_budget_still_ends_in_a_dead_letter() -> None:
    handler = Handler([ServerError("Rackbeat", "POST /orders", 503, "down")] * 10_000)
    with pytest.raises(ServerError):
        await handler.run(fast(attempts=3, outage_budget_s=0.05))
    assert 3 < handler.tries < 10_000


async def test_a_permanent_failure_is_not_retried() -> None:
    handler = Handler([Permanent("422 from Rackbeat")])
    with pytest.raises(Permanent):
        await handler.run(fast(attempts=5))
    assert handler.tries == 1
